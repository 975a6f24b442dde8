"""Parameters and training steps/s of each family and preset on this machine.

    .venv/bin/python benchmarks/model_speed.py [--batch 4 --tokens 60 --frames 300 --steps 5]

Synthetic batches of a fixed, realistic size (60 tokens ~ a 4 s sentence of 300 frames);
the first (compiling) step is excluded and the median step time is quoted. Works under any
Keras backend: KERAS_BACKEND=jax on a GPU machine gives the GPU figures, and mel frames/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import keras
import numpy as np

from models import registry


class _StepTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []
        self._start = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def measure(family: str, preset: str, batch: int, tokens: int, frames: int, steps: int) -> dict:
    rng = np.random.default_rng(0)
    data = {
        registry.TOKEN_IDS: rng.integers(2, 39, size=(batch, tokens)).astype("int32"),
        registry.TOKEN_LENGTH: np.full((batch,), tokens, "int32"),
        registry.MEL: rng.normal(size=(batch, frames, 80)).astype("float32"),
        registry.MEL_LENGTH: np.full((batch,), frames, "int32"),
    }
    model = registry.build_model(family, preset)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    timer = _StepTimes()
    model.fit(data, batch_size=batch, epochs=steps + 1, verbose=0, callbacks=[timer])
    step_s = statistics.median(timer.times[1:])
    return {
        "family": family,
        "preset": preset,
        "parameters": int(model.count_params()),
        "median_step_s": round(step_s, 3),
        "steps_per_s": round(1.0 / step_s, 3),
        "mel_frames_per_s": round(batch * frames / step_s, 1),
        "backend": keras.backend.backend(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=sorted(registry.FAMILIES))
    parser.add_argument("--presets", nargs="+", default=list(registry.PRESETS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    for preset in args.presets:
        for family in args.families:
            result = measure(family, preset, args.batch, args.tokens, args.frames, args.steps)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
