"""A voice trained in mixed precision is exported, saved and judged in float32."""

import keras
import numpy as np
import pytest

from models import export, registry


def _batch():
    rng = np.random.default_rng(0)
    return {
        registry.TOKEN_IDS: rng.integers(2, 20, size=(2, 9)).astype("int32"),
        registry.TOKEN_LENGTH: np.array([9, 6], "int32"),
        registry.MEL: rng.normal(size=(2, 30, 80)).astype("float32"),
        registry.MEL_LENGTH: np.array([30, 22], "int32"),
    }


@pytest.mark.parametrize("family", ["attention", "tacotron2"])
def test_float32_copy_of_a_mixed_precision_voice(family):
    batch = _batch()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = registry.build_model(family, "small")
        model(batch)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(x=batch, epochs=1, steps_per_epoch=1, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert any(layer.compute_dtype == "float16" for layer in model._flatten_layers())

    twin = export.float32_copy(model, batch)

    assert {layer.compute_dtype for layer in twin._flatten_layers()} == {"float32"}
    for ours, theirs in zip(twin.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    inner = model.optimizer.inner_optimizer
    assert int(twin.optimizer.iterations.numpy()) == int(inner.iterations.numpy())
    for ours, theirs in zip(twin.optimizer.variables, inner.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    mel = np.asarray(registry.teacher_forced_views(twin(batch))[0])
    assert mel.dtype == np.float32 and np.isfinite(mel).all()
