"""One run at a time per output directory: an advisory lock that dies with its process.

A scheduler that starts a run while the previous one is still going must get a clear
refusal, not two LocalDagRunners writing one ML Metadata store. flock is released by the
kernel when the holder exits or is killed, so a crashed run never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os

LOCK_FILE = ".run.lock"


class RunInProgressError(RuntimeError):
    """Another run holds the output directory."""


@contextlib.contextmanager
def exclusive_run(output_dir: str):
    os.makedirs(output_dir, exist_ok=True)
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
        yield
    finally:
        handle.close()  # closing releases the lock
