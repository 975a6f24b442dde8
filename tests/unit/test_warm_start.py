"""Warm start copies the served voice's weights, and only into the same family and preset."""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from models import export, registry, warm_start

BATCH = {
    "token_ids": np.ones((1, 8), np.int32),
    "token_length": np.array([8], np.int32),
    "mel": np.zeros((1, 20, 80), np.float32),
    "mel_length": np.array([20], np.int32),
}


def _built(seed: int):
    keras.utils.set_random_seed(seed)
    model = registry.build_model("mlp", "small")
    model(BATCH)
    return model


def _base_voice(tmp_path, family="mlp", preset="small"):
    """A Model artifact's layout: Format-Serving/assets/voice.json beside keras/model.keras."""
    serving_dir = os.path.join(tmp_path, "model", "Format-Serving")
    os.makedirs(os.path.join(serving_dir, "assets"))
    with open(os.path.join(serving_dir, "assets", "voice.json"), "w") as handle:
        json.dump({"model": family, "preset": preset}, handle)
    base = _built(seed=1)
    path = export.keras_model_file(serving_dir)
    os.makedirs(os.path.dirname(path))
    base.save(path)
    return serving_dir, base


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_same_family_and_preset_start_from_the_base_weights(tmp_path):
    serving_dir, base = _base_voice(str(tmp_path))
    model = _built(seed=2)
    assert not _same(model, base)
    assert warm_start.load_base_weights(model, serving_dir, "mlp", "small") is True
    assert _same(model, base)


def test_another_preset_trains_from_scratch(tmp_path):
    serving_dir, base = _base_voice(str(tmp_path), preset="base")
    model = _built(seed=2)
    before = [w.copy() for w in model.get_weights()]
    assert warm_start.load_base_weights(model, serving_dir, "mlp", "small") is False
    assert all(np.array_equal(x, y) for x, y in zip(model.get_weights(), before, strict=True))
