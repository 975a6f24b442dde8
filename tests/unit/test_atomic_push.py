"""AtomicPusher: a push killed mid-copy leaves no version for TF Serving to load, and the
output contract (PushedModel with pushed, pushed_destination, pushed_version) is the stock
Pusher's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from components.atomic_pusher import executor
from serving import versions

# Pushes model_dir into base as version 100, announcing each file it copies and stalling
# on the second one, so that the test can kill it mid-copy.
_SLOW_PUSH = """
import sys, time
from tfx.dsl.io import fileio
from components.atomic_pusher import executor

copy, copied = fileio.copy, []

def slow_copy(src, dst, overwrite=False):
    copied.append(src)
    print("copying", src, flush=True)
    if len(copied) == 2:
        time.sleep(120)
    copy(src, dst, overwrite)

fileio.copy = slow_copy
executor.push_atomically(sys.argv[1], sys.argv[2], "100")
"""


def _model(directory) -> str:
    (directory / "variables").mkdir(parents=True)
    (directory / "assets").mkdir()
    (directory / "variables" / "variables.data-00000-of-00001").write_bytes(b"\0" * 100_000)
    (directory / "variables" / "variables.index").write_bytes(b"index")
    (directory / "assets" / "voice.json").write_text("{}")
    (directory / "saved_model.pb").write_bytes(b"graph")
    return str(directory)


def test_a_push_killed_mid_copy_leaves_no_version_and_the_next_push_is_whole(tmp_path):
    model, base = _model(tmp_path / "model"), str(tmp_path / "serving" / "voice")
    pusher = subprocess.Popen(
        [sys.executable, "-c", _SLOW_PUSH, model, base],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        lines = [pusher.stdout.readline(), pusher.stdout.readline()]
        assert all(line.startswith("copying") for line in lines), lines
    finally:
        pusher.send_signal(signal.SIGKILL)
        pusher.wait()
    # What TF Serving (and serving/versions.py) scan: numbered directories. None is there.
    assert versions.version_dirs(base) == {}
    (partial,) = os.listdir(base)
    assert partial.startswith(executor.PARTIAL_PREFIX)

    pushed = executor.push_atomically(model, base, "101")
    assert pushed == os.path.join(base, "101")
    assert os.listdir(base) == ["101"]  # the dead push's leftovers are gone
    assert versions.fingerprint(pushed) is not None  # saved_model.pb and everything else
    assert sorted(os.listdir(os.path.join(pushed, "variables"))) == [
        "variables.data-00000-of-00001",
        "variables.index",
    ]
    # An existing version is left alone (the stock Pusher's rule).
    assert executor.push_atomically(model, base, "101") == pushed


def test_a_partial_of_a_live_push_is_left_alone(tmp_path):
    base = tmp_path / "base"
    live = base / f"{executor.PARTIAL_PREFIX}5-{os.getpid()}"
    live.mkdir(parents=True)
    assert executor.remove_dead_partials(str(base)) == []
    assert live.exists()


def _artifacts(tmp_path, blessed: bool):
    from tfx.types import standard_artifacts

    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "trainer_model")
    _model(tmp_path / "trainer_model" / "Format-Serving")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed_model")
    return {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]}


@pytest.mark.parametrize("blessed", [True, False])
def test_the_executor_keeps_the_stock_pushers_output_contract(tmp_path, blessed):
    from tfx.proto import pusher_pb2
    from tfx.utils import proto_utils

    base = str(tmp_path / "serving" / "voice")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base)
    )
    inputs, outputs = _artifacts(tmp_path, blessed)
    executor.Executor().Do(
        inputs, outputs, {"push_destination": proto_utils.proto_to_json(destination)}
    )
    pushed = outputs["pushed_model"][0]
    assert pushed.get_int_custom_property("pushed") == int(blessed)
    if not blessed:
        assert not os.path.exists(base)
        return
    destination_dir = pushed.get_string_custom_property("pushed_destination")
    version = pushed.get_string_custom_property("pushed_version")
    assert destination_dir == os.path.join(base, version) and version.isdigit()
    assert sorted(versions.version_dirs(base)) == [int(version)]
    assert os.path.exists(os.path.join(destination_dir, "assets", "voice.json"))
    assert os.path.exists(os.path.join(pushed.uri, "saved_model.pb"))  # the archive copy
    assert json.loads(open(os.path.join(destination_dir, "assets", "voice.json")).read()) == {}
