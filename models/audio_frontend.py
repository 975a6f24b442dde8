"""The log-mel front end (AudioConfig in models/features.py), shared by Transform and export.

Framing is not centred: frame t covers samples [t * hop, t * hop + win_length), zero-padded
at the end, so a clip of n samples has ceil(n / hop) frames.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.features import AUDIO, AudioConfig


def _mel_weights(config: AudioConfig) -> tf.Tensor:
    return tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config.n_mels,
        num_spectrogram_bins=config.n_fft // 2 + 1,
        sample_rate=config.sample_rate,
        lower_edge_hertz=config.fmin,
        upper_edge_hertz=config.fmax,
        dtype=tf.float32,
    )


def mel_filterbank(config: AudioConfig = AUDIO) -> np.ndarray:
    """The [n_fft // 2 + 1, n_mels] float32 filterbank of log_mel_spectrogram.

    HTK mel scale (mel = 2595 * log10(1 + f / 700)), triangles evenly spaced in mel with a
    peak of 1.0 and no area (Slaney) normalisation; the DC bin gets zero weight.
    """
    with tf.init_scope():  # eager even when called while tracing a tf.function
        return _mel_weights(config).numpy()


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
    # Built as a graph op rather than from mel_filterbank() so it also works in TF1 graphs.
    mel = tf.tensordot(tf.abs(stft), _mel_weights(config), axes=1)
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
