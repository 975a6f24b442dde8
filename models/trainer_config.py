"""What the Trainer reads from the pipeline's custom config, with defaults per model family."""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any

from models import registry

# (peak learning rate, warm-up steps) when a run does not set them. The non-autoregressive
# small presets learn fastest per CPU-minute at 3e-3 after 100 steps: on the demo corpus mlp's
# teacher-forced mel L1 on one batch after 300 steps is 0.22 at 3e-3 (attention 0.20) against
# 0.27 at 1e-3, and 1e-2 diverges. The others keep the usual 1e-3 (not measured otherwise).
LEARNING_RECIPES = {
    ("mlp", "small"): (3e-3, 100),
    ("attention", "small"): (3e-3, 100),
}
DEFAULT_RECIPE = (1e-3, 200)


@dataclasses.dataclass
class TrainerConfig:
    model: str = "tacotron2"
    preset: str = "small"
    batch_size: int = 8  # per replica
    peak_learning_rate: float = -1.0  # < 0: the family and preset's recipe (LEARNING_RECIPES)
    warmup_steps: int = -1  # < 0: the family and preset's recipe
    clip_norm: float = 1.0
    # Checkpoint, validation and TensorBoard-sample cadence. Each epoch end costs ~5.6 s on a
    # 2-core CPU (1.8 s speech sample, 0.3 s validation, ~3 s Keras's epoch turn-over): at 50
    # steps mlp/small trained at 3.8 steps/s, at 600 at 6.3 (600 steps each). A kill loses
    # at most one epoch (~80 s at 500).
    steps_per_epoch: int = 500
    max_train_frames: int = 1000  # longer utterances stay out of training batches
    max_synthesis_frames: int = 1500  # free-running cap at serving time (~17 s)
    griffin_lim_iterations: int = 12  # fast Griffin-Lim: as converged as 32 plain ones (vocoder.py)
    mixed_precision: str = "auto"  # auto: on when a GPU is visible
    jit_compile: str = "auto"  # auto: XLA on GPU only
    seed: int = 0
    max_train_seconds: float = 0.0  # > 0: stop after this wall-clock budget, then export
    # Start from the weights of the voice blessed before this run's data arrived (the one
    # being served), when the pipeline resolves one of the same family and preset; else,
    # and always when False, from scratch.
    warm_start: bool = True
    # Continue the latest voice trained under `voice_name` (blessed or not): its weights,
    # optimizer state and step counter, so the learning-rate schedule goes on where it was
    # and train_steps more steps are trained. Its model config is kept; model_overrides apply
    # on top (loss weights, say; a changed layer size cannot take the saved weights).
    continue_training: bool = False
    # Model config fields (the family's config dataclass) over the preset, e.g.
    # {"guided_attention_weight": 0.0}: validated here, applied by registry.build_model.
    model_overrides: dict = dataclasses.field(default_factory=dict)
    # The served name (--model-name) the voice is trained for: recorded with the voice, and how
    # `continue_training` finds the voice to continue. create_pipeline fills it in.
    voice_name: str = ""

    def __post_init__(self):
        if self.model not in registry.FAMILIES:  # by name: importing the family loads Keras
            raise ValueError(f"unknown model {self.model!r}; models are: {list(registry.FAMILIES)}")
        if self.preset not in registry.PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; presets: {registry.PRESETS}")
        for field in dataclasses.fields(self):
            if field.name not in ("model", "preset", "model_overrides"):
                value = getattr(self, field.name)
                value = checked_value(f"trainer setting {field.name}", value, field.default)
                setattr(self, field.name, value)
        recipe = LEARNING_RECIPES.get((self.model, self.preset), DEFAULT_RECIPE)
        if self.peak_learning_rate < 0.0:
            self.peak_learning_rate = recipe[0]
        if self.warmup_steps < 0:
            self.warmup_steps = recipe[1]
        if not isinstance(self.model_overrides, dict):
            raise ValueError(f"model_overrides must be a dict, got {self.model_overrides!r}")
        if self.model_overrides:
            self.model_overrides = validate_model_overrides(
                self.model, self.preset, self.model_overrides
            )

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


def checked_value(what: str, value: Any, default: Any) -> Any:
    """`value` if it has the type of `default` (JSON types: an int passes for a float and
    becomes one; a list for a tuple); else a ValueError naming `what`."""
    if default is None or isinstance(default, dict):
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple | list):
        ok = isinstance(value, tuple | list)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"{what} must be of type {type(default).__name__}, got {value!r}")
    return value


def preset_model_config(family: str, preset: str):
    """The config dataclass instance of `family`'s `preset`, without building a model (the
    family module is imported, and with it Keras: a few seconds on the TensorFlow backend)."""
    cls = registry.model_class(family)
    presets = getattr(cls, "presets", None) or importlib.import_module(cls.__module__).CONFIGS
    if preset not in presets:
        raise ValueError(f"{family}: unknown preset {preset!r}; presets are {sorted(presets)}")
    return presets[preset]


def model_config_fields(family: str) -> list[str]:
    """The names `model_overrides` (and `--set model.NAME=...`) accept for `family`."""
    return sorted(f.name for f in dataclasses.fields(preset_model_config(family, "small")))


def validate_model_overrides(family: str, preset: str, overrides: dict) -> dict:
    """`overrides` type-checked against the preset's config; an unknown field, a wrong type or
    a value the config itself refuses is a ValueError that names the valid fields."""
    if not overrides:
        return {}
    base = preset_model_config(family, preset)
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"unknown {family} model config fields {unknown}; fields are {sorted(fields)}"
        )
    checked = {
        name: checked_value(f"{family} model config {name}", value, getattr(base, name))
        for name, value in overrides.items()
    }
    try:  # the config's own checks (e.g. a loss name), still without building a model
        dataclasses.replace(base, **checked)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{family} model config: {error}") from error
    return checked
