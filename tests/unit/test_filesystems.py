"""models/filesystems.py: which paths load tensorflow-io, and a clean exit after its S3 client
was used (tensorflow-io 0.37.1 aborts at interpreter exit otherwise: "pure virtual method
called", status 134). The S3 side is a stub on loopback that answers every request 404."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading

import pytest

from models import filesystems

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(os.path.dirname(sys.executable), "tts-pipeline")
ABORT_SIGNS = ("pure virtual method called", "terminate called", "Aborted")


def test_schemes_and_absolute_paths():
    assert filesystems.scheme("s3://bucket/corpus") == "s3"
    assert filesystems.scheme("HDFS://nn/x") == "hdfs"
    assert filesystems.scheme("relative/dir") == ""
    assert filesystems.absolute("s3://bucket/x") == "s3://bucket/x"
    assert filesystems.absolute("x") == os.path.join(os.getcwd(), "x")


def test_local_paths_and_built_in_schemes_load_nothing():
    probe = (
        "import sys; from models import filesystems as fs\n"
        "for path in ('/tmp/x', 'relative', 'gs://bucket/x', 'ram://x'):\n"
        "    fs.ensure_filesystems(path)\n"
        "print(fs.registered(), 'tensorflow' in sys.modules, 'tensorflow_io' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False"]


class _NotFound(http.server.BaseHTTPRequestHandler):
    """Every S3 call answers 404 NoSuchKey: enough for the AWS SDK client to exist."""

    def _answer(self, body: bool) -> None:
        payload = b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>'
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_HEAD(self):  # noqa: N802 - http.server's naming
        self._answer(body=False)

    def do_GET(self):  # noqa: N802
        self._answer(body=True)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def s3_env():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {
        **os.environ,
        "S3_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1",
    }
    server.shutdown()
    server.server_close()


def _clean(stderr: str) -> bool:
    return not any(sign in stderr for sign in ABORT_SIGNS)


def test_a_process_that_used_s3_exits_with_its_own_status(s3_env):
    probe = (
        "from models import filesystems as fs\n"
        "print(fs.exists('s3://bucket/missing.txt'), fs.registered(), flush=True)\n"
        "fs.exit_process(7)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=s3_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 7, out.stderr[-3000:]
    assert out.stdout.split() == ["False", "True"]
    assert _clean(out.stderr), out.stderr[-3000:]


@pytest.mark.skipif(not os.path.exists(CLI), reason="console script not installed")
def test_the_cli_on_an_s3_model_dir_fails_in_one_line_and_exits_cleanly(s3_env, tmp_path):
    out = subprocess.run(
        [CLI, "synthesize", "--model-dir", "s3://bucket/voice", "Hello.", "-o", "x.wav"],
        cwd=tmp_path,
        env=s3_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    assert "no SavedModel in 's3://bucket/voice'" in out.stderr
    assert _clean(out.stderr), out.stderr[-3000:]
