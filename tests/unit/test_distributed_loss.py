"""Under MirroredStrategy a family's loss and update equal one device's on the same batch.

Two logical CPU devices stand in for two GPUs (no GPU needed). Logical devices must be set up
before TensorFlow initialises, so each measurement runs in its own interpreter.
"""

import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf

replicas = int(sys.argv[1])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from models import registry

# No dropout or zoneout: the replicas would draw different masks than one device does.
NO_NOISE = {
    "mlp": {"dropout": 0.0, "duration_dropout": 0.0},
    "tacotron2": {
        "encoder_dropout": 0.0, "prenet_dropout": 0.0, "postnet_dropout": 0.0,
        "zoneout": 0.0,
    },
}
rng = np.random.default_rng(0)
# Identical rows: each replica's half is the whole batch's twin, so the means match exactly.
tokens, frames = rng.integers(2, 20, size=(1, 7)), rng.normal(size=(1, 24, 80))
batch = {
    registry.TOKEN_IDS: np.repeat(tokens, 4, 0).astype("int32"),
    registry.TOKEN_LENGTH: np.full(4, 7, "int32"),
    registry.MEL: np.repeat(frames, 4, 0).astype("float32"),
    registry.MEL_LENGTH: np.full(4, 24, "int32"),
}
devices = ["/cpu:0", "/cpu:1"] if replicas == 2 else ["/cpu:0"]
strategy = tf.distribute.MirroredStrategy(devices)
ds = tf.data.Dataset.from_tensors(batch).repeat()
results = {}
for family in sys.argv[2:]:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = registry.build_model(family, "small", **NO_NOISE[family])
        model(batch)
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)
    after = model.trainable_weights
    update = sum(float(np.abs(w.numpy() - b).sum()) for w, b in zip(after, before))
    results[family] = {"loss": history.history["loss"][0], "update": update}
print(json.dumps(results))
"""


FAMILIES = ["mlp", "tacotron2"]


def _measure(replicas: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(replicas), *FAMILIES],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_replicas_report_and_step_like_one():
    one, two = _measure(1), _measure(2)
    for family in FAMILIES:
        assert two[family]["loss"] == pytest.approx(one[family]["loss"], rel=1e-3), family
        assert two[family]["update"] == pytest.approx(one[family]["update"], rel=1e-2), family
