"""Speech metrics in numpy: mel-cepstral distortion with DTW, masked mel L1, length ratio.

MCD here is computed on mel-cepstra of the 80-band log-mel (the only spectrum a mel model
has), so figures compare across our models and runs, not with MCDs from WORLD/SPTK analysis.

Used by the evaluator (held-out speech), the training benchmark and TFLite parity reports.
"""

from __future__ import annotations

import numpy as np

# Mel-cepstral order, as in the classic MCD setups (SPTK mcep order 24).
N_CEPSTRA = 24
# MCD's conventional constant: (10 / ln 10) * sqrt(2) turns a cepstral distance into dB.
_MCD_DB = 10.0 / np.log(10.0) * np.sqrt(2.0)


def cepstrum_basis(n_bands: int, n_out: int) -> np.ndarray:
    """[n_bands, n_out] cosine basis with the cepstrum's scaling.

    log|H(w)| = c0 + 2 sum_k c_k cos(k w) gives c_k = (1/pi) integral of log|H| cos(k w) over
    [0, pi]; sampled at the band centres w_m = pi (m + 1/2) / M that is (1/M) sum_m.
    """
    k = np.arange(n_out)[None, :]
    m = np.arange(n_bands)[:, None]
    return np.cos(np.pi * k * (m + 0.5) / n_bands) / n_bands


def mel_cepstrum(log_mel: np.ndarray, order: int = N_CEPSTRA) -> np.ndarray:
    """[F, n_mels] natural-log mel amplitude -> [F, order] mel-cepstra c1..c_order.

    c0 (overall level) is left out, as MCD conventionally does.
    """
    log_mel = np.asarray(log_mel, np.float64)
    return log_mel @ cepstrum_basis(log_mel.shape[1], order + 1)[:, 1:]


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
    ref = mel_cepstrum(reference_log_mel)
    syn = mel_cepstrum(synthesized_log_mel)
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
