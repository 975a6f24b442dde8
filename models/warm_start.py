"""Warm start: a retrain on a grown corpus begins from the voice that is being served.

The base is the Model artifact the pipeline resolved (the latest blessed voice of the served
name, from before this run's data); its Keras file sits beside its SavedModel.
"""

from __future__ import annotations

import keras
from absl import logging

from models import export


def load_base_weights(model: keras.Model, base_model_dir: str, family: str, preset: str) -> bool:
    """Copies the base voice's weights into `model` (built) when family and preset match.

    Returns False, and says why in the log, when the base cannot seed this model: a voice of
    another family or preset trains from scratch rather than from mismatched weights.
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
    model.set_weights(base.get_weights())
    logging.info("Trainer: warm start from %s", base_model_dir)
    return True
