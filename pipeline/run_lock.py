"""One run at a time per output directory: an advisory lock that dies with its process.

A scheduler that starts a run while the previous one is still going must get a clear
refusal, not two LocalDagRunners writing one ML Metadata store. flock is released by the
kernel when the holder exits or is killed, so a crashed run never leaves a stale lock; what
it leaves in ML Metadata (executions still RUNNING) the next holder closes as CANCELED.
Standard library only at import: the CLI takes the lock before TFX is imported.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os

LOCK_FILE = ".run.lock"
ORPHAN_PROPERTY = "closed_as_orphan"  # custom property on the executions closed here

_held: dict[str, int] = {}  # output dir (real path) -> nesting depth in this process


class RunInProgressError(RuntimeError):
    """Another run holds the output directory."""


@contextlib.contextmanager
def exclusive_run(output_dir: str):
    """Holds <output_dir>/.run.lock; re-entrant within one process (the CLI takes it before
    the heavy imports, run_pipeline takes it again)."""
    os.makedirs(output_dir, exist_ok=True)
    key = os.path.realpath(output_dir)
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    path = os.path.join(output_dir, LOCK_FILE)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "an unknown process"
            raise RunInProgressError(
                f"another run is using {output_dir!r} ({holder}); wait for it to finish "
                "or use another --output"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        handle.write(json.dumps({"pid": os.getpid(), "started": started}))
        handle.flush()
        _held[key] = 1
        try:
            yield
        finally:
            _held.pop(key, None)
    finally:
        handle.close()  # closing releases the lock


def holds_lock(output_dir: str) -> bool:
    """Whether this process holds the run lock of `output_dir`."""
    return bool(_held.get(os.path.realpath(output_dir)))


def close_orphaned_executions(output_dir: str, metadata_path: str) -> list[int]:
    """Marks as CANCELED the executions that a killed run left RUNNING; returns their ids.

    Only the lock holder may call this: holding the lock proves that no live run owns those
    executions (the kernel released the previous holder's lock when it died).
    """
    if not holds_lock(output_dir):
        raise RuntimeError(f"closing orphaned executions needs the run lock of {output_dir!r}")
    if not os.path.exists(metadata_path):
        return []
    import ml_metadata as mlmd  # after the lock: the CLI's fast checks do not pay for it
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    store = mlmd.MetadataStore(config)
    running = [
        execution
        for execution in store.get_executions()
        if execution.last_known_state == metadata_store_pb2.Execution.RUNNING
    ]
    previous = "a run that ended without closing it (killed or crashed)"
    for execution in running:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
        execution.custom_properties[
            ORPHAN_PROPERTY
        ].string_value = f"left RUNNING by {previous}; closed by the run of pid {os.getpid()}"
    if running:
        store.put_executions(running)
    return [execution.id for execution in running]
