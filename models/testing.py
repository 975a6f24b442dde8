"""Small untrained voices exported as the Trainer would, for tests and benchmarks (seconds)."""

from __future__ import annotations

import numpy as np


def export_untrained_voice(
    export_dir: str,
    family: str = "attention",
    seed: int = 0,
    max_frames: int = 400,
    griffin_lim_iterations: int = 4,
    mel_mean: float = 0.0,
    mel_std: float = 1.0,
    decode_to_max: bool = False,
    frames_per_token: int | None = None,
) -> str:
    """A `small` model of `family` with seeded random weights, as a SavedModel in export_dir.

    The seed tells versions apart (and keeps parity figures repeatable). `decode_to_max`
    biases tacotron2's gate far negative: random gates fire at once, this runs the loop.
    `frames_per_token` pins a non-autoregressive voice's durations (pin_durations).
    """
    import keras

    from models.export import export_saved_model
    from models.registry import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(family, "small")
    model(
        {
            "token_ids": np.ones((1, 8), np.int32),
            "token_length": np.array([8], np.int32),
            "mel": np.zeros((1, 20, 80), np.float32),
            "mel_length": np.array([20], np.int32),
        }
    )
    if decode_to_max and family == "tacotron2":
        bias = model.decoder.gate_layer.bias
        bias.assign(np.full(bias.shape, -6.0, np.float32))
    if frames_per_token and family != "tacotron2":
        pin_durations(model, frames_per_token)
    return export_saved_model(
        model,
        export_dir,
        family,
        "small",
        np.full(80, mel_mean, np.float32),
        np.full(80, mel_std, np.float32),
        max_frames=max_frames,
        griffin_lim_iterations=griffin_lim_iterations,
    )


def pin_durations(model, frames_per_token: int) -> None:
    """Every token of a non-autoregressive model lasts exactly `frames_per_token` frames.

    Random durations sit anywhere, some near a rounding edge (x.5 frames), where a float16
    copy's tiny error adds or drops a frame and shifts everything after it; whole numbers
    from a constant prediction (zero kernel, bias at the learned-spread mean) do not."""
    import math

    predictor = model.duration_predictor
    predictor.residual_log_variance.assign(0.0)  # DurationPredictor.frames adds exp(0) / 2
    kernel, bias = predictor.projection.kernel, predictor.projection.bias
    kernel.assign(np.zeros(kernel.shape, np.float32))
    bias.assign(np.full(bias.shape, math.log(frames_per_token + 1.0) - 0.5, np.float32))
