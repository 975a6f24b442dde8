"""What the Trainer reads from the pipeline's custom config, with defaults per model family."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from models import registry


@dataclasses.dataclass
class TrainerConfig:
    model: str = "tacotron2"
    preset: str = "small"
    batch_size: int = 8  # per replica
    peak_learning_rate: float = 1e-3
    warmup_steps: int = 200
    clip_norm: float = 1.0
    steps_per_epoch: int = 50  # checkpoint/validation cadence
    max_train_frames: int = 1000  # longer utterances stay out of training batches
    max_synthesis_frames: int = 1500  # free-running cap at serving time (~17 s)
    griffin_lim_iterations: int = 32
    mixed_precision: str = "auto"  # auto: on when a GPU is visible
    jit_compile: str = "auto"  # auto: XLA on GPU only
    seed: int = 0
    max_train_seconds: float = 0.0  # > 0: stop after this wall-clock budget, then export
    # Start from the weights of the voice blessed before this run's data arrived (the one
    # being served), when the pipeline resolves one of the same family and preset; else,
    # and always when False, from scratch.
    warm_start: bool = True

    def __post_init__(self):
        registry.model_class(self.model)  # fails early on an unknown model name
        if self.preset not in registry.PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; presets: {registry.PRESETS}")

    @classmethod
    def from_custom_config(cls, custom_config: dict[str, Any] | None) -> TrainerConfig:
        custom_config = dict(custom_config or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(custom_config) - known)
        if unknown:
            raise ValueError(f"unknown trainer settings {unknown}; known: {sorted(known)}")
        return cls(**custom_config)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)
