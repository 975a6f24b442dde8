"""Runs the pipeline with LocalDagRunner (SQLite ML Metadata under the output directory)."""

from __future__ import annotations

import os

from absl import logging
from tfx import v1 as tfx

from pipeline import configs
from pipeline.pipeline import create_pipeline
from pipeline.run_lock import exclusive_run
from pipeline.run_summary import build_run_summary, write_run_summary


class UnusableCorpusError(ValueError):
    """The corpus directory cannot feed a pipeline at all (not a per-row problem)."""


def check_corpus(data_root: str) -> None:
    """Fails before any Beam start-up when the corpus has no metadata file at all."""
    if not os.path.isdir(data_root):
        raise UnusableCorpusError(f"corpus directory {data_root!r} does not exist")
    if not os.path.isfile(os.path.join(data_root, "metadata.csv")):
        raise UnusableCorpusError(
            f"unusable corpus {data_root!r}: no metadata.csv (LJSpeech layout: "
            "metadata.csv with 'id|text|normalized_text' lines and wavs/<id>.wav)"
        )


def run_pipeline(
    data_root: str,
    output_dir: str,
    until: str | None = None,
    ingest: configs.IngestConfig | None = None,
    schema_path: str | None = None,
    trainer: dict | None = None,
    train_steps: int = configs.DEFAULT_TRAIN_STEPS,
    allow_anomalies: bool = False,
    evaluation: configs.EvaluationConfig | None = None,
    model_name: str | None = None,
    push_dir: str | None = None,
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
) -> dict:
    """Runs through `until`; always writes <output>/run_summary.json, even when a stage fails."""
    data_root = os.path.abspath(data_root)
    output_dir = os.path.abspath(output_dir)
    check_corpus(data_root)
    os.makedirs(output_dir, exist_ok=True)
    metadata_path = os.path.join(output_dir, configs.METADATA_FILE)
    last = configs.resolve_stage(until)
    planned = list(configs.STAGES[: configs.STAGES.index(last) + 1])
    pipeline = create_pipeline(
        pipeline_root=os.path.join(output_dir, "pipeline_root"),
        data_root=data_root,
        metadata_path=metadata_path,
        until=last,
        ingest=ingest,
        schema_path=os.path.abspath(schema_path) if schema_path else None,
        trainer=trainer,
        train_steps=train_steps,
        allow_anomalies=allow_anomalies,
        evaluation=evaluation,
        model_name=model_name,
        push_base=os.path.abspath(push_dir or os.path.join(output_dir, "serving")),
        beam_pipeline_args=beam_pipeline_args,
        enable_cache=enable_cache,
    )
    with exclusive_run(output_dir):
        return _run_and_summarize(pipeline, metadata_path, planned, output_dir, data_root)


def _run_and_summarize(pipeline, metadata_path, planned, output_dir, data_root) -> dict:
    """Runs the DAG; the summary is written whether it succeeds or not."""
    error = None
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as exc:  # the summary records the failure, then the error goes on
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = build_run_summary(metadata_path, configs.PIPELINE_NAME, planned, error)
        summary["output_dir"] = output_dir
        summary["data_root"] = data_root
        write_run_summary(summary, os.path.join(output_dir, configs.RUN_SUMMARY_FILE))
        logging.info("run summary: %s", os.path.join(output_dir, configs.RUN_SUMMARY_FILE))
    return summary
