"""Learning-rate schedule for the acoustic models: linear warm-up, then inverse-sqrt decay."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tts")
class WarmupInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """peak * min(step / warmup, sqrt(warmup / step)), floored at `min_rate`.

    Warm-up keeps the first Adam steps from wrecking attention before it has any structure;
    the inverse-sqrt tail is the Transformer recipe that FastSpeech and Mixer-TTS train with.
    """

    def __init__(self, peak: float = 1e-3, warmup_steps: int = 400, min_rate: float = 1e-5):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.min_rate = min_rate

    def __call__(self, step):
        step = ops.maximum(ops.cast(step, "float32") + 1.0, 1.0)
        warmup = ops.cast(max(self.warmup_steps, 1), "float32")
        factor = ops.minimum(step / warmup, ops.sqrt(warmup / step))
        return ops.maximum(self.peak * factor, self.min_rate)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "min_rate": self.min_rate}


def make_optimizer(config) -> keras.optimizers.Optimizer:
    """The acoustic models' optimizer from a TrainerConfig: Adam on the warm-up schedule."""
    return keras.optimizers.Adam(
        learning_rate=WarmupInverseSqrt(config.peak_learning_rate, config.warmup_steps),
        clipnorm=config.clip_norm,
    )
