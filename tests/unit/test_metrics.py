"""Speech metrics on cases with known answers."""

import numpy as np
import pytest

from models.metrics import (
    dtw_path,
    length_ratio,
    masked_mel_l1,
    mel_cepstral_distortion,
    mel_cepstrum,
)


def _utterance(frames: int = 60, seed: int = 0) -> np.ndarray:
    """A smooth log-mel trajectory, distinct frame to frame (so DTW has something to align)."""
    rng = np.random.default_rng(seed)
    keys = rng.normal(-4.0, 1.5, size=(8, 80))
    t = np.linspace(0, 7, frames)
    return np.stack([np.interp(t, np.arange(8), keys[:, b]) for b in range(80)], axis=1)


def test_identical_inputs_give_zero_mcd():
    mel = _utterance()
    assert mel_cepstral_distortion(mel, mel) == pytest.approx(0.0, abs=1e-9)


def test_dtw_absorbs_a_time_stretch_that_a_straight_comparison_cannot():
    mel = _utterance(60)
    stretched = np.repeat(mel, 2, axis=0)  # the same speech, half the speed
    assert mel_cepstral_distortion(mel, stretched) < 0.5
    shifted = mel + np.linspace(0, 1.0, 80)[None, :]  # a tilted spectrum
    noisy = mel + np.random.default_rng(1).normal(0, 0.5, mel.shape)
    assert mel_cepstral_distortion(mel, shifted) > 0.5
    assert mel_cepstral_distortion(mel, noisy) > 0.5
    assert mel_cepstral_distortion(mel, noisy) > mel_cepstral_distortion(mel, stretched)


def test_dtw_path_matches_brute_force_on_a_small_case():
    cost = np.array([[0, 5, 5, 5], [5, 0, 0, 5], [5, 5, 5, 0]], float)
    rows, cols = dtw_path(cost)
    assert list(zip(rows, cols, strict=True)) == [(0, 0), (1, 1), (1, 2), (2, 3)]
    assert cost[rows, cols].sum() == 0


def test_cepstrum_drops_energy_so_a_level_change_is_free():
    mel = _utterance()
    np.testing.assert_allclose(mel_cepstrum(mel), mel_cepstrum(mel + 3.0), atol=1e-9)


def test_cepstrum_scaling_recovers_a_known_cosine_ripple():
    """log|H| = 2 c3 cos(3 w) must give back c3 (the cepstrum's definition), nothing else."""
    bands = np.arange(80)
    ripple = 2 * 0.25 * np.cos(3 * np.pi * (bands + 0.5) / 80)
    cepstra = mel_cepstrum(ripple[None, :])[0]
    assert cepstra[2] == pytest.approx(0.25, abs=1e-9)  # c3 is the third (c1 first)
    np.testing.assert_allclose(np.delete(cepstra, 2), 0.0, atol=1e-9)


def test_masked_l1_ignores_padding_and_length_ratio():
    target = np.zeros((2, 10, 80))
    predicted = np.zeros((2, 12, 80))
    predicted[0, 5:] = 7.0  # beyond row 0's length: must not count
    predicted[1, :4] = 1.0
    np.testing.assert_allclose(masked_mel_l1(predicted, target, np.array([5, 8])), [0.0, 0.5])
    np.testing.assert_allclose(length_ratio([50, 30], [100, 30]), [0.5, 1.0])
