"""Unsupervised text-to-mel alignment after Badlani et al. 2021, "One TTS Alignment to Rule Them
All": soft aligner, forward-sum (CTC) loss, monotonic alignment search and binarisation loss.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from models.layers.nar_blocks import apply_mask, sequence_mask

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


@keras.saving.register_keras_serializable(package="tts")
class AlignmentEncoder(keras.layers.Layer):
    """Soft text-to-mel aligner: softmax over tokens of -temperature * ||query_f - key_t||^2.

    Keys are text embeddings through 2 convs, queries mel frames through 3 convs (widths as in
    the reference implementation). `call(text, mel, token_length, mel_length, log_prior=None)`
    returns (log_probs, probs), both [B, F, T]; log_probs are ~-1e9 at padded tokens, probs zero
    at padded tokens and frames.
    """

    def __init__(
        self,
        attention_dim: int = 80,
        temperature: float = 0.0005,
        kernel_size: int = 3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attention_dim = attention_dim
        self.temperature = temperature
        self.kernel_size = kernel_size

    def build(self, text_shape, mel_shape):
        text_dim, n_mels = text_shape[-1], mel_shape[-1]
        conv = keras.layers.Conv1D
        self.key_convs = [
            conv(2 * text_dim, self.kernel_size, padding="same", activation="relu", name="key_0"),
            conv(self.attention_dim, 1, name="key_1"),
        ]
        self.query_convs = [
            conv(2 * n_mels, self.kernel_size, padding="same", activation="relu", name="query_0"),
            conv(n_mels, 1, activation="relu", name="query_1"),
            conv(self.attention_dim, 1, name="query_2"),
        ]
        for convs, shape in ((self.key_convs, text_shape), (self.query_convs, mel_shape)):
            for layer in convs:
                layer.build(shape)
                shape = (*shape[:-1], layer.filters)
        self.built = True

    def call(self, text, mel, token_length, mel_length, log_prior=None):
        token_mask = sequence_mask(token_length, ops.shape(text)[1])
        frame_mask = sequence_mask(mel_length, ops.shape(mel)[1])
        # Only the first conv of each stack has width > 1, and it sees zeroed padding.
        keys = apply_mask(text, token_mask)
        for layer in self.key_convs:
            keys = layer(keys)
        queries = apply_mask(mel, frame_mask)
        for layer in self.query_convs:
            queries = layer(queries)
        # ||q - k||^2 expanded, so no [B, F, T, D] intermediate.
        distance = (
            ops.sum(ops.square(queries), axis=-1)[:, :, None]
            + ops.sum(ops.square(keys), axis=-1)[:, None, :]
            - 2.0 * ops.einsum("bfd,btd->bft", queries, keys)
        )
        key_mask = token_mask[:, None, :]
        # float32 under mixed precision: -1e9 and the squared distances overflow float16.
        distance = ops.cast(distance, "float32")
        scores = ops.where(key_mask, -self.temperature * ops.maximum(distance, 0.0), _NEG)
        log_probs = ops.log_softmax(scores, axis=-1)
        if log_prior is not None:
            log_probs = ops.where(key_mask, log_probs + ops.cast(log_prior, log_probs.dtype), _NEG)
            log_probs = ops.log_softmax(log_probs, axis=-1)
        probs = ops.exp(log_probs) * ops.cast(frame_mask, log_probs.dtype)[:, :, None]
        return log_probs, probs

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "attention_dim": self.attention_dim,
            "temperature": self.temperature,
            "kernel_size": self.kernel_size,
        }


def forward_sum_loss(log_attn, token_length, mel_length):
    """Forward-sum loss: -log of the total probability of every monotonic path, per token.

    The paper's code gets this from a CTC loss with a blank column. CTC on dense labels is a
    generic (2T+1)-state transition matmul per frame, 60 % of a whole training step on CPU; the
    path set here is the simpler one that monotonic alignment search maximises over (each frame
    on one token, tokens in order from the first to the last, none skipped), so one scan over
    frames with a [B, T] carry computes it. Per-utterance loss divided by T, batch mean.
    Utterances with fewer frames than tokens end on token mel_length - 1 (keeps it finite).
    """
    token_length = ops.cast(token_length, "int32")
    mel_length = ops.cast(mel_length, "int32")
    log_attn = ops.cast(log_attn, "float32")
    max_frames, max_tokens = ops.shape(log_attn)[1], ops.shape(log_attn)[2]
    token_mask = sequence_mask(token_length, max_tokens)
    scores = ops.where(token_mask[:, None, :], ops.maximum(log_attn, _MIN_LOG_PROB), _NEG)
    valid_column = ops.cast(ops.transpose(sequence_mask(mel_length, max_frames)), "float32")
    inputs = ops.concatenate([ops.transpose(scores, (1, 0, 2)), valid_column[:, :, None]], -1)

    def step(alpha, frame):
        frame_scores, valid = frame[:, :-1], frame[:, -1:]
        from_previous = ops.pad(alpha[:, :-1], ((0, 0), (1, 0)), constant_values=_NEG)
        updated = ops.logaddexp(alpha, from_previous) + frame_scores
        alpha = ops.where(ops.greater(valid, 0), updated, alpha)
        return alpha, alpha  # the TensorFlow scan wants outputs shaped like the carry

    # Frame 0 can only be on token 0; the scan runs over the frames after it.
    is_first_token = ops.equal(ops.arange(max_tokens)[None, :], 0)
    alpha, _ = ops.scan(step, ops.where(is_first_token, scores[:, 0], _NEG), inputs[1:])
    last = ops.maximum(ops.minimum(token_length, mel_length) - 1, 0)
    log_total = ops.sum(alpha * ops.one_hot(last, max_tokens), axis=-1)
    reachable = ops.maximum(ops.minimum(token_length, mel_length), 1)
    return ops.mean(-log_total / ops.cast(reachable, "float32"))


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


def bin_loss(hard_attn, soft_attn, eps: float = 1e-12):
    """Binarisation loss -sum(hard * log soft) / sum(hard): pulls the soft alignment onto MAS."""
    hard_attn = ops.cast(hard_attn, "float32")
    log_soft = ops.log(ops.clip(ops.cast(soft_attn, "float32"), eps, 1.0))
    return -ops.sum(hard_attn * log_soft) / ops.maximum(ops.sum(hard_attn), 1.0)
