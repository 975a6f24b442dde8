"""`tts-pipeline run` refuses what it can before TFX and TensorFlow load: one line, exit 2
(3 for a run lock held by another run), in milliseconds instead of a pipeline start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

CLI = os.path.join(os.path.dirname(sys.executable), "tts-pipeline")
HEAVY = ("tensorflow", "tfx", "apache_beam", "ml_metadata", "keras")

# Runs each argv through main() in one fresh interpreter; reports the exit code, stderr, and
# which heavy packages got imported on the way.
_PROBE = """
import contextlib, io, json, sys
from pipeline.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    results.append({"code": code, "stderr": err.getvalue()})
heavy = [m for m in json.loads(sys.argv[2]) if m in sys.modules]
print(json.dumps({"results": results, "heavy": heavy}))
"""

_HOLD = """
import sys, time
from pipeline.run_lock import exclusive_run
with exclusive_run(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _corpus(root, wavs=True, metadata=True):
    root.mkdir(parents=True, exist_ok=True)
    if metadata:
        (root / "metadata.csv").write_text("a|hello\n")
    if wavs:
        (root / "wavs").mkdir(exist_ok=True)
    return str(root)


def _probe(argvs: list[list[str]]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argvs), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bad_runs_fail_in_one_line_with_exit_2_before_any_heavy_import(tmp_path):
    good = _corpus(tmp_path / "good")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = str(tmp_path / "out")
    cases = {
        "--train-steps must be at least 1, got 0": ["--data", good, "--train-steps", "0"],
        "--train-steps must be at least 1, got -5": ["--data", good, "--train-steps", "-5"],
        "no metadata.csv": ["--data", _corpus(tmp_path / "nometa", metadata=False)],
        "no wavs/ directory": ["--data", _corpus(tmp_path / "nowavs", wavs=False)],
        "does not exist": ["--data", str(tmp_path / "nowhere")],
        "unknown stage 'trainr'": ["--data", good, "--until", "trainr"],
        "--eval-fraction must be in (0, 1)": ["--data", good, "--eval-fraction", "1.5"],
        "--max-quarantined-share must be in [0, 1]": [
            "--data", good, "--max-quarantined-share", "2",
        ],
        "is not writable": ["--data", good, "--output", str(blocker / "out")],
        "the output directory must be a local path": ["--data", good, "--output", "s3://b/o"],
        "the following arguments are required: --data": [],
    }  # fmt: skip
    argvs = [["run", "--output", out, *args] for args in cases.values()]
    report = _probe(argvs)
    assert report["heavy"] == []
    for (expected, argv), result in zip(cases.items(), report["results"], strict=True):
        assert result["code"] == 2, (argv, result)
        assert expected in result["stderr"], (argv, result)
        if expected != "the following arguments are required: --data":  # argparse's usage
            assert result["stderr"].count("\n") == 1, result["stderr"]


def test_a_held_lock_is_refused_before_any_heavy_import(tmp_path):
    output = str(tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, output], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        report = _probe([["run", "--data", _corpus(tmp_path / "c"), "--output", output]])
    finally:
        holder.kill()
        holder.wait()
    (result,) = report["results"]
    assert result["code"] == 3
    assert "another run is using" in result["stderr"] and str(holder.pid) in result["stderr"]
    assert report["heavy"] == []


@pytest.mark.skipif(not os.path.exists(CLI), reason="console script not installed")
def test_the_console_script_fails_fast(tmp_path):
    """Well under TensorFlow's import time (15-40 s here), even on a loaded machine."""
    start = time.monotonic()
    result = subprocess.run(
        [CLI, "run", "--data", _corpus(tmp_path / "c"), "--output", str(tmp_path / "o")]
        + ["--train-steps", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 2
    assert result.stderr == "tts-pipeline run: --train-steps must be at least 1, got 0\n"
    assert elapsed < 5, f"took {elapsed:.1f} s"
