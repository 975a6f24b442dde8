"""Text to wav with an exported voice (a SavedModel directory, or a TF Serving model base)."""

from __future__ import annotations

import json
import os

import numpy as np
import soundfile as sf

from models.features import AUDIO


def resolve_saved_model_dir(model_dir: str) -> str:
    """A SavedModel directory from what a user points at.

    `model_dir` itself if it holds saved_model.pb; a pipeline output directory (it has a
    run_summary.json): the model its latest run pushed, else the one it trained; a TF
    Serving model base: its highest numbered version.
    """
    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    summary_path = os.path.join(model_dir, "run_summary.json")
    if os.path.exists(summary_path):
        with open(summary_path, encoding="utf-8") as handle:
            components = json.load(handle)["components"]
        pusher = components.get("Pusher", {})
        exported = (
            pusher.get("pushed_destination")
            if pusher.get("pushed")
            else components.get("Trainer", {}).get("serving_model_dir")
        )
        if exported:
            return resolve_saved_model_dir(exported)
    versions = [d for d in os.listdir(model_dir) if d.isdigit()] if os.path.isdir(model_dir) else []
    for version in sorted(versions, key=int, reverse=True):
        candidate = os.path.join(model_dir, version)
        if os.path.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise FileNotFoundError(
        f"no SavedModel in {model_dir!r}: expected saved_model.pb there or in a numbered "
        "version directory (TF Serving layout <base>/<name>/<version>/)"
    )


def synthesize(model_dir: str, texts: list[str]) -> tuple[list[np.ndarray], int]:
    """Runs the SavedModel's serving_default; returns one float32 waveform per text."""
    import tensorflow as tf

    loaded = tf.saved_model.load(resolve_saved_model_dir(model_dir))
    outputs = loaded.signatures["serving_default"](text=tf.constant(texts))
    audio = outputs["audio"].numpy()
    lengths = outputs["audio_length"].numpy()
    return [audio[i, : lengths[i]] for i in range(len(texts))], AUDIO.sample_rate


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM, peak-normalised to -1 dBFS when louder (Griffin-Lim can overshoot)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    limit = 10 ** (-1 / 20)
    if peak > limit:
        audio = audio * (limit / peak)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sf.write(path, audio, sample_rate, subtype="PCM_16")
