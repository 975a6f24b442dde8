"""AnomalyGate: real anomaly files from TFDV block training unless explicitly allowed."""

import os

import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx.types import standard_artifacts

from components.anomaly_gate.executor import DataAnomaliesError, Executor, read_anomalies


def _anomalies_artifact(tmp_path, sample_rate: int):
    """ExampleValidator's output for a train split whose sample rate left the schema's domain."""
    schema = text_format.Parse(
        'feature { name: "source_sample_rate" type: INT int_domain { min: 22050 max: 22050 } }',
        schema_pb2.Schema(),
    )
    stats = text_format.Parse(
        f"""datasets {{ num_examples: 4 features {{
              path {{ step: "source_sample_rate" }} type: INT
              num_stats {{ common_stats {{ num_non_missing: 4 min_num_values: 1
                max_num_values: 1 avg_num_values: 1 tot_num_values: 4 }}
                min: {sample_rate} max: {sample_rate} }} }} }}""",
        statistics_pb2.DatasetFeatureStatisticsList(),
    )
    anomalies = tfdv.validate_statistics(stats, schema)
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path)
    artifact.split_names = '["train"]'
    os.makedirs(tmp_path / "Split-train")
    (tmp_path / "Split-train" / "SchemaDiff.pb").write_bytes(anomalies.SerializeToString())
    return artifact


def test_clean_data_passes(tmp_path):
    artifact = _anomalies_artifact(tmp_path, 22050)
    assert read_anomalies(artifact.uri, artifact.split_names) == {}
    Executor().Do({"anomalies": [artifact]}, {}, {"allow_anomalies": 0})


def test_drift_blocks_training_and_names_the_feature(tmp_path):
    artifact = _anomalies_artifact(tmp_path, 16000)
    found = read_anomalies(artifact.uri, artifact.split_names)
    assert list(found["train"]) == ["source_sample_rate"]
    with pytest.raises(DataAnomaliesError, match="source_sample_rate"):
        Executor().Do({"anomalies": [artifact]}, {}, {"allow_anomalies": 0})


def test_allowing_anomalies_lets_training_start(tmp_path):
    artifact = _anomalies_artifact(tmp_path, 16000)
    Executor().Do({"anomalies": [artifact]}, {}, {"allow_anomalies": 1})
