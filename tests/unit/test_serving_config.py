"""TF Serving's config files (the ones in serving/deploy), version dirs and version policies."""

import os

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import config, versions

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "serving", "deploy")


def _deploy(name: str) -> str:
    return os.path.join(DEPLOY, name)


def test_deploy_files_parse_with_tf_serving_messages():
    models = config.load_model_server_config(_deploy("models.config"))
    config.validate_model_server_config(models)
    (voice,) = models.model_config_list.config
    assert (voice.name, voice.base_path, voice.model_platform) == (
        "voice",
        "/models/voice",
        "tensorflow",
    )
    assert voice.model_version_policy.latest.num_versions == 1
    batching = config.load_batching_options(_deploy("batching_parameters.txt"))
    assert (batching.max_batch_size, batching.batch_timeout_micros) == (8, 0)
    monitoring = config.load_monitoring_options(_deploy("monitoring.config"))
    assert monitoring.prometheus_enabled
    assert monitoring.prometheus_path == "/monitoring/prometheus/metrics"


def test_container_configs_mount_the_push_dir_and_pass_tf_serving_flags():
    compose = yaml.safe_load(open(_deploy("docker-compose.yml")))["services"]["tf-serving"]
    assert compose["image"].startswith("tensorflow/serving:")
    assert any(v.endswith(":/models:ro") for v in compose["volumes"])
    deployment, service = yaml.safe_load_all(open(_deploy("kubernetes.yaml")))
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == compose["command"]
    assert {"mountPath": "/models", "name": "push", "readOnly": True} in container["volumeMounts"]
    kustomization = yaml.safe_load(open(_deploy("kustomization.yaml")))
    files = kustomization["configMapGenerator"][0]["files"]
    for flag in container["args"]:
        if flag.startswith(("--model_config_file=", "--batching", "--monitoring")):
            assert os.path.basename(flag.split("=", 1)[1]) in files


def _models(text: str) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'model_config_list { config { name: "a" base_path: "/x" model_platform: "tensorflow" }'
            ' config { name: "a" base_path: "/y" model_platform: "tensorflow" } }',
            "Illegal to list model a multiple times in config list",
        ),
        (
            'model_config_list { config { name: "a" base_path: "rel" '
            'model_platform: "tensorflow" } }',
            "Expected model a to have an absolute path or URI; got base_path()=rel",
        ),
        (
            'model_config_list { config { name: "a" base_path: "/x" model_platform: "onnx" } }',
            "PlatformConfigMap has no entry for platform onnx",
        ),
        (
            'model_config_list { config { name: "a" base_path: "/x" } }',
            "Illegal setting neither ModelServerConfig::model_type",
        ),
    ],
)
def test_bad_model_configs(text, message):
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.validate_model_server_config(_models(text))


def test_unreadable_and_bad_files_name_the_file(tmp_path):
    bad = tmp_path / "models.config"
    bad.write_text("model_config_list { nonsense: 1 }")
    with pytest.raises(config.ConfigError, match="models.config"):
        config.load_model_server_config(str(bad))
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load_monitoring_options(str(tmp_path / "missing"))


def test_batching_defaults_and_checks(tmp_path):
    defaults = config.load_batching_options(None)
    assert (
        defaults.max_batch_size,
        defaults.batch_timeout_micros,
        defaults.max_enqueued_batches,
    ) == (
        1000,
        0,
        10,
    )
    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 8 } allowed_batch_sizes: 4 allowed_batch_sizes: 6")
    with pytest.raises(config.ConfigError, match="must equal max_batch_size"):
        config.load_batching_options(str(params))


def test_remap_base_paths():
    models = _models('model_config_list { config { name: "v" base_path: "/models/v" } }')
    config.remap_base_paths(models, [("/models", "/srv/push")])
    assert models.model_config_list.config[0].base_path == "/srv/push/v"


def _write_version(base, version: int, complete: bool = True) -> str:
    path = base / str(version)
    (path / "variables").mkdir(parents=True, exist_ok=True)
    (path / "variables" / "variables.index").write_bytes(b"index")
    if complete:
        (path / "saved_model.pb").write_bytes(b"graph")
    return str(path)


def test_only_numbered_dirs_are_versions(tmp_path):
    _write_version(tmp_path, 3)
    _write_version(tmp_path, 12)
    (tmp_path / "tmp-13").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert sorted(versions.version_dirs(str(tmp_path))) == [3, 12]
    with pytest.raises(FileNotFoundError):
        versions.version_dirs(str(tmp_path / "missing"))


def test_a_version_is_complete_after_a_stable_scan_with_saved_model_pb(tmp_path):
    tracker = versions.CompletenessTracker()
    _write_version(tmp_path, 1, complete=False)
    dirs = versions.version_dirs(str(tmp_path))
    assert tracker.scan("m", dirs) == {} and tracker.scan("m", dirs) == {}  # no saved_model.pb
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"gra")
    assert tracker.scan("m", dirs) == {}  # first sight
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"graph")  # still being written
    assert tracker.scan("m", dirs) == {}
    assert list(tracker.scan("m", dirs)) == [1]  # unchanged for a cycle


def test_version_policies():
    policy = versions.VersionPolicy()
    assert versions.aspired_versions(policy, [1, 5, 3]) == {5}
    policy.latest.num_versions = 2
    assert versions.aspired_versions(policy, [1, 5, 3]) == {5, 3}
    policy.all.SetInParent()
    assert versions.aspired_versions(policy, [1, 5, 3]) == {1, 3, 5}
    policy.specific.versions.extend([1, 7])
    assert versions.aspired_versions(policy, [1, 5, 3]) == {1}
