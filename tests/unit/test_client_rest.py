"""The Python client without TensorFlow: importing serving.client loads no TF, and REST
synthesis (plain JSON over urllib) works against a TF Serving-shaped `:predict`."""

from __future__ import annotations

import http.server
import io
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from pipeline import cli
from serving import client


class _Handler(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append((self.path, body))
        if "/models/nope" in self.path:
            answer, status = {"error": "Servable not found for request: Latest(nope)"}, 404
        else:
            texts = body["inputs"]["text"]
            lengths = [100 * (i + 1) for i in range(len(texts))]
            audio = [
                [0.1] * lengths[i] + [0.0] * (max(lengths) - lengths[i]) for i in range(len(texts))
            ]
            answer, status = {"outputs": {"audio": audio, "audio_length": lengths}}, 200
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def rest_server():
    _Handler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rest_synthesis_and_errors(rest_server):
    result = client.synthesize_rest(rest_server, "voice", ["Hi.", "Hello there."], version=3)
    assert [len(w) for w in result.waves] == [100, 200]
    assert result.waves[0].dtype == np.float32 and result.sample_rate == 22050
    path, body = _Handler.requests[-1]
    assert path == "/v1/models/voice/versions/3:predict"
    assert body == {
        "signature_name": "serving_default",
        "inputs": {"text": ["Hi.", "Hello there."]},
    }
    client.synthesize_rest(f"http://{rest_server}/", "voice", ["x"], version_label="stable")
    assert _Handler.requests[-1][0] == "/v1/models/voice/labels/stable:predict"
    with pytest.raises(client.SynthesisError, match="NOT_FOUND: Servable not found") as error:
        client.synthesize_rest(rest_server, "nope", ["x"])
    assert error.value.code.name == "NOT_FOUND"
    with pytest.raises(client.SynthesisError, match="UNAVAILABLE"):
        client.synthesize_rest("127.0.0.1:9", "voice", ["x"], timeout_s=5)


def test_synthesize_cli_over_rest_reads_stdin_and_splits_long_text(
    rest_server, tmp_path, monkeypatch, capsys
):
    text = " ".join(f"This is sentence number {i}, said at a steady pace." for i in range(10))
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    wav = str(tmp_path / "out.wav")
    assert (
        cli.main(["synthesize", "-", "--rest", rest_server, "-o", wav, "--max-chars", "120"]) == 0
    )
    path, body = _Handler.requests[-1]
    pieces = body["inputs"]["text"]
    assert path == "/v1/models/voice:predict"  # the default voice name
    assert len(pieces) > 1 and " ".join(pieces) == text
    audio, rate = sf.read(wav)
    pauses = int(0.25 * 22050) * (len(pieces) - 1)
    assert rate == 22050 and len(audio) == sum(100 * (i + 1) for i in range(len(pieces))) + pauses
    assert "via" in capsys.readouterr().out
    assert cli.main(["synthesize", "Hi.", "--rest", rest_server, "--model-name", "nope"]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err


# The whole CLI path, in a fresh interpreter: client, text input, wav, and no TensorFlow.
_NO_TF = """
import sys
from pipeline import cli
code = cli.main(["synthesize", "Hello. Again.", "--rest", sys.argv[1], "-o", sys.argv[2]])
print(code, sorted({m.split(".")[0] for m in sys.modules if m.startswith("tensorflow")}))
"""


def test_rest_synthesis_loads_no_tensorflow(rest_server, tmp_path):
    wav = str(tmp_path / "x.wav")
    out = subprocess.run(
        [sys.executable, "-c", _NO_TF, rest_server, wav],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0 []"
