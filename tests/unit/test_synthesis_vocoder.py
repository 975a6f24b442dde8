"""Griffin-Lim at the speed of the hardware: fast Griffin-Lim (momentum) converges in fewer
rounds than plain, and the on-device loop runs one FFT per transform (two per round)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.audio_frontend import log_mel_spectrogram
from models.features import AUDIO
from models.tflite import convert
from models.tflite.vocoder import vocoder_function
from models.vocoder import DEFAULT_ITERATIONS, _stft, griffin_lim, mel_to_linear

RATE = AUDIO.sample_rate


def _speechlike(seconds: float = 1.5) -> np.ndarray:
    """A gliding harmonic tone with syllable-rate bursts: phase retrieval has work to do."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(h * phase) / h for h in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.1 * voiced * envelope).astype(np.float32)


def _spectral_convergence(mel: tf.Tensor, n_iter: int, momentum: float) -> float:
    frames = mel.shape[1]
    audio, _ = griffin_lim(mel, tf.constant([frames]), n_iter=n_iter, momentum=momentum)
    target = mel_to_linear(mel)[0]
    rebuilt = tf.abs(_stft(audio, AUDIO))[0, :frames]
    return float(tf.norm(target - rebuilt) / tf.norm(target))


def test_fast_griffin_lim_at_the_default_matches_plain_at_32():
    mel = log_mel_spectrogram(tf.constant(_speechlike()[None]))
    plain_32 = _spectral_convergence(mel, 32, momentum=0.0)
    fast = _spectral_convergence(mel, DEFAULT_ITERATIONS, momentum=0.99)
    assert DEFAULT_ITERATIONS <= 16
    assert fast <= plain_32 * 1.02, (fast, plain_32)
    # Momentum is what does it: plain at the same count is clearly worse.
    assert _spectral_convergence(mel, DEFAULT_ITERATIONS, momentum=0.0) > fast * 1.1


def test_on_device_griffin_lim_runs_two_ffts_a_round():
    model = convert.convert(vocoder_function(32, n_iter=3), "none")
    # Two a round (STFT; inverse as one forward FFT), one for the final inverse; the rounds
    # are unrolled, so no WHILE subgraph.
    ops = convert.operator_counts(model)
    assert ops["RFFT2D"] == 3 * 2 + 1 and "WHILE" not in ops
