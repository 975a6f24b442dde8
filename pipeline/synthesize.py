"""Text to wav with an exported voice (a SavedModel directory, or a TF Serving model base)."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from models.features import AUDIO
from pipeline import run_history
from pipeline.text_split import DEFAULT_MAX_CHARS, PAUSE_S, split_text


def resolve_saved_model_dir(model_dir: str, allow_unblessed: bool = False) -> str:
    """A SavedModel directory from what a user points at.

    `model_dir` itself if it holds saved_model.pb; a pipeline output directory (it has a
    run_summary.json or runs/): the newest voice one of its runs blessed (pushed, or trained
    and blessed), never an unblessed one (NoBlessedVoiceError says so) unless
    `allow_unblessed` and none is blessed; a TF Serving model base: its highest version.
    """
    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    if os.path.exists(os.path.join(model_dir, run_history.RUN_SUMMARY_FILE)) or os.path.isdir(
        os.path.join(model_dir, run_history.RUNS_DIR)
    ):
        voice = run_history.latest_blessed_voice(model_dir, allow_unblessed)
        return resolve_saved_model_dir(voice)
    versions = [d for d in os.listdir(model_dir) if d.isdigit()] if os.path.isdir(model_dir) else []
    for version in sorted(versions, key=int, reverse=True):
        candidate = os.path.join(model_dir, version)
        if os.path.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise FileNotFoundError(
        f"no SavedModel in {model_dir!r}: expected saved_model.pb there or in a numbered "
        "version directory (TF Serving layout <base>/<name>/<version>/), or a pipeline output"
    )


def synthesize(model_dir: str, texts: list[str]) -> tuple[list[np.ndarray], int]:
    """Runs the SavedModel's serving_default; returns one float32 waveform per text."""
    import tensorflow as tf

    loaded = tf.saved_model.load(resolve_saved_model_dir(model_dir))
    outputs = loaded.signatures["serving_default"](text=tf.constant(texts))
    audio = outputs["audio"].numpy()
    lengths = outputs["audio_length"].numpy()
    return [audio[i, : lengths[i]] for i in range(len(texts))], AUDIO.sample_rate


def join_pieces(waves: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """The waveforms of a split text one after another, with a short pause between."""
    pause = np.zeros(int(PAUSE_S * sample_rate), np.float32)
    joined: list[np.ndarray] = []
    for i, wave in enumerate(waves):
        joined.extend([pause, wave] if i else [wave])
    return np.concatenate(joined) if joined else np.zeros(0, np.float32)


def synthesize_text(
    model_dir: str,
    text: str,
    max_chars: int = DEFAULT_MAX_CHARS,
    batch: int = 8,
    allow_unblessed: bool = False,
) -> tuple[np.ndarray, int, int]:
    """Any length of text as one waveform: split at sentence ends, `batch` pieces per call;
    returns (audio, sample rate, number of pieces)."""
    # A wrong path fails before TensorFlow loads.
    saved_model_dir = resolve_saved_model_dir(model_dir, allow_unblessed)
    import tensorflow as tf

    pieces = split_text(text, max_chars)
    loaded = tf.saved_model.load(saved_model_dir)
    signature = loaded.signatures["serving_default"]
    waves: list[np.ndarray] = []
    for start in range(0, len(pieces), batch):
        chunk = pieces[start : start + batch]
        outputs = signature(text=tf.constant(chunk))
        audio, lengths = outputs["audio"].numpy(), outputs["audio_length"].numpy()
        waves.extend(audio[i, : lengths[i]] for i in range(len(chunk)))
    return join_pieces(waves, AUDIO.sample_rate), AUDIO.sample_rate, len(pieces)


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM, peak-normalised to -1 dBFS when louder (Griffin-Lim can overshoot)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    limit = 10 ** (-1 / 20)
    if peak > limit:
        audio = audio * (limit / peak)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sf.write(path, audio, sample_rate, subtype="PCM_16")
