"""run_summary.json: what each component of the latest run did, read back from ML Metadata.

Operators read one file per run: per component its status (complete, cached, failed, not
run), wall time, output URIs and the figures that matter (examples per split, quarantine
per reason, anomalies, audio throughput).
"""

from __future__ import annotations

import json
import os
from typing import Any

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from components.anomaly_gate.executor import read_anomalies

# Components whose work scales with the audio: their throughput is worth a figure.
_READS_EVERY_EXAMPLE = ("AudioExampleGen", "StatisticsGen", "Transform")

_STATES = {
    metadata_store_pb2.Execution.COMPLETE: "complete",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.NEW: "new",
    metadata_store_pb2.Execution.CANCELED: "canceled",
}


def _props(artifact: metadata_store_pb2.Artifact) -> dict[str, Any]:
    values = {}
    for name, value in artifact.custom_properties.items():
        kind = value.WhichOneof("value")
        if kind in ("int_value", "double_value", "string_value"):
            values[name] = getattr(value, kind)
    return values


def _latest_run_context(store: mlmd.MetadataStore, pipeline_name: str):
    runs = [
        context
        for context in store.get_contexts_by_type("pipeline_run")
        if any(
            parent.name == pipeline_name
            for parent in store.get_parent_contexts_by_context(context.id)
        )
    ] or list(store.get_contexts_by_type("pipeline_run"))
    return max(runs, key=lambda context: context.id) if runs else None


def _node_id(store: mlmd.MetadataStore, execution_id: int, node_type_id: int) -> str:
    """Node contexts are named `<pipeline>.<component id>`."""
    for context in store.get_contexts_by_execution(execution_id):
        if context.type_id == node_type_id:
            return context.name.split(".", 1)[-1]
    return "unknown"


_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)


def _artifacts(store: mlmd.MetadataStore, execution_id: int, event_types) -> dict[str, list]:
    """{input or output key: artifacts} of one execution."""
    by_key: dict[str, list] = {}
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type in event_types]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else "artifact"
        by_key.setdefault(key, []).append(artifacts[event.artifact_id])
    return by_key


def _span(artifact: metadata_store_pb2.Artifact) -> int | None:
    """ExampleGen drivers record the span as a custom property."""
    for values in (artifact.custom_properties, artifact.properties):
        if "span" in values:
            return values["span"].int_value
    return None


def _anomalies(artifact: metadata_store_pb2.Artifact) -> dict[str, Any]:
    """Per split: the features with anomalies and TFDV's description of each."""
    split_names = artifact.properties.get("split_names") or artifact.custom_properties.get(
        "split_names"
    )
    return read_anomalies(artifact.uri, split_names.string_value) if split_names else {}


def _figures(node_id: str, outputs: dict[str, list]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if "examples" in outputs and node_id == "AudioExampleGen":
        props = _props(outputs["examples"][0])
        figures["span"] = _span(outputs["examples"][0])
        figures["examples"] = {
            k.removeprefix("num_examples_"): v
            for k, v in props.items()
            if k.startswith("num_examples_")
        }
        figures["audio_seconds"] = {
            k.removeprefix("audio_seconds_"): round(v, 3)
            for k, v in props.items()
            if k.startswith("audio_seconds_")
        }
    if "quarantine" in outputs:
        quarantine = outputs["quarantine"][0]
        props = _props(quarantine)
        figures["quarantined"] = props.get("total", 0)
        figures["quarantined_by_reason"] = json.loads(props.get("reason_counts", "{}"))
        figures["quarantine_file"] = os.path.join(quarantine.uri, "quarantine.jsonl")
        if "share" in props:
            figures["quarantined_share"] = props["share"]
        if props.get("archive"):
            figures["quarantine_archive"] = props["archive"]  # survives a failed run
    if "anomalies" in outputs:
        anomalies = _anomalies(outputs["anomalies"][0])
        figures["anomalies"] = anomalies
        figures["anomaly_count"] = sum(len(v) for v in anomalies.values())
    if "model_run" in outputs:
        summary_path = os.path.join(outputs["model_run"][0].uri, "training_summary.json")
        if os.path.exists(summary_path):
            with open(summary_path, encoding="utf-8") as handle:
                training = json.load(handle)
            training.pop("history", None)
            figures["training"] = training
            figures["tensorboard_logdir"] = outputs["model_run"][0].uri
    if "model" in outputs:
        figures["serving_model_dir"] = os.path.join(outputs["model"][0].uri, "Format-Serving")
    if "evaluation" in outputs:
        props = _props(outputs["evaluation"][0])
        figures["metrics"] = json.loads(props.get("metrics", "{}"))
        figures["report"] = props.get("report")
    if "blessing" in outputs:
        props = _props(outputs["blessing"][0])
        figures["blessed"] = bool(props.get("blessed", 0))
        figures["blessing_message"] = props.get("blessing_message")
        figures["baseline_model"] = props.get("baseline_model")
    if "pushed_model" in outputs:
        props = _props(outputs["pushed_model"][0])
        figures["pushed"] = bool(props.get("pushed", 0))
        figures["pushed_destination"] = props.get("pushed_destination")
    if "tflite_bundle" in outputs:
        props = _props(outputs["tflite_bundle"][0])
        figures["tflite_status"] = props.get("status")
        figures["tflite_shipped"] = bool(props.get("shipped", 0))
        figures["tflite_bundle_variant"] = props.get("bundle_variant") or None
        figures["tflite_bundle_dir"] = props.get("bundle_dir") or None
        figures["tflite_report"] = props.get("report")
        figures["tflite_variants"] = json.loads(props.get("variants", "{}"))
        if props.get("message"):
            figures["tflite_message"] = props["message"]
    if "schema" in outputs:
        figures["schema_file"] = os.path.join(outputs["schema"][0].uri, "schema.pbtxt")
    return figures


def _read_only_store(metadata_path: str) -> mlmd.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def latest_run_id(metadata_path: str, pipeline_name: str) -> str | None:
    """The id of the latest run recorded at metadata_path; None before the first."""
    if not os.path.exists(metadata_path):
        return None
    run = _latest_run_context(_read_only_store(metadata_path), pipeline_name)
    return run.name if run is not None else None


def build_run_summary(
    metadata_path: str,
    pipeline_name: str,
    planned: list[str],
    error: str | None = None,
    previous_run_id: str | None = None,
) -> dict[str, Any]:
    """The summary of the latest run of `pipeline_name` in the SQLite MLMD at metadata_path.

    A run that failed before its first component (no store yet, or the latest run is still
    `previous_run_id`, the one before this run started) is summarised with nothing run.
    """
    if not os.path.exists(metadata_path):
        return empty_run_summary(pipeline_name, planned, error)
    store = _read_only_store(metadata_path)
    run = _latest_run_context(store, pipeline_name)
    if run is not None and previous_run_id is not None and run.name == previous_run_id:
        return empty_run_summary(pipeline_name, planned, error)
    components: dict[str, Any] = {name: {"status": "not run"} for name in planned}
    resolvers: dict[str, Any] = {}
    if run is not None:
        node_type_id = store.get_context_type("node").id
        for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
            node_id = _node_id(store, execution.id, node_type_id)
            outputs = _artifacts(store, execution.id, _OUTPUT_EVENTS)
            wall_s = (
                execution.last_update_time_since_epoch - execution.create_time_since_epoch
            ) / 1000.0
            entry = {
                "status": _STATES.get(execution.last_known_state, "unknown"),
                "wall_s": round(wall_s, 2),
                "outputs": {key: [a.uri for a in arts] for key, arts in outputs.items()},
            }
            if node_id not in components:  # a Resolver, not a stage
                entry.pop("outputs")
                resolvers[node_id] = entry
                continue
            entry.update(_figures(node_id, outputs))
            if node_id == "Transform":
                # Every span of the corpus, while AudioExampleGen ingested only the newest.
                inputs = _artifacts(store, execution.id, _INPUT_EVENTS)
                entry["spans"] = sorted(_span(a) for a in inputs.get("examples", []))
            components[node_id] = entry
    audio_s = sum(components.get("AudioExampleGen", {}).get("audio_seconds", {}).values())
    for name in _READS_EVERY_EXAMPLE:
        entry = components.get(name, {})
        if entry.get("status") == "complete" and audio_s and entry.get("wall_s"):
            entry["audio_seconds_per_wall_second"] = round(audio_s / entry["wall_s"], 2)
    return {
        "pipeline": pipeline_name,
        "run_id": run.name if run is not None else None,
        "status": "failed" if error else "complete",
        "error": error,
        "components": components,
        "resolvers": resolvers,
    }


def empty_run_summary(
    pipeline_name: str, planned: list[str], error: str | None = None
) -> dict[str, Any]:
    """A run that ran no component (it failed while being built or compiled)."""
    return {
        "pipeline": pipeline_name,
        "run_id": None,
        "status": "failed" if error else "complete",
        "error": error,
        "components": {name: {"status": "not run"} for name in planned},
        "resolvers": {},
    }


def write_run_summary(summary: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, sort_keys=False)
        handle.write("\n")
