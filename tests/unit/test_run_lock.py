"""Overlapping runs on one output directory are refused; a dead holder leaves no stale lock,
and the executions it left RUNNING are closed by the next holder."""

import os
import subprocess
import sys
import time

import pytest

from pipeline.run_lock import (
    ORPHAN_PROPERTY,
    RunInProgressError,
    close_orphaned_executions,
    exclusive_run,
    holds_lock,
)

_HOLD = """
import sys, time
from pipeline.run_lock import exclusive_run
with exclusive_run(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInProgressError, match=f"pid.*{holder.pid}"):
            with exclusive_run(str(tmp_path)):
                pass
    finally:
        holder.kill()
        holder.wait()
    # Killed mid-run: the kernel dropped its lock, so the next run goes ahead.
    with exclusive_run(str(tmp_path)):
        assert os.path.exists(tmp_path / ".run.lock")


def test_sequential_runs_each_get_the_lock(tmp_path):
    for _ in range(2):
        with exclusive_run(str(tmp_path)):
            time.sleep(0.01)


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    """The CLI takes it before the heavy imports; run_pipeline takes it again inside."""
    with exclusive_run(str(tmp_path)):
        with exclusive_run(str(tmp_path)):
            assert holds_lock(str(tmp_path))
        assert holds_lock(str(tmp_path))
    assert not holds_lock(str(tmp_path))


def _store_with_a_running_execution(path):
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    )
    store = mlmd.MetadataStore(config)
    type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    states = (metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.COMPLETE)
    ids = store.put_executions(
        [metadata_store_pb2.Execution(type_id=type_id, last_known_state=s) for s in states]
    )
    return store, ids


def test_executions_a_killed_run_left_running_are_closed_by_the_next_holder(tmp_path):
    from ml_metadata.proto import metadata_store_pb2

    metadata = str(tmp_path / "metadata.sqlite")
    store, (running, complete) = _store_with_a_running_execution(metadata)
    with pytest.raises(RuntimeError, match="needs the run lock"):
        close_orphaned_executions(str(tmp_path), metadata)  # without the lock: refused
    with exclusive_run(str(tmp_path)):
        assert close_orphaned_executions(str(tmp_path), metadata) == [running]
        assert close_orphaned_executions(str(tmp_path), metadata) == []  # once
    closed, untouched = store.get_executions_by_id([running, complete])
    assert closed.last_known_state == metadata_store_pb2.Execution.CANCELED
    assert "left RUNNING" in closed.custom_properties[ORPHAN_PROPERTY].string_value
    assert untouched.last_known_state == metadata_store_pb2.Execution.COMPLETE


def test_no_store_yet_means_no_orphans(tmp_path):
    with exclusive_run(str(tmp_path)):
        assert close_orphaned_executions(str(tmp_path), str(tmp_path / "none.sqlite")) == []
