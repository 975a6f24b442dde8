"""The Trainer in the pipeline, and the exported voice used from a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

from pipeline import configs
from pipeline.local_runner import run_pipeline
from tests.corpus_factory import INGEST

pytestmark = pytest.mark.e2e

CLI = os.path.join(os.path.dirname(sys.executable), "tts-pipeline")
TRAIN_STEPS = 6
TRAINER = {"model": "attention", "preset": "small", "batch_size": 4}
LEARNED_FRACTION = 0.5  # last step loss < this x first step loss (measured 0.30)

# Runs in a process that imports no project code: the SavedModel must stand alone.
_FRESH_PROCESS_SYNTHESIS = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
texts = ["Hi.", "This sentence is quite a lot longer than the first one, with 42 words."]
out = model.signatures["serving_default"](text=tf.constant(texts))
audio, lengths = out["audio"].numpy(), out["audio_length"].numpy()
print(json.dumps({
    "lengths": lengths.tolist(),
    "mel_lengths": out["mel_length"].numpy().tolist(),
    "rms": [float(np.sqrt(np.mean(audio[i, :lengths[i]] ** 2))) for i in range(2)],
    "mel_shape": list(out["mel"].shape),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("models", "pipeline")),
}))
"""


@pytest.fixture(scope="module")
def trained(first_run):
    corpus, output, _ = first_run
    summary = run_pipeline(
        corpus,
        output,
        until="trainer",
        ingest=INGEST,
        # No warmup, and one step per epoch so that History holds every step's loss.
        trainer={**TRAINER, "warmup_steps": 1, "steps_per_epoch": 1},
        train_steps=TRAIN_STEPS,
    )
    return summary


def test_trainer_runs_after_cached_data_stages_and_reports_figures(trained):
    components = trained["components"]
    assert list(components) == list(configs.STAGES[: configs.STAGES.index("Trainer") + 1])
    assert components["Transform"]["status"] == "cached"
    assert components["AnomalyGate"]["status"] in ("complete", "cached")
    trainer = components["Trainer"]
    assert trainer["status"] == "complete"
    training = trainer["training"]
    assert (training["model"], training["preset"], training["steps"]) == (
        "attention",
        "small",
        TRAIN_STEPS,
    )
    assert training["parameters"] > 10_000
    # Every step's loss: the Trainer's own summary beside its TensorBoard logs.
    with open(os.path.join(trainer["tensorboard_logdir"], "training_summary.json")) as handle:
        losses = json.load(handle)["history"]["loss"]
    assert len(losses) == TRAIN_STEPS and training["final"]["loss"] == losses[-1]
    assert losses[-1] < LEARNED_FRACTION * losses[0], f"the loss did not fall: {losses}"
    logs = os.listdir(trainer["tensorboard_logdir"])
    assert "train" in logs and "speech" in logs, logs


def test_exported_voice_speaks_from_a_fresh_process(trained):
    model_dir = trained["components"]["Trainer"]["serving_model_dir"]
    assets = os.listdir(os.path.join(model_dir, "assets"))
    assert {"symbols.json", "audio_config.json", "voice.json"} <= set(assets)
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS_SYNTHESIS, model_dir],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["modules"] == [], "the SavedModel must not need project code"
    short, long = out["lengths"]
    assert long > short > 0, out
    assert out["lengths"] == [n * 256 for n in out["mel_lengths"]]
    assert min(out["rms"]) > 1e-4, "non-silent audio"
    assert out["mel_shape"][0] == 2 and out["mel_shape"][2] == 80


def test_synthesize_cli_writes_a_wav(trained, tmp_path):
    model_dir = trained["components"]["Trainer"]["serving_model_dir"]
    wav = str(tmp_path / "out.wav")
    result = subprocess.run(
        [CLI, "synthesize", "--model-dir", model_dir, "Some text.", "-o", wav],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = sf.info(wav)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.frames > 0


def test_synthesize_cli_names_a_missing_model(tmp_path):
    result = subprocess.run(
        [CLI, "synthesize", "--model-dir", str(tmp_path), "text", "-o", str(tmp_path / "x.wav")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no SavedModel" in result.stderr


def test_retrain_continue_trains_on_from_the_last_voice_when_the_data_is_unchanged(trained):
    continue_steps = 2
    summary = run_pipeline(
        trained["data_root"],
        trained["output_dir"],
        until="trainer",
        ingest=INGEST,
        trainer={
            "model": "attention",
            "preset": "small",
            "batch_size": 4,
            **configs.retrain_settings("continue"),
        },
        train_steps=continue_steps,
    )
    components = summary["components"]
    assert components["Transform"]["status"] == "cached"
    trainer = components["Trainer"]
    assert trainer["status"] == "complete"  # not a cache hit, though no data changed
    training = trainer["training"]
    base = trained["components"]["Trainer"]["serving_model_dir"]
    assert training["initialized_from"] == f"continued from {base} at step {TRAIN_STEPS}"
    assert (training["steps"], training["total_steps"]) == (
        continue_steps,
        TRAIN_STEPS + continue_steps,
    )
    assert training["config"]["trainer"]["continue_training"] is True
    with open(os.path.join(trainer["serving_model_dir"], "assets", "voice.json")) as handle:
        voice = json.load(handle)
    assert voice["training"]["total_steps"] == TRAIN_STEPS + continue_steps
    assert voice["model_config"] == training["config"]["model"]
