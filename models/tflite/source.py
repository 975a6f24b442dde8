"""The model an export starts from: a SavedModel (with its voice.json), rebuilt as Keras 3.

The served SavedModel is the source of truth: its variables, seed generator states included,
are copied in order into a freshly built model of the family and preset named in voice.json.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.python.framework import tensor_util

from models import export, registry
from models.vocoder import DEFAULT_ITERATIONS

SERVING_DIR = "Format-Serving"  # TFX's subdirectory of a Model artifact


@dataclasses.dataclass
class SourceModel:
    """A loaded SavedModel and everything an export needs from it."""

    saved_model_dir: str
    loaded: object  # the tf.saved_model.load result
    voice: dict
    model: keras.Model
    max_frames: int
    griffin_lim_iterations: int
    # Fast Griffin-Lim's momentum; voices exported before it was recorded ran plain (0.0).
    griffin_lim_momentum: float
    # The rounds the SavedModel itself runs (griffin_lim_iterations is the export's, which a
    # phone bundle may lower: see with_griffin_lim_iterations).
    served_griffin_lim_iterations: int

    def with_griffin_lim_iterations(self, iterations: int | None) -> SourceModel:
        """This source exported with `iterations` vocoder rounds (None: the served count)."""
        if iterations is None:
            return self
        return dataclasses.replace(self, griffin_lim_iterations=checked_rounds(iterations))

    @property
    def revocodes(self) -> bool:
        """True when the export's vocoder runs other rounds than the SavedModel's."""
        return self.griffin_lim_iterations != self.served_griffin_lim_iterations

    @property
    def family(self) -> str:
        return self.voice["model"]

    @property
    def mel_mean(self) -> np.ndarray:
        return np.asarray(self.voice["mel_mean"], np.float32)

    @property
    def mel_std(self) -> np.ndarray:
        return np.asarray(self.voice["mel_std"], np.float32)

    def asset(self, name: str) -> str:
        return os.path.join(self.saved_model_dir, "assets", name)


def resolve_saved_model_dir(model_dir: str) -> str:
    """A SavedModel directory from a SavedModel dir, a TFX Model artifact (its Format-Serving),
    a TF Serving base (highest version) or a pipeline output dir (what its run exported)."""
    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    if os.path.exists(os.path.join(model_dir, SERVING_DIR, "saved_model.pb")):
        return os.path.join(model_dir, SERVING_DIR)
    from models.voice_files import resolve_saved_model_dir as resolve_pipeline_dir

    return resolve_pipeline_dir(model_dir)


def _dummy_batch(n_mels: int) -> dict[str, np.ndarray]:
    return {
        registry.TOKEN_IDS: np.ones((1, 8), np.int32),
        registry.TOKEN_LENGTH: np.array([8], np.int32),
        registry.MEL: np.zeros((1, 20, n_mels), np.float32),
        registry.MEL_LENGTH: np.array([20], np.int32),
    }


def _copy_variables(model: keras.Model, saved_variables, saved_model_dir: str) -> None:
    targets = model.variables
    if len(targets) != len(saved_variables):
        raise ValueError(
            f"{saved_model_dir}: the SavedModel has {len(saved_variables)} model variables, a "
            f"fresh {model.name} has {len(targets)}; was it built with a different config?"
        )
    for target, source in zip(targets, saved_variables, strict=True):
        if tuple(target.shape) != tuple(source.shape):
            raise ValueError(
                f"{saved_model_dir}: variable {target.path} is {tuple(target.shape)} in a fresh "
                f"model but {tuple(source.shape)} in the SavedModel ({source.name})"
            )
        target.assign(source.numpy())


def rebuild_keras_model(loaded, voice: dict, saved_model_dir: str) -> keras.Model:
    """The family's Keras model with the SavedModel's variables (float32 policy)."""
    policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("float32")
    try:
        model = registry.build_model(voice["model"], voice["preset"])
        model(_dummy_batch(len(voice["mel_mean"])), training=False)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    saved_variables = getattr(loaded, "model_variables", None)
    if saved_variables is None:
        raise ValueError(
            f"{saved_model_dir}: no model_variables on the SavedModel; export it with "
            "models.export.export_saved_model"
        )
    _copy_variables(model, list(saved_variables), saved_model_dir)
    return model


def griffin_lim_iterations_in_graph(loaded) -> int | None:
    """n_iter of the Griffin-Lim loop in serving_default: the one int constant of the cond of
    the while loop whose body runs an inverse FFT (None when not found)."""
    graph_def = loaded.signatures[export.SIGNATURE].graph.as_graph_def()
    functions = {f.signature.name: f for f in graph_def.library.function}
    for function in functions.values():
        for node in function.node_def:
            if node.op not in ("While", "StatelessWhile"):
                continue
            body = functions.get(node.attr["body"].func.name)
            cond = functions.get(node.attr["cond"].func.name)
            if body is None or cond is None or not any(n.op == "IRFFT" for n in body.node_def):
                continue
            values = [
                tensor_util.MakeNdarray(n.attr["value"].tensor)
                for n in cond.node_def
                if n.op == "Const"
            ]
            ints = [int(v) for v in values if v.ndim == 0 and v.dtype.kind == "i"]
            if len(ints) == 1:
                return ints[0]
    return None


def _griffin_lim_iterations(loaded, voice: dict, saved_model_dir: str) -> int:
    configured = voice.get("griffin_lim_iterations") or voice.get("trainer_config", {}).get(
        "griffin_lim_iterations"
    )
    if configured:
        return int(configured)
    found = griffin_lim_iterations_in_graph(loaded)
    if found:
        return found
    logging.warning(
        "%s: Griffin-Lim iterations not recorded and not found in the graph; using %d",
        saved_model_dir,
        DEFAULT_ITERATIONS,
    )
    return DEFAULT_ITERATIONS


def load_source(model_dir: str) -> SourceModel:
    """Loads the SavedModel at (or under) model_dir and rebuilds its Keras model."""
    saved_model_dir = resolve_saved_model_dir(model_dir)
    voice = export.read_voice_info(saved_model_dir)
    loaded = tf.saved_model.load(saved_model_dir)
    # Recorded by the export; older voices had it as synthesize_mel's static frame count.
    max_frames = voice.get("max_frames")
    if max_frames is None:
        mel_spec = loaded.signatures[export.MEL_SIGNATURE].structured_outputs["mel"]
        max_frames = mel_spec.shape[1]
    if max_frames is None:
        raise ValueError(
            f"{saved_model_dir}: no max_frames in voice.json and synthesize_mel has no "
            "static frame count"
        )
    model = rebuild_keras_model(loaded, voice, saved_model_dir)
    iterations = _griffin_lim_iterations(loaded, voice, saved_model_dir)
    logging.info(
        "TFLite export source: %s (%s/%s), max_frames %d, Griffin-Lim %d iterations",
        saved_model_dir,
        voice["model"],
        voice["preset"],
        max_frames,
        iterations,
    )
    momentum = float(voice.get("griffin_lim_momentum", 0.0))
    return SourceModel(
        saved_model_dir, loaded, voice, model, int(max_frames), iterations, momentum, iterations
    )


def checked_rounds(iterations) -> int:
    """Griffin-Lim rounds as an int, refused below 1."""
    if int(iterations) < 1:
        raise ValueError(f"griffin_lim_iterations must be at least 1, got {iterations}")
    return int(iterations)
