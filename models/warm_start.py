"""Warm start and continuation: a run begins from an earlier voice instead of from scratch.

Warm start (a retrain on a grown corpus) copies the weights of the voice being served: the
latest blessed voice of the served name, from before this run's data. Continuation
(`--retrain continue`) picks up the latest voice trained under the name, blessed or not,
with its optimizer state and step counter, as if its training had never stopped. Either
base's Keras file sits beside its SavedModel.
"""

from __future__ import annotations

import keras
from absl import logging

from models import export


def load_base_weights(model: keras.Model, base_model_dir: str, family: str, preset: str) -> bool:
    """Copies the base voice's weights into `model` (built) when family and preset match.

    Returns False, and says why in the log, when the base cannot seed this model: a voice of
    another family or preset, or one whose layer sizes differ (the preset or a model override
    changed since), trains from scratch rather than from mismatched weights.
    """
    voice = export.read_voice_info(base_model_dir)
    if (voice.get("model"), voice.get("preset")) != (family, preset):
        logging.warning(
            "Trainer: from scratch: the base voice %s is %s/%s, this run trains %s/%s",
            base_model_dir,
            voice.get("model"),
            voice.get("preset"),
            family,
            preset,
        )
        return False
    base = export.load_keras_voice(base_model_dir, compile=False)
    weights = base.get_weights()
    mismatch = _shape_mismatch(model.get_weights(), weights)
    if mismatch:
        logging.warning("Trainer: from scratch: the base voice %s %s", base_model_dir, mismatch)
        return False
    model.set_weights(weights)
    logging.info("Trainer: warm start from %s", base_model_dir)
    return True


def load_continuation_base(base_model_dir: str | None, family: str, preset: str) -> keras.Model:
    """The voice to continue, loaded with its optimizer (iterations, Adam moments).

    A ValueError when there is none, or it is of another family or preset: the run was asked
    to continue a voice, and training something else instead would hide that.
    """
    if not base_model_dir:
        raise ValueError(
            "--retrain continue: this pipeline has trained no voice under this name yet, so "
            "there is nothing to continue; train one first (--retrain warm-start or scratch)"
        )
    voice = export.read_voice_info(base_model_dir)
    if (voice.get("model"), voice.get("preset")) != (family, preset):
        raise ValueError(
            f"--retrain continue: the latest voice, {base_model_dir}, is "
            f"{voice.get('model')}/{voice.get('preset')}, not {family}/{preset}"
        )
    base = export.load_keras_voice(base_model_dir, compile=True)
    optimizer = getattr(base, "optimizer", None)
    if optimizer is None or not optimizer.built:
        raise ValueError(
            f"--retrain continue: {export.keras_model_file(base_model_dir)} holds no optimizer "
            "state to continue from"
        )
    return base


def base_model_config(base: keras.Model) -> dict:
    """The model config the base voice was built from (what a continued model must keep)."""
    return dict(base.get_config()["config"])


def continue_from(model: keras.Model, base: keras.Model) -> int:
    """Copies the base's weights (its own step counters too) and optimizer state into `model`,
    which is built and compiled with an optimizer of the base's kind; returns the step count
    training continues from. Call it in the distribution strategy's scope."""
    weights = base.get_weights()
    mismatch = _shape_mismatch(model.get_weights(), weights)
    if mismatch:
        raise ValueError(f"--retrain continue: the voice to continue {mismatch}")
    model.set_weights(weights)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    # Mixed precision wraps the optimizer in a LossScaleOptimizer (Keras 3 compile). Both
    # wrapped: its loss scale goes on too (no new run of skipped overflow steps); else the
    # inner optimizer's state is what training continues from.
    source, target = base.optimizer, model.optimizer
    if type(source) is not type(target):
        source, target = _inner(source), _inner(target)
    state = [keras.ops.convert_to_numpy(v) for v in source.variables]
    mismatch = _shape_mismatch([keras.ops.convert_to_numpy(v) for v in target.variables], state)
    if mismatch:
        raise ValueError(f"--retrain continue: the optimizer state {mismatch}")
    for variable, value in zip(target.variables, state, strict=True):
        variable.assign(value)
    step = int(keras.ops.convert_to_numpy(target.iterations))
    logging.info("Trainer: continuing at step %d", step)
    return step


def _inner(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)


def _shape_mismatch(ours: list, theirs: list) -> str:
    """Empty when the two lists of arrays have the same shapes, else what differs."""
    if len(ours) != len(theirs):
        return f"has {len(theirs)} variables where this model has {len(ours)}"
    for index, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a.shape != b.shape:
            return f"has shape {b.shape} where this model has {a.shape} (variable {index})"
    return ""
