"""Building blocks of the non-autoregressive acoustic models (FastSpeech FFT blocks, Mixer-TTS
mixer blocks, duration predictor, length regulator), all masked explicitly by sequence length.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def sequence_mask(lengths, max_length) -> keras.KerasTensor:
    """Boolean [B, max_length]: True at positions < lengths[b] (every family's masks)."""
    positions = ops.arange(max_length, dtype="int32")
    return ops.less(positions[None, :], ops.cast(lengths, "int32")[:, None])


def apply_mask(x, mask):
    """Zeroes x [B, L, D] where mask [B, L] is False."""
    return x * ops.cast(mask, x.dtype)[:, :, None]


def durations_to_alignment(durations, num_frames):
    """Hard alignment [B, F, T] (float) that repeats token t for durations[b, t] frames.

    Frames beyond sum(durations[b]) get all-zero rows; durations past num_frames are cut.
    """
    durations = ops.cast(durations, "int32")
    ends = ops.cumsum(durations, axis=1)
    starts = ends - durations
    frames = ops.arange(num_frames, dtype="int32")[None, :, None]
    inside = ops.logical_and(
        ops.greater_equal(frames, starts[:, None, :]), ops.less(frames, ends[:, None, :])
    )
    return ops.cast(inside, "float32")


@keras.saving.register_keras_serializable(package="tts")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Transformer sine/cosine position encoding, returned in the shape of its input."""

    def __init__(self, max_wavelength: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength

    def call(self, x):
        length, dim = ops.shape(x)[1], ops.shape(x)[2]
        positions = ops.cast(ops.arange(length), self.compute_dtype)[:, None]
        # Sine on even channels, cosine on odd ones, sharing one frequency per pair.
        channels = ops.arange(dim)
        pair = ops.cast(channels // 2 * 2, self.compute_dtype)
        inverse_freq = ops.exp(-math.log(self.max_wavelength) * pair / ops.cast(dim, pair.dtype))
        angles = positions * inverse_freq[None, :]
        is_even = ops.equal(channels % 2, 0)[None, :]
        encoding = ops.where(is_even, ops.sin(angles), ops.cos(angles))
        return ops.broadcast_to(encoding[None], ops.shape(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="tts")
class FFTBlock(keras.layers.Layer):
    """FastSpeech feed-forward Transformer block: self-attention then a 2-layer 1-D conv net,
    each with residual, dropout and post-LayerNorm. Padded positions are zero on output.

    `attention_dropout` (None: `dropout`) drops attention probabilities: one random mask of
    batch x heads x length x length, so on frames it is most of what dropout costs a step.
    """

    def __init__(
        self,
        hidden_dim: int,
        num_heads: int,
        conv_filters: int,
        conv_kernel_size: int = 3,
        dropout: float = 0.1,
        attention_dropout: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.conv_filters = conv_filters
        self.conv_kernel_size = conv_kernel_size
        self.dropout = dropout
        self.attention_dropout = dropout if attention_dropout is None else attention_dropout

    def build(self, input_shape):
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads,
            self.hidden_dim // self.num_heads,
            dropout=self.attention_dropout,
            name="attention",
        )
        self.attention.build(input_shape, input_shape)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention_norm.build(input_shape)
        self.conv_in = keras.layers.Conv1D(
            self.conv_filters,
            self.conv_kernel_size,
            padding="same",
            activation="relu",
            name="conv_in",
        )
        self.conv_in.build(input_shape)
        self.conv_out = keras.layers.Conv1D(
            self.hidden_dim, self.conv_kernel_size, padding="same", name="conv_out"
        )
        self.conv_out.build((*input_shape[:-1], self.conv_filters))
        self.conv_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="conv_norm")
        self.conv_norm.build(input_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.built = True

    def call(self, x, padding_mask, training=None):
        # Key padding mask only: padded queries produce garbage that apply_mask zeroes below.
        length = ops.shape(x)[1]
        key_mask = ops.repeat(padding_mask[:, None, :], length, axis=1)
        attended = self.attention(x, x, attention_mask=key_mask, training=training)
        x = self.attention_norm(x + self.dropout_layer(attended, training=training))
        x = apply_mask(x, padding_mask)
        # Zero padding before each conv so extra padding reads exactly like the conv's own.
        hidden = apply_mask(self.conv_in(x), padding_mask)
        hidden = self.dropout_layer(self.conv_out(hidden), training=training)
        return apply_mask(self.conv_norm(x + hidden), padding_mask)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "conv_filters": self.conv_filters,
            "conv_kernel_size": self.conv_kernel_size,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
        }


# TF 2.16's oneDNN CPU depthwise convolution crashes (SIGSEGV/SIGFPE) for kernels of 13 taps or
# more; kernels up to 12 were fine in every shape tried, so wide kernels run as 8-tap pieces.
_DEPTHWISE_CHUNK = 8


@keras.saving.register_keras_serializable(package="tts")
class ChunkedDepthwiseConv1D(keras.layers.Layer):
    """Depthwise 1-D convolution, "same" padding, stride 1: one kernel_size-tap filter and bias
    per channel. Equal to keras.layers.DepthwiseConv1D, but computed as a sum of convolutions of
    at most 8 taps each (see _DEPTHWISE_CHUNK), so wide Mixer-TTS kernels run on TF CPU too.
    """

    def __init__(self, kernel_size: int, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(self.kernel_size, channels, 1), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")
        self.built = True

    def call(self, x):
        left = (self.kernel_size - 1) // 2
        padded = ops.pad(x, ((0, 0), (left, self.kernel_size - 1 - left), (0, 0)))
        length = ops.shape(x)[1]
        kernel = ops.cast(self.kernel, x.dtype)
        # Taps [start, stop) of the full kernel see padded[start : start + length + taps - 1].
        y = None
        for start in range(0, self.kernel_size, _DEPTHWISE_CHUNK):
            stop = min(start + _DEPTHWISE_CHUNK, self.kernel_size)
            piece = padded[:, start : start + length + stop - start - 1, :]
            part = ops.depthwise_conv(piece, kernel[start:stop], strides=1, padding="valid")
            y = part if y is None else y + part
        return y + ops.cast(self.bias, x.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="tts")
class MixerBlock(keras.layers.Layer):
    """Mixer-TTS block (Tatanov et al. 2022): pre-norm time mixing, then pre-norm channel MLP.

    Token mixing is the Mixer-TTS "time-mix" variant, two depthwise 1-D convolutions along the
    sequence, rather than MLP-Mixer's dense layer over a fixed length: it handles any length,
    and zeroing padded positions before each conv keeps padding out of real positions.
    `output_norm`: the last block of a pre-norm stack ends with the stack's LayerNorm (the
    reference's norm after its mixer blocks), so the stack's output is normalised too.
    """

    def __init__(
        self,
        hidden_dim: int,
        kernel_size: int,
        expansion_factor: int = 4,
        dropout: float = 0.1,
        output_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.kernel_size = kernel_size
        self.expansion_factor = expansion_factor
        self.dropout = dropout
        self.output_norm = output_norm

    def build(self, input_shape):
        self.time_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="time_norm")
        self.time_conv_in = ChunkedDepthwiseConv1D(self.kernel_size, name="time_conv_in")
        self.time_conv_out = ChunkedDepthwiseConv1D(self.kernel_size, name="time_conv_out")
        self.channel_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="channel_norm")
        self.channel_in = keras.layers.Dense(
            self.hidden_dim * self.expansion_factor, name="channel_in"
        )
        self.channel_out = keras.layers.Dense(self.hidden_dim, name="channel_out")
        for layer in (self.time_norm, self.time_conv_in, self.time_conv_out, self.channel_norm):
            layer.build(input_shape)
        self.channel_in.build(input_shape)
        self.channel_out.build((*input_shape[:-1], self.hidden_dim * self.expansion_factor))
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.final_norm = None
        if self.output_norm:
            self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
            self.final_norm.build(input_shape)
        self.built = True

    def call(self, x, padding_mask, training=None):
        mixed = apply_mask(self.time_norm(x), padding_mask)
        mixed = apply_mask(keras.activations.gelu(self.time_conv_in(mixed)), padding_mask)
        mixed = self.time_conv_out(self.dropout_layer(mixed, training=training))
        x = apply_mask(x + self.dropout_layer(mixed, training=training), padding_mask)
        mixed = keras.activations.gelu(self.channel_in(self.channel_norm(x)))
        mixed = self.channel_out(self.dropout_layer(mixed, training=training))
        x = apply_mask(x + self.dropout_layer(mixed, training=training), padding_mask)
        if self.final_norm is not None:
            x = apply_mask(self.final_norm(x), padding_mask)
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "kernel_size": self.kernel_size,
            "expansion_factor": self.expansion_factor,
            "dropout": self.dropout,
            "output_norm": self.output_norm,
        }


@keras.saving.register_keras_serializable(package="tts")
class DurationPredictor(keras.layers.Layer):
    """FastSpeech duration predictor: 2 x (conv, ReLU, LayerNorm, dropout), then a linear
    layer giving one log-domain duration per token ([B, T], zero at padding); the models train
    it on log(1 + frames).

    A squared error in the log domain learns the mean of log(1 + d), so exp of it is the
    median duration, not the mean: with the residual spread of a small voice (variance ~0.4)
    speech came out 22% short. The layer also learns that spread (one scalar, fitted by a
    Gaussian likelihood of the detached residuals, so the predictor's own training is
    unchanged) and `frames` returns the lognormal mean, exp(mu + variance / 2) - 1.
    """

    def __init__(self, filters: int = 256, kernel_size: int = 3, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.dropout = dropout

    def build(self, input_shape):
        hidden_shape = (*input_shape[:-1], self.filters)
        self.convs, self.norms = [], []
        for i, shape in enumerate((input_shape, hidden_shape)):
            conv = keras.layers.Conv1D(
                self.filters,
                self.kernel_size,
                padding="same",
                activation="relu",
                name=f"conv_{i}",
            )
            conv.build(shape)
            norm = keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm_{i}")
            norm.build(hidden_shape)
            self.convs.append(conv)
            self.norms.append(norm)
        self.projection = keras.layers.Dense(1, name="projection")
        self.projection.build(hidden_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.residual_log_variance = self.add_weight(
            shape=(), initializer="zeros", name="residual_log_variance"
        )
        self.built = True

    def call(self, x, padding_mask, training=None):
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = apply_mask(x, padding_mask)
            x = self.dropout_layer(norm(conv(x)), training=training)
        log_duration = ops.squeeze(self.projection(x), axis=-1)
        return log_duration * ops.cast(padding_mask, log_duration.dtype)

    def spread_loss(self, log_prediction, log_target, token_mask):
        """Gaussian negative log-likelihood of the residuals under the learned variance; the
        residuals are detached, so only the variance learns from it (its optimum is their
        mean square)."""
        residual = ops.stop_gradient(ops.cast(log_prediction, "float32") - log_target)
        log_variance = ops.cast(self.residual_log_variance, "float32")
        nll = 0.5 * (log_variance + ops.square(residual) * ops.exp(-log_variance))
        return ops.sum(nll * token_mask) / ops.maximum(ops.sum(token_mask), 1.0)

    def frames(self, log_duration, mean: bool = True):
        """Whole frames per token, at least 1: the lognormal mean (`mean`) or the median."""
        log_duration = ops.cast(log_duration, "float32")
        if mean:
            log_duration = log_duration + 0.5 * ops.exp(
                ops.cast(self.residual_log_variance, "float32")
            )
        return ops.maximum(ops.round(ops.exp(log_duration) - 1.0), 1.0)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout,
        }


class FrameBound(int):
    """A max_frames that bounds rather than fixes: LengthRegulator makes F the longest
    predicted total, at most this many (a dynamic shape), so synthesis costs what the batch
    says, not the export's maximum. A plain int still fixes F (TFLite needs a static shape)."""


@keras.saving.register_keras_serializable(package="tts")
class LengthRegulator(keras.layers.Layer):
    """Expands encoder states [B, T, D] by integer durations [B, T] into frames [B, F, D].

    A batched matmul with the hard alignment, so it stays in keras.ops. F is max_frames when
    given (a static shape for export; longer outputs are cut), else the longest total duration,
    capped at max_frames when that is a FrameBound. Returns (frames, alignment [B, F, T],
    frame_length [B]).
    """

    def call(self, x, durations, max_frames: int | None = None):
        durations = ops.cast(durations, "int32")
        total = ops.sum(durations, axis=1)
        if max_frames is None or isinstance(max_frames, FrameBound):
            num_frames = ops.maximum(ops.max(total), 1)
            if max_frames is not None:
                num_frames = ops.minimum(num_frames, int(max_frames))
        else:
            num_frames = max_frames
        alignment = ops.cast(durations_to_alignment(durations, num_frames), x.dtype)
        frames = ops.einsum("bft,btd->bfd", alignment, x)
        return frames, alignment, ops.minimum(total, num_frames)


@keras.saving.register_keras_serializable(package="tts")
class Postnet(keras.layers.Layer):
    """Small residual conv postnet on the mel (conv, LayerNorm, tanh, dropout; last conv linear).

    LayerNorm rather than Tacotron's BatchNorm so padding never enters the statistics.
    """

    def __init__(
        self,
        num_layers: int = 5,
        filters: int = 256,
        kernel_size: int = 5,
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.filters = filters
        self.kernel_size = kernel_size
        self.dropout = dropout

    def build(self, input_shape):
        n_mels = input_shape[-1]
        self.convs, self.norms = [], []
        shape = input_shape
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            conv = keras.layers.Conv1D(
                n_mels if last else self.filters,
                self.kernel_size,
                padding="same",
                name=f"conv_{i}",
            )
            conv.build(shape)
            self.convs.append(conv)
            shape = (*input_shape[:-1], n_mels if last else self.filters)
            if not last:
                norm = keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm_{i}")
                norm.build(shape)
                self.norms.append(norm)
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.built = True

    def call(self, mel, padding_mask, training=None):
        x = mel
        for i, conv in enumerate(self.convs):
            x = conv(apply_mask(x, padding_mask))
            if i < len(self.norms):
                x = self.dropout_layer(ops.tanh(self.norms[i](x)), training=training)
        return apply_mask(mel + x, padding_mask)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout,
        }
