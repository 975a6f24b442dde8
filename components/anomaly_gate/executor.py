"""AnomalyGate's work: read ExampleValidator's anomalies, refuse to let training start."""

from __future__ import annotations

import os

from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(RuntimeError):
    """The examples broke the schema; training on them would hide the problem."""


def read_anomalies(uri: str, split_names: str) -> dict[str, dict[str, str]]:
    """{split: {feature: description}} from an ExampleAnomalies artifact's directory."""
    found = {}
    for split in artifact_utils.decode_split_names(split_names):
        path = os.path.join(uri, f"Split-{split}", ANOMALIES_FILE)
        if not fileio.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        with fileio.open(path, "rb") as handle:
            anomalies.ParseFromString(handle.read())
        if anomalies.anomaly_info:
            found[split] = {
                name: info.description or info.short_description
                for name, info in sorted(anomalies.anomaly_info.items())
            }
    return found


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        artifact = artifact_utils.get_single_instance(input_dict["anomalies"])
        anomalies = read_anomalies(artifact.uri, artifact.split_names)
        if not anomalies:
            logging.info("AnomalyGate: no anomalies, training may start")
            return
        listing = "; ".join(
            f"{split}: " + ", ".join(f"{name} ({text})" for name, text in features.items())
            for split, features in anomalies.items()
        )
        if exec_properties.get("allow_anomalies"):
            logging.warning("AnomalyGate: anomalies allowed by configuration: %s", listing)
            return
        raise DataAnomaliesError(
            f"data anomalies block training: {listing}. Fix the data, update the saved schema, "
            "or rerun with --allow-anomalies"
        )
