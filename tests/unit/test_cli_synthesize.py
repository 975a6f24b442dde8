"""`tts-pipeline synthesize` with a real (untrained) voice: text from a file, split at sentence
ends, spoken piece by piece into one wav; a pipeline output speaks its blessed voice."""

from __future__ import annotations

import soundfile as sf

from models.testing import export_untrained_voice
from pipeline import cli, run_history
from pipeline.text_split import PAUSE_S, split_text


def test_a_long_text_file_becomes_one_wav_with_pauses(tmp_path, capsys):
    voice = export_untrained_voice(str(tmp_path / "voice"), "attention", griffin_lim_iterations=1)
    text = " ".join(f"Sentence {i} is short." for i in range(9))
    (tmp_path / "long.txt").write_text(text, encoding="utf-8")
    output = tmp_path / "out"  # a pipeline output whose one run blessed this voice
    summary = {
        "components": {
            "Trainer": {"serving_model_dir": voice},
            "Evaluator": {"blessed": True},
        }
    }
    run_history.record_summary(summary, str(output), "20260101T000000")
    wav = str(tmp_path / "long.wav")
    argv = ["synthesize", "--text-file", str(tmp_path / "long.txt"), "--max-chars", "60"]
    assert cli.main([*argv, "--model-dir", str(output), "-o", wav]) == 0
    pieces = len(split_text(text, 60))
    assert pieces > 2
    assert f"({pieces} pieces split at sentence ends)" in capsys.readouterr().out
    audio, rate = sf.read(wav)
    assert rate == 22050 and len(audio) > (pieces - 1) * int(PAUSE_S * rate)
