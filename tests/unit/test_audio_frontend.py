"""Unit tests for models/audio_frontend.py against an independent numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import audio_frontend
from models.features import AUDIO, AudioConfig

# A second configuration with win_length < n_fft, to check the window is zero-padded at the end.
SMALL = AudioConfig(
    sample_rate=16000, n_fft=512, hop_length=128, win_length=400, n_mels=40, fmax=7600.0
)
LOG_MEL_ATOL = 1e-3  # max |TF - numpy| of log-mel where the reference mel is above 10 x floor
FILTERBANK_ATOL = 1e-5


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def _ref_band_edges_mel(config: AudioConfig) -> np.ndarray:
    return np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2)


def _ref_filterbank(config: AudioConfig) -> np.ndarray:
    """HTK triangles, linear in mel, peak 1, on bins k * sr / n_fft; DC row zero (as TF does)."""
    bins_mel = _hz_to_mel(np.arange(config.n_fft // 2 + 1) * config.sample_rate / config.n_fft)
    edges = _ref_band_edges_mel(config)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    m = bins_mel[:, None]
    weights = np.maximum(
        0.0, np.minimum((m - lower) / (center - lower), (upper - m) / (upper - center))
    )
    weights[0] = 0.0
    return weights


def _ref_mel(x: np.ndarray, config: AudioConfig) -> np.ndarray:
    """Linear mel energies [frames, n_mels]: end-padded frames, periodic Hann, |rfft|."""
    hop, win = config.hop_length, config.win_length
    n_frames = -(-len(x) // hop)
    padded = np.zeros((n_frames - 1) * hop + win)
    padded[: len(x)] = x
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic: divide by N
    frames = np.stack([padded[t * hop : t * hop + win] for t in range(n_frames)])
    magnitude = np.abs(np.fft.rfft(frames * window, n=config.n_fft, axis=1))
    return magnitude @ _ref_filterbank(config)


def _signal(n: int, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    tones = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)
    return (tones + 0.05 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("config", [AUDIO, SMALL], ids=["audio", "small"])
def test_filterbank_matches_htk_reference(config):
    fb = audio_frontend.mel_filterbank(config)
    assert fb.shape == (config.n_fft // 2 + 1, config.n_mels) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, _ref_filterbank(config), atol=FILTERBANK_ATOL)
    assert np.all(fb.max(axis=0) > 0)  # every band sees at least one bin


@pytest.mark.parametrize("config", [AUDIO, SMALL], ids=["audio", "small"])
def test_log_mel_matches_numpy_reference(config):
    x = _signal(config.sample_rate // 2 + 77, config.sample_rate, seed=0)
    got = audio_frontend.log_mel_spectrogram(tf.constant(x), config).numpy()
    ref_mel = _ref_mel(x.astype(np.float64), config)
    assert got.shape == ref_mel.shape == (audio_frontend.num_frames(len(x), config), config.n_mels)
    above = ref_mel > 10 * config.log_floor
    assert above.mean() > 0.9
    assert np.max(np.abs(got - np.log(ref_mel))[above]) < LOG_MEL_ATOL
    # Below the floor both sides are the floor itself.
    floored = ref_mel < 0.5 * config.log_floor
    np.testing.assert_allclose(got[floored], np.log(config.log_floor), rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 1000, 22050])
def test_num_frames_matches_stft(n):
    expected = int(np.ceil(n / AUDIO.hop_length))
    assert audio_frontend.num_frames(n) == expected
    assert int(audio_frontend.num_frames_tf(tf.constant(n, tf.int64))) == expected
    got = audio_frontend.log_mel_spectrogram(tf.zeros([n]))
    assert got.shape == (expected, AUDIO.n_mels)


def test_padded_batch_matches_clips_alone():
    lengths = [22050, 12345, 5000, 2560, 300]
    clips = [_signal(n, AUDIO.sample_rate, seed=i) for i, n in enumerate(lengths)]
    batch = np.zeros((len(clips), max(lengths) + 1000), np.float32)  # extra padding on purpose
    for i, clip in enumerate(clips):
        batch[i, : len(clip)] = clip
    batched = audio_frontend.log_mel_spectrogram(tf.constant(batch)).numpy()
    frames = audio_frontend.num_frames_tf(tf.constant(lengths)).numpy()
    for i, clip in enumerate(clips):
        alone = audio_frontend.log_mel_spectrogram(tf.constant(clip)).numpy()
        assert alone.shape[0] == frames[i] == audio_frontend.num_frames(len(clip))
        np.testing.assert_allclose(batched[i, : frames[i]], alone, atol=1e-5, rtol=0)


def test_1khz_sine_lands_in_band_containing_1khz():
    t = np.arange(AUDIO.sample_rate) / AUDIO.sample_rate
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    band_energy = audio_frontend.log_mel_spectrogram(tf.constant(x)).numpy()[2:-4].mean(axis=0)
    edges_hz = _mel_to_hz(_ref_band_edges_mel(AUDIO))
    top_two = np.argsort(band_energy)[::-1][:2]
    for band in top_two:  # 1 kHz sits between two centres, so both triangles cover it
        assert edges_hz[band] < 1000.0 < edges_hz[band + 2]
    far = np.abs(np.arange(AUDIO.n_mels) - top_two[0]) > 3
    assert band_energy[far].max() < band_energy[top_two[0]] - np.log(100.0)


def test_works_inside_tf_function_with_unknown_shapes():
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def frontend(audio):
        fb = audio_frontend.mel_filterbank()  # numpy via init_scope, even while tracing
        return audio_frontend.log_mel_spectrogram(audio), tf.constant(fb.shape)

    out, fb_shape = frontend(tf.zeros([2, 1000]))
    assert out.shape == (2, 4, AUDIO.n_mels)
    assert tuple(fb_shape.numpy()) == (AUDIO.n_fft // 2 + 1, AUDIO.n_mels)


def test_mel_to_linear_is_pseudo_inverse():
    fb = audio_frontend.mel_filterbank()
    inverse = audio_frontend.mel_to_linear_matrix()
    assert inverse.shape == (AUDIO.n_mels, AUDIO.n_fft // 2 + 1) and inverse.dtype == np.float32
    np.testing.assert_allclose(fb @ inverse @ fb, fb, atol=1e-4)
    # Full column rank: mel -> linear -> mel is the identity.
    np.testing.assert_allclose(inverse @ fb, np.eye(AUDIO.n_mels), atol=1e-4)


@pytest.mark.parametrize("config", [AUDIO, SMALL], ids=["audio", "small"])
def test_filterbank_is_tensorflows_matrix(config):
    """The numpy filterbank (built once, not per trace) is tf.signal's, to float32 rounding."""
    expected = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config.n_mels,
        num_spectrogram_bins=config.n_fft // 2 + 1,
        sample_rate=config.sample_rate,
        lower_edge_hertz=config.fmin,
        upper_edge_hertz=config.fmax,
    ).numpy()
    np.testing.assert_allclose(audio_frontend.mel_filterbank(config), expected, atol=2e-5)


def test_log_mel_builds_in_a_tf1_graph():
    """tf.Transform may trace in a TF1 graph (no eager, no init_scope escape)."""
    with tf.Graph().as_default():
        audio = tf.compat.v1.placeholder(tf.float32, [None, None])
        mel = audio_frontend.log_mel_spectrogram(audio)
        with tf.compat.v1.Session() as session:
            out = session.run(mel, {audio: np.zeros([1, 1000], np.float32)})
    assert out.shape == (1, 4, AUDIO.n_mels)
