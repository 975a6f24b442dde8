"""The acoustic model as a fixed-shape, batch-1 function for conversion: token ids -> mel.

Same math as the SavedModel's `synthesize_mel` (models/export.py): the family's `infer`, then
de-normalisation with the training set's mel statistics and masking past mel_length.
tacotron2's prenet dropout noise is a model input (see PRENET_NOISE).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

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


def _mel_outputs(model, token_ids, token_length, max_frames, mel_mean, mel_std):
    """Synthesizer._mel of models/export.py: infer, de-normalise, mask."""
    out = model.infer(token_ids, token_length, max_frames=max_frames)
    log_mel = tf.cast(out["mel"], tf.float32) * mel_std + mel_mean
    mel_length = tf.cast(out["mel_length"], tf.int32)
    log_mel *= tf.sequence_mask(mel_length, tf.shape(log_mel)[1], tf.float32)[..., None]
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
