"""Run history: OUTPUT/runs/<run id>/run_summary.json beside the latest OUTPUT/run_summary.json,
and `synthesize --model-dir OUTPUT` speaking only with a blessed voice."""

from __future__ import annotations

import json
import os

import pytest

from models import voice_files
from models.voice_files import resolve_saved_model_dir
from pipeline import cli, run_history


def _voice(root, name: str) -> str:
    path = root / name
    path.mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"")
    return str(path)


def _summary(trained: str | None, blessed: bool | None, pushed: str | None = None) -> dict:
    components: dict = {"AudioExampleGen": {"status": "complete"}}
    if trained:
        components["Trainer"] = {"status": "complete", "serving_model_dir": trained}
    if blessed is not None:
        components["Evaluator"] = {"status": "complete", "blessed": blessed}
    if pushed is not None or blessed is not None:
        components["Pusher"] = {"status": "complete", "pushed": bool(pushed)}
        if pushed:
            components["Pusher"]["pushed_destination"] = pushed
    return {"pipeline": "tts-pipeline", "status": "complete", "components": components}


def test_each_run_keeps_its_summary_and_the_latest_is_at_the_old_path(tmp_path):
    output = str(tmp_path)
    first = run_history.new_run_id(output)
    run_history.record_summary(_summary(None, None), output, first)
    second = run_history.new_run_id(output)
    assert second != first  # same second: a suffix
    run_history.record_summary(_summary("/m", None), output, second)
    assert sorted(os.listdir(tmp_path / "runs")) == sorted([first, second])
    latest = json.loads((tmp_path / "run_summary.json").read_text())
    assert latest["run_id"] == second and "Trainer" in latest["components"]
    assert [s["run_id"] for s in voice_files.summaries(output)] == [second, first]


def test_the_latest_blessed_voice_not_a_newer_unblessed_one(tmp_path):
    output = tmp_path / "out"
    pushed = _voice(tmp_path, "serving/voice/100")
    trained_then = _voice(tmp_path, "Trainer/1")
    unblessed = _voice(tmp_path, "Trainer/2")
    run_history.record_summary(_summary(trained_then, True, pushed), str(output), "20260101T000000")
    # then a partial run: `--until trainer` trains a voice nobody has judged
    run_history.record_summary(_summary(unblessed, None), str(output), "20260102T000000")
    assert voice_files.latest_blessed_voice(str(output)) == pushed
    assert resolve_saved_model_dir(str(output)) == pushed
    # a blessed but unpushed voice (the Pusher not run) counts; a refused one does not
    blessed_only = _voice(tmp_path, "Trainer/3")
    run_history.record_summary(_summary(blessed_only, True), str(output), "20260103T000000")
    refused = _voice(tmp_path, "Trainer/4")
    run_history.record_summary(_summary(refused, False), str(output), "20260104T000000")
    assert resolve_saved_model_dir(str(output)) == blessed_only


def test_no_blessed_voice_is_a_clear_error(tmp_path, capsys):
    output = tmp_path / "out"
    trained = _voice(tmp_path, "Trainer/1")
    run_history.record_summary(_summary(trained, None), str(output), "20260102T000000")
    with pytest.raises(voice_files.NoBlessedVoiceError, match="no blessed voice"):
        resolve_saved_model_dir(str(output))
    assert cli.main(["synthesize", "--model-dir", str(output), "Hello.", "-o", "x.wav"]) == 2
    err = capsys.readouterr().err
    assert "no blessed voice" in err and trained in err and "was not blessed" in err
    assert resolve_saved_model_dir(str(output), allow_unblessed=True) == trained


def test_an_output_from_before_the_history_is_read_from_its_run_summary(tmp_path):
    pushed = _voice(tmp_path, "serving/voice/7")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run_summary.json").write_text(json.dumps(_summary("/x", True, pushed)))
    assert resolve_saved_model_dir(str(tmp_path / "out")) == pushed
