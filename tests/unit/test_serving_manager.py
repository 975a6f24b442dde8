"""Version lifecycle with a stand-in loader: swap without a gap, failed loads, policies, labels."""

import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.config import ConfigError
from serving.errors import ServingError
from serving.manager import ModelManager


class FakeServable:
    def __init__(self, name: str, version: int, path: str):
        self.name, self.version, self.path = name, version, path
        self.in_flight = 0
        self.closed = False

    def acquire(self) -> bool:
        if self.closed:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1

    def close(self) -> None:
        self.closed = True


def _loader(name, version, path):
    import os

    if os.path.exists(os.path.join(path, "broken")):
        raise ValueError(f"cannot parse {path}/saved_model.pb")
    return FakeServable(name, version, path)


def _write(base, version: int, broken: bool = False) -> None:
    path = base / str(version)
    path.mkdir(parents=True, exist_ok=True)
    (path / "saved_model.pb").write_bytes(b"graph")
    if broken:
        (path / "broken").write_text("x")


def _manager(base, policy: str = "", labels: str = "", **kwargs) -> ModelManager:
    text = (
        f'model_config_list {{ config {{ name: "voice" base_path: "{base}" '
        f'model_platform: "tensorflow" {policy} {labels} }} }}'
    )
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    return ModelManager(config, _loader, poll_wait_s=0, settle_s=0, **kwargs)


def _spec(**kwargs) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=kwargs.pop("name", "voice"))
    if "version" in kwargs:
        spec.version.value = kwargs["version"]
    if "label" in kwargs:
        spec.version_label = kwargs["label"]
    return spec


def _served(manager, **kwargs) -> int:
    with manager.servable(_spec(**kwargs)) as servable:
        return servable.version


def _states(manager) -> dict:
    return {s.version: (s.state, s.error_code) for s in manager.version_states("voice")}


def _error(call) -> ServingError:
    with pytest.raises(ServingError) as caught:
        call()
    return caught.value


def test_new_version_replaces_old_without_a_gap(tmp_path):
    _write(tmp_path, 1)
    manager = _manager(tmp_path)
    manager.start()
    assert _served(manager) == 1
    (tmp_path / "2").mkdir()  # half written: no saved_model.pb yet
    manager.poll_once()
    manager.poll_once()
    assert _served(manager) == 1 and 2 not in _states(manager)
    _write(tmp_path, 2)
    manager.poll_once()  # first sight of the finished dir: v1 still serves
    assert _served(manager) == 1
    with manager.servable(_spec()) as held:
        manager.poll_once()  # v2 loads, then v1 unloads
        assert held.version == 1  # a request that holds v1 keeps it
    assert _served(manager) == 2
    assert _states(manager) == {2: ("AVAILABLE", "OK"), 1: ("END", "OK")}
    assert [s.version for s in manager.version_states("voice")] == [2, 1]  # newest first


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(tmp_path):
    _write(tmp_path, 1)
    manager = _manager(tmp_path, max_num_load_retries=0)
    manager.start()
    _write(tmp_path, 2, broken=True)
    manager.poll_once()
    manager.poll_once()
    assert _states(manager) == {2: ("END", "UNKNOWN"), 1: ("AVAILABLE", "OK")}
    assert "cannot parse" in manager.version_states("voice", 2)[0].error_message
    manager.poll_once()
    assert _served(manager) == 1
    (tmp_path / "2" / "broken").unlink()  # fixed in place: the changed dir is tried again
    manager.poll_once()
    manager.poll_once()
    assert _served(manager) == 2


def test_policies_all_and_specific(tmp_path):
    for version in (1, 2, 3):
        _write(tmp_path, version)
    manager = _manager(tmp_path, "model_version_policy { all {} }")
    manager.start()
    assert [_served(manager, version=v) for v in (1, 2, 3)] == [1, 2, 3]
    manager = _manager(tmp_path, "model_version_policy { specific { versions: 2 } }")
    manager.start()
    assert _served(manager) == 2
    assert _error(lambda: _served(manager, version=3)).message == (
        "Servable not found for request: Specific(voice, 3)"
    )


def test_labels(tmp_path):
    for version in (1, 2):
        _write(tmp_path, version)
    policy = "model_version_policy { latest { num_versions: 2 } }"
    labels = 'version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 }'
    manager = _manager(tmp_path, policy, labels)
    manager.start()
    assert (_served(manager, label="stable"), _served(manager, label="canary")) == (1, 2)
    error = _error(lambda: _served(manager, label="beta"))
    assert (error.code_name, error.message) == (
        "INVALID_ARGUMENT",
        "Unrecognized servable version label: beta",
    )
    ahead = _manager(tmp_path, policy, 'version_labels { key: "next" value: 3 }')
    with pytest.raises(ConfigError, match="version 3 of model voice, which is not currently"):
        ahead.start()
    allowed = _manager(
        tmp_path,
        policy,
        'version_labels { key: "next" value: 3 }',
        allow_version_labels_for_unavailable_models=True,
    )
    allowed.start()
    assert _error(lambda: _served(allowed, label="next")).code_name == "NOT_FOUND"


def test_not_found_messages(tmp_path):
    _write(tmp_path, 1)
    manager = _manager(tmp_path)
    manager.start()
    assert _error(lambda: _served(manager, name="nope")).message == (
        "Servable not found for request: Latest(nope)"
    )
    assert _error(lambda: _served(manager, name="")).message == "ModelSpec has no name specified."
    assert _error(lambda: manager.version_states("nope")).message == (
        "Could not find any versions of model nope"
    )
    assert _error(lambda: manager.version_states("voice", 7)).message == (
        "Could not find version 7 of model voice"
    )


def test_missing_base_path_and_config_reload(tmp_path):
    manager = _manager(tmp_path / "not-yet")
    manager.start()
    assert _error(lambda: _served(manager)).code_name == "NOT_FOUND"
    other = tmp_path / "other"
    _write(other, 4)
    config = text_format.Parse(
        f'model_config_list {{ config {{ name: "other" base_path: "{other}" '
        'model_platform: "tensorflow" } }',
        model_server_config_pb2.ModelServerConfig(),
    )
    manager.reload_config(config)
    assert _served(manager, name="other") == 4
    assert manager.model_names() == ["other"]
    manager.stop()
    assert manager.version_states("other")[0].state == "END"
