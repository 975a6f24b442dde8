"""Runs the pipeline with LocalDagRunner (SQLite ML Metadata under the output directory)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from typing import Any

from absl import logging
from tfx import v1 as tfx

from pipeline import configs, corpus_layout, run_history, uris
from pipeline.logs import log_path
from pipeline.pipeline import create_pipeline
from pipeline.run_lock import close_orphaned_executions, exclusive_run
from pipeline.run_summary import (
    build_run_summary,
    empty_run_summary,
    latest_run_id,
)

CORPUS_RECORD_FILE = "corpus.json"


class CorpusMismatchError(ValueError):
    """The output directory holds the history of another corpus."""


def claim_output_for_corpus(output_dir: str, data_root: str) -> None:
    """One output directory, one corpus: its spans, models and blessings belong together.

    The Transform and Trainer read every span that AudioExampleGen ever wrote under this
    output, and blessings compare with earlier models, so mixing corpora would train and
    judge on the wrong data. The first run records the corpus; a later one must match it.
    """
    path = os.path.join(output_dir, CORPUS_RECORD_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            recorded = json.load(handle)["data_root"]
        if recorded != data_root:
            raise CorpusMismatchError(
                f"output directory {output_dir!r} holds the runs of corpus {recorded!r}, not "
                f"{data_root!r}: give this corpus its own --output"
            )
        return
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"data_root": data_root}, handle)


# create_pipeline() arguments that run_pipeline derives from its own (paths under the output
# directory, the corpus layout, the default served name) or that its summary depends on.
_RUNNER_ARGUMENTS = frozenset(
    {"pipeline_root", "data_root", "metadata_path", "push_base", "pipeline_name"}
    | {"until", "ingest", "schema_path", "model_name"}
)
_PASSED_THROUGH = frozenset(inspect.signature(create_pipeline).parameters) - _RUNNER_ARGUMENTS


def run_pipeline(
    data_root: str,
    output_dir: str,
    until: str | None = None,
    ingest: configs.IngestConfig | None = None,
    schema_path: str | None = None,
    model_name: str | None = None,
    push_dir: str | None = None,
    run_id: str | None = None,
    **pipeline_kwargs: Any,
) -> dict:
    """Runs through `until` as TFX pipeline run `run_id` (default: a new timestamp); always
    writes <output>/runs/<run id>/run_summary.json and the latest copy <output>/run_summary.json,
    even when a stage fails or the pipeline cannot even be built.

    `pipeline_kwargs` go to create_pipeline() as they are (trainer, train_steps,
    allow_anomalies, evaluation, beam_pipeline_args, enable_cache: its signature is the one
    list of them); the other arguments are the ones this runner resolves first.
    """
    unknown = sorted(set(pipeline_kwargs) - _PASSED_THROUGH)
    if unknown:
        raise TypeError(f"run_pipeline() got unexpected keyword arguments {unknown}")
    train_steps = pipeline_kwargs.get("train_steps", configs.DEFAULT_TRAIN_STEPS)
    if train_steps < 1:
        raise ValueError(f"train_steps must be at least 1, got {train_steps}")
    data_root = uris.absolute(data_root)  # the corpus may be on gs:// for Dataflow
    output_dir = os.path.abspath(output_dir)
    ingest = dataclasses.replace(
        ingest or configs.IngestConfig(), metadata_pattern=corpus_layout.metadata_pattern(data_root)
    )
    os.makedirs(output_dir, exist_ok=True)
    metadata_path = os.path.join(output_dir, configs.METADATA_FILE)
    last = configs.resolve_stage(until)
    planned = list(configs.STAGES[: configs.STAGES.index(last) + 1])

    def build():
        return create_pipeline(
            pipeline_root=os.path.join(output_dir, "pipeline_root"),
            data_root=data_root,
            metadata_path=metadata_path,
            until=last,
            ingest=ingest,
            schema_path=os.path.abspath(schema_path) if schema_path else None,
            model_name=model_name or configs.DEFAULT_MODEL_NAME,
            push_base=uris.absolute(push_dir or os.path.join(output_dir, "serving")),
            **pipeline_kwargs,
        )

    with exclusive_run(output_dir):
        claim_output_for_corpus(output_dir, data_root)
        orphans = close_orphaned_executions(output_dir, metadata_path)
        if orphans:
            logging.warning(
                "closed %d executions a killed run left RUNNING as CANCELED: ids %s",
                len(orphans),
                orphans,
            )
        run_id = run_id or run_history.new_run_id(output_dir)
        return _run_and_summarize(build, metadata_path, planned, output_dir, data_root, run_id)


def _named_run_runner(run_id: str):
    """A LocalDagRunner whose pipeline run id is ours (it would take the time of day), so
    the log file, the run history and ML Metadata's pipeline_run context share one name.
    (The class is looked up at call time: tests replace LocalDagRunner.)"""
    from tfx.dsl.compiler import constants
    from tfx.orchestration.portable import runtime_parameter_utils

    class NamedRunLocalDagRunner(tfx.orchestration.LocalDagRunner):
        def run_with_ir(self, pipeline, run_options=None):
            runtime_parameter_utils.substitute_runtime_parameter(
                pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id}
            )
            return super().run_with_ir(pipeline, run_options=run_options)

    return NamedRunLocalDagRunner()


def _run_and_summarize(build, metadata_path, planned, output_dir, data_root, run_id) -> dict:
    """Builds and runs the DAG; the summary is written whether that succeeds or not, and a
    failure to summarise never hides the run's own error."""
    error, previous_run_id = None, None
    try:
        previous_run_id = latest_run_id(metadata_path, configs.PIPELINE_NAME)
        _named_run_runner(run_id).run(build())
    except Exception as exc:  # the summary records the failure, then the error goes on
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            summary = build_run_summary(
                metadata_path, configs.PIPELINE_NAME, planned, error, previous_run_id
            )
        except Exception as summary_error:  # noqa: BLE001 - the run's error matters more
            logging.exception("cannot read the run back from %s", metadata_path)
            summary = empty_run_summary(configs.PIPELINE_NAME, planned, error)
            summary["summary_error"] = f"{type(summary_error).__name__}: {summary_error}"
        summary["output_dir"] = output_dir
        summary["data_root"] = data_root
        summary["run_id"] = summary.get("run_id") or run_id
        if os.path.exists(log_path(output_dir, run_id)):  # the CLI's; not a library call's
            summary["log_file"] = log_path(output_dir, run_id)
        latest = run_history.record_summary(summary, output_dir, run_id)
        logging.info("run summary: %s", latest)
    return summary
