"""Overlapping runs on one output directory are refused; a dead holder leaves no stale lock."""

import os
import subprocess
import sys
import time

import pytest

from pipeline.run_lock import RunInProgressError, exclusive_run

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
