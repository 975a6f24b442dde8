"""The acoustic model as a fixed-shape, batch-1 function for conversion: token ids -> mel.

Same math as the SavedModel's `synthesize_mel` (models/export.py): the family's `infer`, then
de-normalisation with the training set's mel statistics and masking past mel_length.
tacotron2's prenet dropout noise is a model input (see PRENET_NOISE). The NAR families decode
only the frames the durations call for (FrameBound), then pad to the fixed output shape.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from models.layers.nar_blocks import (
    ChunkedDepthwiseConv1D,
    FrameBound,
    SinusoidalPositionalEncoding,
)
from models.registry import MEL, MEL_LENGTH, TOKEN_IDS, TOKEN_LENGTH

# tacotron2 only: the prenet's scaled keep masks for every decoder step, [max_steps, sum(units)]
# float32, each entry 0 or 1 / (1 - dropout). An input rather than in-graph randomness: LiteRT's
# builtin random ops cannot reproduce the server's draws, and an input lets the app seed (or
# vary) the voice and lets tests compare against TensorFlow exactly.
PRENET_NOISE = "prenet_noise"


@dataclasses.dataclass(frozen=True)
class PrenetNoise:
    """How to fill tacotron2's PRENET_NOISE input."""

    steps: int
    units: tuple[int, ...]
    dropout: float

    @property
    def width(self) -> int:
        return sum(self.units)

    @property
    def scale(self) -> float:
        return 1.0 / (1.0 - self.dropout) if self.dropout > 0.0 else 1.0

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A fresh draw in numpy, as the phone app does it."""
        if self.dropout == 0.0:
            return np.ones((self.steps, self.width), np.float32)
        keep = rng.random((self.steps, self.width)) >= self.dropout
        return keep.astype(np.float32) * np.float32(self.scale)

    def to_json(self) -> dict:
        return {"steps": self.steps, "units": list(self.units), "dropout": self.dropout}


def prenet_noise_spec(model, max_frames: int) -> PrenetNoise | None:
    """The noise input of a tacotron2 exported for max_frames; None for other families."""
    decoder = getattr(model, "decoder", None)
    prenet = getattr(decoder, "prenet", None)
    if prenet is None:
        return None
    steps = math.ceil(max_frames / model.model_config.reduction_factor)
    return PrenetNoise(steps, tuple(prenet.units), float(prenet.dropout))


def noise_from_draws(draws) -> np.ndarray:
    """Prenet.sample_noise's per-layer [steps, 1, units] draws -> a PRENET_NOISE value."""
    return np.concatenate([np.asarray(d)[:, 0, :] for d in draws], axis=-1).astype(np.float32)


@contextlib.contextmanager
def _prenet_noise_from(prenet, noise: tf.Tensor, units: tuple[int, ...]) -> Iterator[None]:
    """Makes prenet.sample_noise return slices of `noise` while tracing, then restores it.

    The decoder's own loop (models/layers/tacotron2_blocks.py) is traced unchanged; only its
    source of randomness is swapped from a seed generator for the input tensor.
    """
    offsets = np.cumsum((0, *units))

    def sample_noise(steps, batch):
        return tuple(
            noise[:steps, None, int(offsets[i]) : int(offsets[i + 1])] for i in range(len(units))
        )

    prenet.sample_noise = sample_noise  # an instance attribute shadows the method
    try:
        yield
    finally:
        del prenet.sample_noise


def _whole_depthwise_call(layer: ChunkedDepthwiseConv1D, x: tf.Tensor) -> tf.Tensor:
    """ChunkedDepthwiseConv1D's convolution as one "same" depthwise conv of all its taps
    (same taps and padding, the pieces' sum in another order)."""
    kernel = tf.cast(layer.kernel, x.dtype)[None]  # [1, taps, channels, 1]
    y = tf.nn.depthwise_conv2d(x[:, None], kernel, strides=[1, 1, 1, 1], padding="SAME")
    return y[:, 0] + tf.cast(layer.bias, x.dtype)


def _table_encoding_call(layer: SinusoidalPositionalEncoding, rows: int, x: tf.Tensor):
    """SinusoidalPositionalEncoding read from a table computed in float32 at export (rows
    positions, or x's static length), cut to x's length."""
    length = x.shape[1] or rows
    with tf.init_scope():
        table = type(layer).call(layer, tf.zeros([1, length, x.shape[-1]], x.dtype)).numpy()
    return tf.broadcast_to(tf.constant(table)[:, : tf.shape(x)[1]], tf.shape(x))


@contextlib.contextmanager
def _litert_layers(model, max_frames: int) -> Iterator[None]:
    """Traces two NAR layers in a LiteRT-friendly form for a dynamic frame count, then
    restores them (an instance attribute shadows the method; the math is the same):

    - ChunkedDepthwiseConv1D (Mixer-TTS's time mixing) as one depthwise conv. Its 8-tap
      pieces are for TensorFlow's CPU kernel; LiteRT's DEPTHWISE_CONV_2D takes any width, and
      with the pieces' slice ends computed at run time LiteRT ran mlp/base's decoder about 30 %
      slower (int8, 1 thread, 456 frames: 0.044 CPU s per audio second, 0.034 whole).
    - SinusoidalPositionalEncoding (FastSpeech's decoder input) from a constant table, as the
      static shape had it folded: computed at run time, its frequencies became float16
      constants in the float16 variant and the angles drifted with position (mean mel error
      vs float32 0.008 instead of 0.0006 on 456 frames).
    """
    patched = []
    for layer in model._flatten_layers():
        if isinstance(layer, ChunkedDepthwiseConv1D):
            layer.call = functools.partial(_whole_depthwise_call, layer)
        elif isinstance(layer, SinusoidalPositionalEncoding):
            layer.call = functools.partial(_table_encoding_call, layer, max_frames)
        else:
            continue
        patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            del layer.call


def _mel_outputs(model, token_ids, token_length, max_frames, mel_mean, mel_std):
    """Synthesizer._mel of models/export.py: infer, de-normalise, mask; mel [B, max_frames, M].

    The NAR families expand to their longest predicted total, at most max_frames (FrameBound,
    as the SavedModel does): LiteRT then sizes the decoder's tensors per call, so its work
    follows the utterance, and the mel is zero-padded back to the static output shape.
    Two layers are traced in a form that suits LiteRT there (_litert_layers).
    tacotron2 keeps F = max_frames (its decoder loop stops at the gate; its postnet runs over
    every frame).
    """
    nar = hasattr(model, "length_regulator")
    bound = FrameBound(max_frames) if nar else max_frames
    with _litert_layers(model, max_frames) if nar else contextlib.nullcontext():
        out = model.infer(token_ids, token_length, max_frames=bound)
    log_mel = tf.cast(out["mel"], tf.float32) * mel_std + mel_mean
    mel_length = tf.cast(out["mel_length"], tf.int32)
    log_mel *= tf.sequence_mask(mel_length, tf.shape(log_mel)[1], tf.float32)[..., None]
    if nar:
        static = [token_ids.shape[0] or -1, max_frames, log_mel.shape[-1]]  # the contract's
        padded = tf.pad(log_mel, [[0, 0], [0, max_frames - tf.shape(log_mel)[1]], [0, 0]])
        log_mel = tf.reshape(padded, static)
    return {MEL: log_mel, MEL_LENGTH: mel_length}


def acoustic_function(
    model: keras.Model,
    mel_mean: np.ndarray,
    mel_std: np.ndarray,
    max_tokens: int,
    max_frames: int,
) -> tuple[tf.types.experimental.ConcreteFunction, PrenetNoise | None]:
    """The traced batch-1 acoustic function and, for tacotron2, its noise input spec.

    Inputs: token_ids int32 [1, max_tokens] (zero-padded), token_length int32 [1], and for
    tacotron2 prenet_noise float32 [steps, width]. Outputs, in this order: mel float32
    [1, max_frames, n_mels] (natural-log mel, zero past mel_length), mel_length int32 [1].
    """
    mean = tf.constant(np.asarray(mel_mean, np.float32))
    std = tf.constant(np.asarray(mel_std, np.float32))
    noise_spec = prenet_noise_spec(model, max_frames)
    specs = [
        tf.TensorSpec([1, max_tokens], tf.int32, name=TOKEN_IDS),
        tf.TensorSpec([1], tf.int32, name=TOKEN_LENGTH),
    ]
    if noise_spec is None:

        def acoustic(token_ids, token_length):
            out = _mel_outputs(model, token_ids, token_length, max_frames, mean, std)
            return out[MEL], out[MEL_LENGTH]

    else:
        specs.append(tf.TensorSpec([noise_spec.steps, noise_spec.width], tf.float32, PRENET_NOISE))

        def acoustic(token_ids, token_length, prenet_noise):
            with _prenet_noise_from(model.decoder.prenet, prenet_noise, noise_spec.units):
                out = _mel_outputs(model, token_ids, token_length, max_frames, mean, std)
            return out[MEL], out[MEL_LENGTH]

    return tf.function(acoustic).get_concrete_function(*specs), noise_spec
