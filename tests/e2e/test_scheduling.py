"""Safe under a scheduler: an overlapping run is refused, and a run killed mid-way resumes
from the last completed component instead of redoing it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import configs
from tests.corpus_factory import MAX_QUARANTINED_SHARE

pytestmark = pytest.mark.e2e

CLI = os.path.join(os.path.dirname(sys.executable), "tts-pipeline")


def _run_args(corpus, output, steps):
    return [CLI, "run", "--data", corpus, "--output", output, "--until", "trainer"] + [
        "--eval-fraction", "0.3", "--max-duration-s", "12", "--model", "mlp",
        "--batch-size", "4", "--train-steps", str(steps),
        "--max-quarantined-share", str(MAX_QUARANTINED_SHARE),
    ]  # fmt: skip


def test_overlap_is_refused_and_a_killed_run_resumes_after_transform(first_run):
    corpus, output, _ = first_run
    log_path = os.path.join(output, "killed-run.log")
    with open(log_path, "w") as log:
        victim = subprocess.Popen(
            _run_args(corpus, output, 100_000), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 300
        while "Component Trainer is running" not in open(log_path).read():
            assert victim.poll() is None, open(log_path).read()[-3000:]
            assert time.monotonic() < deadline, "the Trainer never started"
            time.sleep(1)

        overlapping = subprocess.run(
            _run_args(corpus, output, 2), capture_output=True, text=True, timeout=120
        )
        assert overlapping.returncode == 3
        assert "another run is using" in overlapping.stderr
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()

    resumed = subprocess.run(
        _run_args(corpus, output, 2), capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.load(open(os.path.join(output, configs.RUN_SUMMARY_FILE)))
    components = summary["components"]
    assert components["Transform"]["status"] == "cached"
    assert components["AudioExampleGen"]["status"] == "cached"
    assert components["Trainer"]["status"] == "complete"
