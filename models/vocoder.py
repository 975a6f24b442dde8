"""Griffin-Lim vocoder in TensorFlow ops: log-mel back to a waveform inside the served graph.

Mel magnitude -> linear magnitude by the filterbank's pseudo-inverse (negative values
clipped), then `n_iter` rounds of inverse STFT / STFT that keep the magnitude and refine the
phase, accelerated with momentum (fast Griffin-Lim, Perraudin et al. 2013). The framing
matches models/audio_frontend.py, so F frames give F * hop samples.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.audio_frontend import mel_to_linear_matrix
from models.features import AUDIO, AudioConfig

# From benchmarks/vocoder_convergence.py (5 s of speech): fast Griffin-Lim (momentum 0.99)
# reaches plain Griffin-Lim's 32-iteration spectral convergence (0.170) at 12 rounds (0.169).
DEFAULT_ITERATIONS = 12
# Fast Griffin-Lim's alpha: t_n = c_n + alpha (c_n - c_{n-1}); 0 is plain Griffin-Lim.
DEFAULT_MOMENTUM = 0.99
# A power > 1 on the magnitude (the Tacotron recipe) trades level fidelity for fewer
# artefacts; 1.0 keeps levels (a 440 Hz tone comes back at its RMS within 10 %).
DEFAULT_POWER = 1.0


def mel_to_linear(log_mel: tf.Tensor, config: AudioConfig = AUDIO) -> tf.Tensor:
    """Natural-log mel magnitude [B, F, n_mels] -> linear STFT magnitude [B, F, n_fft//2+1]."""
    inverse = tf.constant(mel_to_linear_matrix(config), dtype=tf.float32)
    return tf.nn.relu(tf.matmul(tf.exp(log_mel), inverse))


def _stft(audio: tf.Tensor, config: AudioConfig) -> tf.Tensor:
    return tf.signal.stft(
        audio,
        frame_length=config.win_length,
        frame_step=config.hop_length,
        fft_length=config.n_fft,
        window_fn=tf.signal.hann_window,
        pad_end=True,
    )


def _istft(spectrum: tf.Tensor, num_samples: tf.Tensor, config: AudioConfig) -> tf.Tensor:
    audio = tf.signal.inverse_stft(
        spectrum,
        frame_length=config.win_length,
        frame_step=config.hop_length,
        fft_length=config.n_fft,
        window_fn=tf.signal.inverse_stft_window_fn(config.hop_length),
    )
    return audio[..., :num_samples]


def griffin_lim(
    log_mel: tf.Tensor,
    mel_length: tf.Tensor,
    n_iter: int = DEFAULT_ITERATIONS,
    power: float = DEFAULT_POWER,
    config: AudioConfig = AUDIO,
    seed: int = 0,
    momentum: float = DEFAULT_MOMENTUM,
) -> tuple[tf.Tensor, tf.Tensor]:
    """[B, F, n_mels] natural-log mel (padded) and [B] lengths -> audio [B, F*hop], lengths.

    Frames past a row's mel_length get zero magnitude, so padded rows end in silence. Each
    round projects c_n = STFT(ISTFT(S e^{i phase(t_{n-1})})) and steps t_n = c_n +
    momentum (c_n - c_{n-1}) (c_0 = 0, as librosa); momentum 0 is plain Griffin-Lim.
    """
    log_mel = tf.convert_to_tensor(log_mel, tf.float32)
    frames = tf.shape(log_mel)[1]
    num_samples = frames * config.hop_length
    mask = tf.sequence_mask(mel_length, frames, dtype=tf.float32)[..., tf.newaxis]
    magnitude = tf.pow(mel_to_linear(log_mel, config), power) * mask
    magnitude = tf.complex(magnitude, tf.zeros_like(magnitude))

    # A fixed, seeded random start phase converges better than zero phase. It is drawn per
    # (frame, bin), not per batch shape, so an utterance sounds the same alone or batched
    # (counter-based draws: element [t, f] does not depend on how many frames follow).
    bins = config.n_fft // 2 + 1
    phase = tf.random.stateless_uniform(tf.stack([frames, bins]), seed=[seed, 1])
    angles = tf.exp(tf.complex(tf.zeros_like(phase), 2.0 * np.pi * phase))
    angles = tf.broadcast_to(angles[tf.newaxis], tf.shape(magnitude))

    # t_n = c_n + a (c_n - c_{n-1}) has the phase of c_n - a / (1 + a) c_{n-1} (librosa's form).
    beta = tf.complex(float(momentum) / (1.0 + float(momentum)), 0.0)

    def refine(step, angles, previous):
        rebuilt = _stft(_istft(magnitude * angles, num_samples, config), config)
        rebuilt = tf.ensure_shape(rebuilt, magnitude.shape)  # static frames survive the loop
        step_to = rebuilt - beta * previous if momentum else rebuilt
        unit = step_to / tf.cast(tf.maximum(tf.abs(step_to), 1e-8), tf.complex64)
        return step + 1, unit, rebuilt

    _, angles, _ = tf.while_loop(
        lambda step, *_: step < n_iter,
        refine,
        (tf.constant(0), angles, tf.zeros_like(magnitude)),
    )
    audio = _istft(magnitude * angles, num_samples, config)
    audio_length = tf.cast(mel_length, tf.int32) * config.hop_length
    audio *= tf.sequence_mask(audio_length, num_samples, dtype=tf.float32)
    return audio, audio_length
