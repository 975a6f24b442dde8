"""Unsupervised text-to-mel alignment: the Gaussian likelihood of reference frames under token mel
means (Grad-TTS, Popov et al. 2021), the beta-binomial prior of Badlani et al. 2021, and monotonic
alignment search (Glow-TTS, Kim et al. 2020) for the most likely path.
"""

from __future__ import annotations

import math

from keras import ops

from models.layers.nar_blocks import sequence_mask

# Log-score of impossible cells. Finite so no inf - inf NaNs; far below any real path score.
_NEG = -1e9
# Real log-probabilities are clipped here in the search, so a valid path (at most ~1e4 frames)
# always scores above an impossible one.
_MIN_LOG_PROB = -1e4
_LANCZOS_G = 7.0
_LANCZOS_COEFFS = (
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61503916999185,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
)


def _lgamma(x):
    """log Gamma(x) for x >= 1 by the Lanczos approximation (keras.ops has no lgamma)."""
    x = x - 1.0
    series = ops.full_like(x, _LANCZOS_COEFFS[0])
    for i, coeff in enumerate(_LANCZOS_COEFFS[1:], start=1):
        series = series + coeff / (x + float(i))
    t = x + _LANCZOS_G + 0.5
    return 0.5 * math.log(2.0 * math.pi) + (x + 0.5) * ops.log(t) - t + ops.log(series)


def beta_binomial_log_prior(token_length, mel_length, max_tokens, max_frames, scaling=1.0):
    """The paper's static 2-D prior: log BetaBinomial(t; T, s*(f+1), s*(F-f)) as [B, F, T].

    Floored at log(1e-8) as in the reference code; zero outside the valid region.
    """
    n = ops.cast(token_length, "float32")[:, None, None]
    frames_b = ops.cast(mel_length, "float32")[:, None, None]
    k = ops.cast(ops.arange(max_tokens), "float32")[None, None, :]
    f = ops.cast(ops.arange(max_frames), "float32")[None, :, None]
    valid = ops.logical_and(ops.less(k, n), ops.less(f, frames_b))
    # Keep every lgamma argument >= 1 outside the valid region (values there are dropped).
    k = ops.where(valid, k, 0.0)
    n = ops.maximum(n, 1.0)
    a = ops.where(valid, scaling * (f + 1.0), 1.0)
    b = ops.where(valid, scaling * (frames_b - f), 1.0)
    log_pmf = (
        _lgamma(n + 1.0)
        - _lgamma(k + 1.0)
        - _lgamma(n - k + 1.0)
        + _lgamma(k + a)
        + _lgamma(n - k + b)
        - _lgamma(n + a + b)
        - _lgamma(a)
        - _lgamma(b)
        + _lgamma(a + b)
    )
    log_prior = ops.logaddexp(log_pmf, math.log(1e-8))
    return ops.where(valid, log_prior, 0.0)


def gaussian_log_likelihood(mel, means):
    """log N(mel_f; mean_t, I) per band, up to a constant, as [B, F, T]: how well token t's
    predicted mean explains frame f. Divided by the band count so that the prior's weight
    does not depend on n_mels. ||x - m||^2 expanded: no [B, F, T, n_mels] intermediate."""
    squared = (
        ops.sum(ops.square(mel), axis=-1)[:, :, None]
        + ops.sum(ops.square(means), axis=-1)[:, None, :]
        - 2.0 * ops.einsum("bfd,btd->bft", mel, means)
    )
    return -0.5 * ops.maximum(squared, 0.0) / ops.cast(ops.shape(mel)[-1], squared.dtype)


def monotonic_alignment_search(log_attn, token_length, mel_length):
    """Most likely monotonic hard alignment (Viterbi) under log_attn [B, F, T].

    Every real frame maps to one token; tokens are visited in order from 0 to T_b - 1, each at
    least once when mel_length >= token_length. Returns (hard [B, F, T] float one-hot rows, zero
    rows at padded frames; durations [B, T] int32 summing to mel_length). No gradient.
    """
    log_attn = ops.stop_gradient(ops.cast(log_attn, "float32"))
    token_length = ops.cast(token_length, "int32")
    mel_length = ops.cast(mel_length, "int32")
    max_frames, max_tokens = ops.shape(log_attn)[1], ops.shape(log_attn)[2]
    token_mask = sequence_mask(token_length, max_tokens)
    frame_valid = ops.cast(sequence_mask(mel_length, max_frames), "int32")
    scores = ops.where(token_mask[:, None, :], ops.maximum(log_attn, _MIN_LOG_PROB), _NEG)
    # Column 0 is a virtual start state: the path leaves it into token 0 at frame 0 and can
    # never stay there, so no path starts on a later token.
    scores = ops.pad(scores, ((0, 0), (0, 0), (1, 0)), constant_values=_NEG)
    frame_valid_tm = ops.transpose(frame_valid)  # [F, B]

    # Keras 3.12's TensorFlow scan fails on several inputs of unknown length, so each scan
    # takes one tensor: the per-frame values with the frame-valid flag as a last column.
    valid_column = ops.cast(frame_valid_tm, "float32")[:, :, None]

    def forward(best, inputs):
        frame_scores, valid = inputs[:, :-1], inputs[:, -1]
        from_previous = ops.pad(best[:, :-1], ((0, 0), (1, 0)), constant_values=_NEG)
        moved = ops.greater(from_previous, best)
        updated = ops.maximum(from_previous, best) + frame_scores
        best = ops.where(ops.greater(valid, 0)[:, None], updated, best)
        # Same shape and dtype as the carry: the TensorFlow scan requires it.
        return best, ops.cast(moved, best.dtype)

    start = ops.pad(ops.full_like(scores[:, 0, 1:], _NEG), ((0, 0), (1, 0)), constant_values=0.0)
    forward_inputs = ops.concatenate([ops.transpose(scores, (1, 0, 2)), valid_column], axis=-1)
    _, moved = ops.scan(forward, start, forward_inputs)
    moved = moved[:, :, 1:]  # [F, B, T]: frame f at token t came from token t - 1

    def backward(token, inputs):
        frame_moved, valid = inputs[:, :-1], inputs[:, -1]
        is_real = ops.greater(valid, 0)
        step = ops.cast(ops.sum(frame_moved * ops.one_hot(token, max_tokens), axis=-1), "int32")
        path = ops.where(is_real, token, -1)
        token = ops.where(is_real, ops.maximum(token - step, 0), token)
        return token, path

    last_token = ops.maximum(token_length - 1, 0)
    backward_inputs = ops.concatenate([moved, valid_column], axis=-1)
    _, path = ops.scan(backward, last_token, backward_inputs, reverse=True)
    path = ops.transpose(path)  # [B, F], -1 at padded frames
    hard = (
        ops.one_hot(ops.maximum(path, 0), max_tokens)
        * ops.cast(ops.greater_equal(path, 0), "float32")[:, :, None]
    )
    hard = ops.stop_gradient(hard)
    durations = ops.stop_gradient(ops.cast(ops.sum(hard, axis=1), "int32"))
    return hard, durations
