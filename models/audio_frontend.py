"""The log-mel front end (AudioConfig in models/features.py), shared by Transform and export.

Framing is not centred: frame t covers samples [t * hop, t * hop + win_length), zero-padded
at the end, so a clip of n samples has ceil(n / hop) frames.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from models.features import AUDIO, AudioConfig


@functools.lru_cache(maxsize=8)
def _filterbank(config: AudioConfig) -> np.ndarray:
    """tf.signal.linear_to_mel_weight_matrix's matrix (same construction, float64 then
    float32: within 2e-5 of TF's float32 arithmetic), computed once in numpy. As TensorFlow
    ops it was ~150 graph ops rebuilt on each of tf.Transform's traces of the
    preprocessing_fn (0.3-0.8 s each, several seconds per Transform run)."""
    bins = config.n_fft // 2 + 1
    frequencies = np.linspace(0.0, config.sample_rate / 2.0, bins)[1:]

    def to_mel(hertz):  # HTK: 1127 ln(1 + f / 700)
        return 1127.0 * np.log1p(np.asarray(hertz, np.float64) / 700.0)

    edges = np.linspace(to_mel(config.fmin), to_mel(config.fmax), config.n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    spectrum = to_mel(frequencies)[:, None]
    rising = (spectrum - lower) / (center - lower)
    falling = (upper - spectrum) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    weights = np.pad(weights, [[1, 0], [0, 0]])  # the DC bin gets no weight
    weights.setflags(write=False)
    return weights


def mel_filterbank(config: AudioConfig = AUDIO) -> np.ndarray:
    """The [n_fft // 2 + 1, n_mels] float32 filterbank of log_mel_spectrogram.

    HTK mel scale (mel = 2595 * log10(1 + f / 700)), triangles evenly spaced in mel with a
    peak of 1.0 and no area (Slaney) normalisation; the DC bin gets zero weight. Plain numpy,
    so it also works while tracing (TF1 graphs included).
    """
    return _filterbank(config).copy()


def log_mel_spectrogram(audio: tf.Tensor, config: AudioConfig = AUDIO) -> tf.Tensor:
    """float32 [batch, samples] -> [batch, frames, n_mels] (or [samples] -> [frames, n_mels]).

    STFT magnitude (not power) under a periodic Hann window, mel-warped, natural log with
    values floored at config.log_floor. Zero padding at the end of a row leaves its first
    num_frames(n) frames unchanged, so padded batches are safe.
    """
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    stft = tf.signal.stft(
        audio,
        frame_length=config.win_length,
        frame_step=config.hop_length,
        fft_length=config.n_fft,
        window_fn=tf.signal.hann_window,  # periodic=True by default
        pad_end=True,
    )
    mel = tf.tensordot(tf.abs(stft), tf.constant(_filterbank(config)), axes=1)
    return tf.math.log(tf.maximum(mel, config.log_floor))


def num_frames(num_samples: int, config: AudioConfig = AUDIO) -> int:
    """Frames of an unpadded clip of num_samples under log_mel_spectrogram: ceil(n / hop)."""
    return -(-int(num_samples) // config.hop_length)


def num_frames_tf(num_samples: tf.Tensor, config: AudioConfig = AUDIO) -> tf.Tensor:
    """num_frames for an integer tensor of sample counts (any shape; dtype kept)."""
    num_samples = tf.convert_to_tensor(num_samples)
    hop = tf.constant(config.hop_length, dtype=num_samples.dtype)
    return (num_samples + hop - 1) // hop


def mel_to_linear_matrix(config: AudioConfig = AUDIO) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] pseudo-inverse of mel_filterbank, for Griffin-Lim.

    Magnitudes come back as mel @ this matrix; clamp negatives before use.
    """
    return np.linalg.pinv(mel_filterbank(config)).astype(np.float32)
