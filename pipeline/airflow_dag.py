"""Airflow DAG: the pipeline on a cron schedule with TFX's AirflowDagRunner, one task per component.

Airflow is imported only in create_dag(); the rest (settings, TFX pipeline) works without it.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline import configs, corpus_layout, uris

if TYPE_CHECKING:
    from airflow.models import DAG
    from tfx.orchestration.pipeline import Pipeline

DEFAULT_SCHEDULE = "0 3 * * *"  # daily at 03:00 (the scheduler's time zone, UTC by default)
DEFAULT_START_DATE = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
DAG_ID = configs.PIPELINE_NAME
ENV_PREFIX = "TTS_"


@dataclasses.dataclass
class AirflowSettings:
    """What the DAG runs; from_env() reads TTS_DATA_ROOT, TTS_OUTPUT_DIR, TTS_SCHEDULE, ..."""

    data_root: str
    output_dir: str
    schedule: str = DEFAULT_SCHEDULE
    start_date: datetime.datetime = DEFAULT_START_DATE
    model: str = configs.DEFAULT_MODEL
    preset: str = "small"
    train_steps: int = configs.DEFAULT_TRAIN_STEPS
    model_name: str = configs.DEFAULT_MODEL_NAME
    push_dir: str | None = None
    beam_pipeline_args: str | None = None
    allow_anomalies: bool = False
    retries: int = 0
    corpus_layout: str = "auto"  # auto: span-N/ batches if the (local) corpus has them
    retrain: str = "warm-start"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AirflowSettings:
        """TTS_<FIELD> for each field (TTS_START_DATE in ISO 8601); the two roots are required."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is None:
                continue
            if field.name in ("train_steps", "retries"):
                values[field.name] = int(raw)
            elif field.name == "allow_anomalies":
                values[field.name] = raw.strip().lower() in ("1", "true", "yes")
            elif field.name == "start_date":
                values[field.name] = datetime.datetime.fromisoformat(raw)
            else:
                values[field.name] = raw
        missing = [
            ENV_PREFIX + name.upper() for name in ("data_root", "output_dir") if name not in values
        ]
        if missing:
            raise ValueError(f"the Airflow DAG needs {' and '.join(missing)} in its environment")
        return cls(**values)


def airflow_dag_config(settings: AirflowSettings) -> dict[str, Any]:
    """Keyword arguments for airflow.models.DAG (Airflow >= 2.4 takes `schedule`)."""
    return {
        "schedule": settings.schedule,
        "start_date": settings.start_date,
        "catchup": False,  # a missed day is not re-run once per missed day
        "max_active_runs": 1,  # two runs never share the output directory
        "default_args": {"retries": settings.retries},
        "tags": ["tfx", "tts"],
    }


def _metadata_pattern(settings: AirflowSettings, data_root: str) -> str:
    if settings.corpus_layout != "auto":
        return corpus_layout.LAYOUTS[settings.corpus_layout]
    # A remote corpus is not listed at DAG parse time: TTS_CORPUS_LAYOUT=spans says so.
    if "://" not in data_root and corpus_layout.span_numbers(data_root):
        return corpus_layout.SPAN_PATTERN
    return corpus_layout.FLAT_PATTERN


def create_airflow_pipeline(settings: AirflowSettings) -> Pipeline:
    """The same DAG as `tts-pipeline run`, with the same layout under the output directory.

    ML Metadata is SQLite under the output directory, so that directory is local (or
    mounted); the corpus and the push directory may be URIs for a distributed Beam runner.
    """
    from pipeline.pipeline import create_pipeline

    output_dir = os.path.abspath(settings.output_dir)
    data_root = uris.absolute(settings.data_root)
    return create_pipeline(
        pipeline_root=os.path.join(output_dir, "pipeline_root"),
        data_root=data_root,
        metadata_path=os.path.join(output_dir, configs.METADATA_FILE),
        ingest=configs.IngestConfig(metadata_pattern=_metadata_pattern(settings, data_root)),
        trainer={
            "model": settings.model,
            "preset": settings.preset,
            "warm_start": configs.warm_start_setting(settings.retrain),
        },
        train_steps=settings.train_steps,
        allow_anomalies=settings.allow_anomalies,
        model_name=settings.model_name,
        push_base=uris.absolute(settings.push_dir or os.path.join(output_dir, "serving")),
        beam_pipeline_args=settings.beam_pipeline_args.split()
        if settings.beam_pipeline_args
        else None,
        pipeline_name=DAG_ID,
    )


def create_dag(settings: AirflowSettings | None = None) -> DAG:
    """Builds the Airflow DAG (imports Airflow); settings default to the environment's."""
    from tfx.orchestration.airflow.airflow_dag_runner import (
        AirflowDagRunner,
        AirflowPipelineConfig,
    )

    settings = settings or AirflowSettings.from_env()
    runner = AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config(settings)))
    return runner.run(create_airflow_pipeline(settings))


# Airflow's DagBag loads a file from its dags folder under a module name of its own and
# collects module-level DAG objects; imported as `pipeline.airflow_dag`, nothing is built.
if __name__ not in ("pipeline.airflow_dag", "__main__"):
    dag = create_dag()
