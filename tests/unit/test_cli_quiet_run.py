"""`tts-pipeline run` on a terminal: a line per component, the summary, and the full logs in
OUTPUT/logs/<run id>.log; the run's resolved config and summary kept under OUTPUT/runs/."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.demo_corpus import build_demo_corpus

pytestmark = pytest.mark.e2e  # runs two real components (about 25 s)

CLI = os.path.join(os.path.dirname(sys.executable), "tts-pipeline")


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, "run", *argv], capture_output=True, text=True, timeout=600, env=os.environ
    )


@pytest.mark.skipif(not os.path.exists(CLI), reason="console script not installed")
def test_a_run_is_quiet_logs_to_a_file_keeps_its_history_and_reruns_from_its_config(tmp_path):
    corpus, output = str(tmp_path / "corpus"), str(tmp_path / "out")
    build_demo_corpus(corpus, sentences=6, seed=0)
    result = _run("--data", corpus, "--output", output, "--until", "statisticsgen")
    terminal = result.stdout + result.stderr
    assert result.returncode == 0, terminal[-3000:]
    # It was ~1,000 lines for these two stages (7,760 for a whole run): TF/CUDA banners,
    # protobuf dumps of every artifact.
    assert len(terminal.splitlines()) < 60, terminal
    assert "cuda" not in terminal.lower() and "artifact_type" not in terminal
    assert "Component StatisticsGen is finished in" in result.stderr
    assert "AudioExampleGen" in result.stdout and "complete" in result.stdout

    (run_id,) = os.listdir(os.path.join(output, "runs"))
    log = os.path.join(output, "logs", f"{run_id}.log")
    details = open(log, encoding="utf-8").read()
    assert "Component StatisticsGen is running" in details
    assert len(details.splitlines()) > 200
    run_dir = os.path.join(output, "runs", run_id)
    summary = json.load(open(os.path.join(run_dir, "run_summary.json")))
    latest = json.load(open(os.path.join(output, "run_summary.json")))
    assert summary == latest and summary["run_id"] == run_id and summary["log_file"] == log
    config = json.load(open(os.path.join(run_dir, "run_config.json")))
    assert (config["until"], config["model_name"], config["run_id"]) == (
        "statisticsgen",
        "voice",
        run_id,
    )
    assert config["resolved"]["trainer"]["model"] == "mlp"

    # Again from the saved config; a flag on the command line wins over the file.
    again = _run("--config", os.path.join(run_dir, "run_config.json"), "--until", "examplegen")
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert len(os.listdir(os.path.join(output, "runs"))) == 2
    latest = json.load(open(os.path.join(output, "run_summary.json")))
    assert list(latest["components"]) == ["AudioExampleGen"]
    assert latest["components"]["AudioExampleGen"]["status"] == "cached"
    assert latest["run_id"] != run_id
