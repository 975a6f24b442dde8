"""The gRPC client without TensorFlow: in a fresh interpreter where `tensorflow` and
`tensorflow_serving` cannot be imported, serving.client speaks Predict to the local server
(its real gRPC port and checks, a scripted graph) and maps its errors to grpc.StatusCode."""

from __future__ import annotations

import json
import subprocess
import sys

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from serving import client
from serving.server import ModelServer, ServerOptions
from serving.testing import scripted_servables, text_signature

TEXTS = ["Hello there.", "Größe", "Hi."]


def _model(inputs):
    """Audio of 10 samples per UTF-8 byte, zero-padded to the longest; a ramp to check order."""
    lengths = [10 * len(text) for text in inputs["text"]]
    audio = np.zeros((len(lengths), max(lengths)), np.float32)
    for row, length in enumerate(lengths):
        audio[row, :length] = np.linspace(-1, 1, length, dtype=np.float32) * (row + 1) / 4
    return {"audio": audio, "audio_length": np.array(lengths, np.int32)}


def _signature() -> dict:
    signatures = text_signature()
    audio = signatures["serving_default"].outputs["audio"]
    audio.name, audio.dtype = "StatefulPartitionedCall:1", types_pb2.DT_FLOAT
    audio.tensor_shape.dim.add(size=-1)
    audio.tensor_shape.dim.add(size=-1)
    return signatures


@pytest.fixture(scope="module")
def grpc_address(tmp_path_factory):
    base = tmp_path_factory.mktemp("push") / "voice"
    (base / "7").mkdir(parents=True)
    (base / "7" / "saved_model.pb").write_bytes(b"scripted")
    options = ServerOptions(
        port=0, model_name="voice", model_base_path=str(base), file_system_poll_wait_seconds=0
    )
    with ModelServer(options, scripted_servables(_model, _signature())) as server:
        yield f"127.0.0.1:{server.grpc_port}"


# Runs in a fresh interpreter: TensorFlow blocked before anything is imported.
_NO_TF = """
import json, sys
sys.modules["tensorflow"] = None  # an import of either now raises ImportError
sys.modules["tensorflow_serving"] = None
from serving import client

address, texts = sys.argv[1], json.loads(sys.argv[2])
result = client.synthesize(address, "voice", texts)
errors = {}
for name, call in {
    "model": lambda: client.synthesize(address, "nope", texts),
    "version": lambda: client.synthesize(address, "voice", texts, version=9),
    "empty": lambda: client.synthesize(address, "voice", [""]),
    "down": lambda: client.synthesize("127.0.0.1:9", "voice", texts, timeout_s=10),
}.items():
    try:
        call()
    except client.SynthesisError as error:
        errors[name] = [error.code.name, str(error)]
loaded = sorted(m for m, module in sys.modules.items() if m.startswith("tensorflow") and module)
print(json.dumps({
    "waves": [w.tolist() for w in result.waves], "dtype": str(result.waves[0].dtype),
    "model": result.model_name, "version": result.version, "rate": result.sample_rate,
    "errors": errors, "loaded": loaded,
}))
"""


def test_grpc_client_runs_without_tensorflow(grpc_address):
    out = subprocess.run(
        [sys.executable, "-c", _NO_TF, grpc_address, json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]  # an import of TensorFlow fails in there
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["loaded"] == []
    expected = _model({"text": [t.encode() for t in TEXTS]})
    for row, wave in enumerate(answer["waves"]):
        length = expected["audio_length"][row]
        assert len(wave) == length == 10 * len(TEXTS[row].encode())
        np.testing.assert_array_equal(np.float32(wave), expected["audio"][row, :length])
    assert (answer["dtype"], answer["model"], answer["version"], answer["rate"]) == (
        "float32",
        "voice",
        7,
        22050,
    )
    errors = answer["errors"]
    assert errors["model"][0] == "NOT_FOUND" and "Latest(nope)" in errors["model"][1]
    assert errors["version"][0] == "NOT_FOUND" and "Specific(voice, 9)" in errors["version"][1]
    assert errors["empty"][0] == "INVALID_ARGUMENT" and "is empty" in errors["empty"][1]
    assert errors["down"][0] == "UNAVAILABLE"


def test_grpc_client_in_process_gives_the_same_answer_and_a_status_code(grpc_address):
    result = client.synthesize(grpc_address, "voice", TEXTS, version=7)
    assert [len(w) for w in result.waves] == [10 * len(t.encode()) for t in TEXTS]
    assert result.version == 7
    with pytest.raises(client.SynthesisError) as error:
        client.synthesize(grpc_address, "voice", TEXTS, version_label="stable")
    assert error.value.code.name == "INVALID_ARGUMENT"
    assert error.value.code is grpc.StatusCode.INVALID_ARGUMENT
