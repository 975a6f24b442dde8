"""Griffin-Lim as real-valued builtin TFLite ops (RFFT2D, no complex math): models/vocoder.py's
algorithm, the same numbers, in a form that converts without Flex."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.audio_frontend import mel_to_linear_matrix
from models.features import AUDIO, AudioConfig
from models.vocoder import DEFAULT_POWER


def overlap(config: AudioConfig = AUDIO) -> int:
    """Frames that overlap one hop (win / hop); the framing below needs it whole."""
    if config.win_length != config.n_fft or config.win_length % config.hop_length:
        raise ValueError(
            f"the TFLite vocoder needs win_length == n_fft and a whole number of hops per "
            f"window; got win {config.win_length}, n_fft {config.n_fft}, hop {config.hop_length}"
        )
    return config.win_length // config.hop_length


def initial_phase(frames: int, config: AudioConfig = AUDIO, seed: int = 0) -> np.ndarray:
    """[frames, n_fft // 2 + 1] start phases in turns, exactly models.vocoder.griffin_lim's.

    stateless_uniform is counter based, so the draw for F frames is the first F rows of any
    longer draw: one table of max_frames rows serves every length.
    """
    bins = config.n_fft // 2 + 1
    with tf.init_scope():
        return tf.random.stateless_uniform([frames, bins], seed=[seed, 1]).numpy()


def _windows(config: AudioConfig) -> tuple[np.ndarray, np.ndarray]:
    with tf.init_scope():
        analysis = tf.signal.hann_window(config.win_length).numpy()
        synthesis = tf.signal.inverse_stft_window_fn(config.hop_length)(
            config.win_length, tf.float32
        )
        return analysis.astype(np.float32), synthesis.numpy().astype(np.float32)


def _rfft(frames: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    spectrum = tf.signal.rfft(frames)
    return tf.math.real(spectrum), tf.math.imag(spectrum)


def _irfft(real: tf.Tensor, imag: tf.Tensor, n_fft: int) -> tf.Tensor:
    """tf.signal.irfft from two forward real FFTs (TFLite has RFFT2D but no inverse).

    With X completed to its Hermitian spectrum, x = FFT(conj X) / N; conj X = A + iB where A
    (even) and B (odd) are real, so FFT(A) is real, FFT(B) imaginary, and
    x[n] = (Re RFFT(A)[n] - Im RFFT(B)[n]) / N, x[N - n] = (Re RFFT(A)[n] + Im RFFT(B)[n]) / N.
    The imaginary parts at DC and Nyquist are ignored, as tf.signal.irfft does.
    """
    inner_real = real[..., 1:-1]
    inner_imag = imag[..., 1:-1]
    zeros = tf.zeros_like(real[..., :1])
    even = tf.concat([real, tf.reverse(inner_real, axis=[-1])], axis=-1)
    odd = tf.concat([zeros, -inner_imag, zeros, tf.reverse(inner_imag, axis=[-1])], axis=-1)
    even_real, _ = _rfft(even)
    _, odd_imag = _rfft(odd)
    low = (even_real - odd_imag) / n_fft  # n = 0 .. N/2
    high = (even_real[..., 1:-1] + odd_imag[..., 1:-1]) / n_fft  # n = N-1 .. N/2+1, reversed
    return tf.concat([low, tf.reverse(high, axis=[-1])], axis=-1)


def _frames_of(audio: tf.Tensor, frames: tf.Tensor, hop: int, k: int) -> tf.Tensor:
    """[B, F * hop] -> [B, F, k * hop]: tf.signal.stft's framing with pad_end=True."""
    padded = tf.pad(audio, [[0, 0], [0, (k - 1) * hop]])
    blocks = tf.reshape(padded, [tf.shape(audio)[0], frames + k - 1, hop])
    return tf.concat([blocks[:, j : j + frames] for j in range(k)], axis=-1)


def _overlap_add(frames: tf.Tensor, hop: int, k: int) -> tf.Tensor:
    """[B, F, k * hop] -> [B, F * hop]: tf.signal.overlap_and_add cut to F hops."""
    batch, count = tf.shape(frames)[0], tf.shape(frames)[1]
    parts = tf.reshape(frames, [batch, count, k, hop])
    total = None
    for j in range(k):
        shifted = tf.pad(parts[:, :, j], [[0, 0], [j, k - 1 - j], [0, 0]])
        total = shifted if total is None else total + shifted
    return tf.reshape(total[:, :count], [batch, count * hop])


def griffin_lim_builtin(
    log_mel: tf.Tensor,
    mel_length: tf.Tensor,
    phase_table: np.ndarray,
    n_iter: int,
    power: float = DEFAULT_POWER,
    config: AudioConfig = AUDIO,
) -> tuple[tf.Tensor, tf.Tensor]:
    """models.vocoder.griffin_lim on a batch of one, in builtin-convertible ops.

    log_mel [1, F, n_mels] (padded), mel_length [1]. Only the first min(mel_length + k - 1, F)
    frames are processed (k = win / hop): the padded frames after them have zero magnitude
    and cannot reach a real sample, so the result equals the full padded run while the cost
    follows the real length. Returns audio [1, frames_run * hop], zero past audio_length.
    """
    k = overlap(config)
    hop, n_fft = config.hop_length, config.n_fft
    analysis, synthesis = _windows(config)
    log_mel = tf.convert_to_tensor(log_mel, tf.float32)
    mel_length = tf.cast(mel_length, tf.int32)
    frames = tf.minimum(mel_length[0] + k - 1, tf.shape(log_mel)[1])
    log_mel = log_mel[:, :frames]
    mask = tf.cast(tf.range(frames)[None, :] < mel_length[:, None], tf.float32)[..., None]
    inverse = tf.constant(mel_to_linear_matrix(config), tf.float32)
    magnitude = tf.nn.relu(tf.matmul(tf.exp(log_mel), inverse))
    if power != 1.0:
        magnitude = tf.pow(magnitude, power)
    magnitude *= mask

    turns = tf.constant(np.asarray(phase_table, np.float32))[None, :frames]
    angle = 2.0 * np.pi * turns
    cos, sin = tf.cos(angle), tf.sin(angle)

    def istft(cos: tf.Tensor, sin: tf.Tensor) -> tf.Tensor:
        signal = _irfft(magnitude * cos, magnitude * sin, n_fft)[..., : config.win_length]
        return _overlap_add(signal * synthesis, hop, k)

    def refine(step, cos, sin):
        real, imag = _rfft(_frames_of(istft(cos, sin), frames, hop, k) * analysis)
        norm = tf.maximum(tf.sqrt(real * real + imag * imag), 1e-8)
        return step + 1, real / norm, imag / norm

    _, cos, sin = tf.while_loop(lambda step, *_: step < n_iter, refine, (tf.constant(0), cos, sin))
    audio = istft(cos, sin)
    audio_length = mel_length * hop
    audio *= tf.cast(tf.range(frames * hop)[None, :] < audio_length[:, None], tf.float32)
    return audio, audio_length


# Tensor names of the vocoder model.
MEL_INPUT = "mel"
MEL_LENGTH_INPUT = "mel_length"
AUDIO_OUTPUT = "audio"
AUDIO_LENGTH_OUTPUT = "audio_length"


def vocoder_function(
    max_frames: int, n_iter: int, config: AudioConfig = AUDIO, seed: int = 0
) -> tf.types.experimental.ConcreteFunction:
    """The traced batch-1 vocoder: mel float32 [1, max_frames, n_mels] (the acoustic model's
    output as is), mel_length int32 [1] -> audio float32 [1, max_frames * hop] (zero past
    audio_length), audio_length int32 [1]. Work follows mel_length, not max_frames."""
    table = initial_phase(max_frames, config, seed)
    samples = max_frames * config.hop_length

    def vocoder(mel, mel_length):
        audio, audio_length = griffin_lim_builtin(mel, mel_length, table, n_iter, config=config)
        audio = tf.pad(audio, [[0, 0], [0, samples - tf.shape(audio)[1]]])
        return tf.reshape(audio, [1, samples]), audio_length

    return tf.function(vocoder).get_concrete_function(
        tf.TensorSpec([1, max_frames, config.n_mels], tf.float32, name=MEL_INPUT),
        tf.TensorSpec([1], tf.int32, name=MEL_LENGTH_INPUT),
    )
