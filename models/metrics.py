"""Speech metrics in numpy: mel-cepstral distortion with DTW, masked mel L1, length ratio.

Used by the evaluator (held-out speech), the training benchmark and TFLite parity reports.
"""

from __future__ import annotations

import numpy as np

N_MFCC = 13
# MCD's conventional constant: (10 / ln 10) * sqrt(2) turns a cepstral distance into dB.
_MCD_DB = 10.0 / np.log(10.0) * np.sqrt(2.0)


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II basis [n_in, n_out], the cepstrum of a log-mel frame."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    basis = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


def mfcc_from_log_mel(log_mel: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """[F, n_mels] natural-log mel -> [F, n_mfcc] cepstra c1..c_n (c0, the energy, dropped)."""
    log_mel = np.asarray(log_mel, np.float64)
    return log_mel @ dct_matrix(log_mel.shape[1], n_mfcc + 1)[:, 1:]


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost monotonic alignment of a [N, M] cost matrix; returns (rows, cols).

    Row by row, the in-row recurrence D[j] = c[j] + min(m[j], D[j-1]) is solved in closed
    form with a cumulative minimum, so only the N rows loop in Python.
    """
    n, m = cost.shape
    total = np.full((n, m), np.inf)
    total[0] = np.cumsum(cost[0])
    for i in range(1, n):
        above = total[i - 1]
        diagonal = np.concatenate([[np.inf], above[:-1]])
        best_in = np.minimum(above, diagonal)
        prefix = np.cumsum(cost[i])
        shifted = np.concatenate([[0.0], prefix[:-1]])
        total[i] = prefix + np.minimum.accumulate(best_in - shifted)
    rows, cols = [n - 1], [m - 1]
    i, j = n - 1, m - 1
    while i > 0 or j > 0:
        options = []
        if i > 0 and j > 0:
            options.append((total[i - 1, j - 1], i - 1, j - 1))
        if i > 0:
            options.append((total[i - 1, j], i - 1, j))
        if j > 0:
            options.append((total[i, j - 1], i, j - 1))
        _, i, j = min(options)
        rows.append(i)
        cols.append(j)
    return np.array(rows[::-1]), np.array(cols[::-1])


def mel_cepstral_distortion(reference_log_mel: np.ndarray, synthesized_log_mel: np.ndarray):
    """MCD in dB between two log-mel sequences of any lengths, frames paired by DTW."""
    ref = mfcc_from_log_mel(reference_log_mel)
    syn = mfcc_from_log_mel(synthesized_log_mel)
    if len(ref) == 0 or len(syn) == 0:
        raise ValueError("MCD needs at least one frame on each side")
    cost = np.sqrt(((ref[:, None, :] - syn[None, :, :]) ** 2).sum(-1))
    rows, cols = dtw_path(cost)
    return float(_MCD_DB * np.mean(np.sqrt(((ref[rows] - syn[cols]) ** 2).sum(-1))))


def masked_mel_l1(predicted: np.ndarray, target: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per-utterance mean |predicted - target| over each row's first `lengths` frames."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    frames = min(predicted.shape[1], target.shape[1])
    mask = np.arange(frames)[None, :] < np.asarray(lengths)[:, None]
    diff = np.abs(predicted[:, :frames] - target[:, :frames]).mean(-1)
    return (diff * mask).sum(1) / np.maximum(mask.sum(1), 1)


def length_ratio(synthesized_frames, reference_frames) -> np.ndarray:
    return np.asarray(synthesized_frames, np.float64) / np.maximum(reference_frames, 1)
