"""The model code is backend-agnostic: every family trains and synthesises under JAX.

Keras fixes its backend at import, so the check runs in a subprocess with
KERAS_BACKEND=jax (the GPU machines have JAX, not TensorFlow).
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_SCRIPT = """
import json, sys
import numpy as np
import keras
from models import registry
assert "tensorflow" not in sys.modules, "model code must not import TensorFlow"
rng = np.random.default_rng(0)
batch = {
    "token_ids": rng.integers(2, 20, size=(2, 8)).astype("int32"),
    "token_length": np.array([8, 6], "int32"),
    "mel": rng.normal(size=(2, 24, 80)).astype("float32"),
    "mel_length": np.array([24, 18], "int32"),
}
results = {"backend": keras.backend.backend()}
for family in sorted(registry.FAMILIES):
    model = registry.build_model(family, "small")
    model.compile(optimizer="adam")
    history = model.fit(batch, epochs=2, batch_size=2, verbose=0)
    out = model.infer(batch["token_ids"], batch["token_length"], max_frames=40)
    results[family] = {
        "loss": [float(v) for v in history.history["loss"]],
        "mel": list(out["mel"].shape),
        "lengths": np.asarray(out["mel_length"]).tolist(),
    }
print(json.dumps(results))
"""


def test_every_family_trains_and_synthesises_under_jax():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["backend"] == "jax"
    for family in ("attention", "mlp", "tacotron2"):
        losses = results[family]["loss"]
        assert all(loss == loss and loss < 1e4 for loss in losses), (family, losses)
        assert results[family]["mel"] == [2, 40, 80]
        assert all(0 < n <= 40 for n in results[family]["lengths"]), results[family]
