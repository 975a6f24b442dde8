"""Text to audio with an exported voice (a SavedModel directory, a TF Serving model base or a
pipeline output; models/voice_files.py resolves which, and writes the wav)."""

from __future__ import annotations

import numpy as np

from models.features import AUDIO
from models.voice_files import resolve_saved_model_dir
from pipeline.text_split import DEFAULT_MAX_CHARS, PAUSE_S, split_text


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
