"""Object storage for real: an S3 API on loopback (moto's server mode), the corpus on s3://,
`tts-pipeline run` pushing to s3://, `tts-pipeline serve` from s3:// and one synthesis over
REST; every process that talked to S3 exits with its own status and no abort at shutdown.

The CLI runs in subprocesses with tensorflow-io's S3 settings in their environment; this
process talks to the bucket with boto3 only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from models.thresholds import ALL_OFF
from pipeline.demo_corpus import build_demo_corpus

pytestmark = pytest.mark.e2e

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

BIN = os.path.dirname(sys.executable)
CLI = os.path.join(BIN, "tts-pipeline")
BUCKET = "tts-e2e"
MODEL_NAME = "voice"
ABORT_SIGNS = ("pure virtual method called", "terminate called", "Aborted")
# The cheapest pipeline that pushes: one training step and every blessing threshold off (this
# test is about where files live, not whether the voice speaks).
RUN_FLAGS = ["--train-steps", "1", "--batch-size", "2", "--eval-fraction", "0.3"]
RUN_FLAGS += ["--thresholds", json.dumps(dict(ALL_OFF)), "--until", "pusher"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, timeout_s: float, proc: subprocess.Popen) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            opener.open(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    return proc.returncode, stderr or ""


def _assert_clean_exit(result_code: int, stderr: str, expected: int = 0) -> None:
    assert result_code == expected, stderr[-4000:]
    aborts = [sign for sign in ABORT_SIGNS if sign in stderr]
    assert not aborts, stderr[-4000:]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """(boto3 client, environment for the CLI) of a moto S3 server on a loopback port."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(f"{endpoint}/moto-api/", 60, server)
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        env = {
            **os.environ,
            **credentials,
            "S3_ENDPOINT": endpoint,  # what tensorflow-io 0.37.1 reads (scheme included)
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookups
            "NO_PROXY": "127.0.0.1,localhost",
        }
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=BUCKET)
        yield client, env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _upload(client, local_dir: str, prefix: str) -> None:
    for root, _, files in os.walk(local_dir):
        for name in files:
            path = os.path.join(root, name)
            client.upload_file(path, BUCKET, f"{prefix}/{os.path.relpath(path, local_dir)}")


def _keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture(scope="module")
def pushed(s3, tmp_path_factory):
    """Runs the pipeline from s3://BUCKET/corpus to a push on s3://BUCKET/serving."""
    client, env = s3
    root = tmp_path_factory.mktemp("object_storage")
    build_demo_corpus(str(root / "corpus"), sentences=8, seed=5)
    _upload(client, str(root / "corpus"), "corpus")
    uploaded = _keys(client, "corpus/")
    assert "corpus/metadata.csv" in uploaded
    assert len([key for key in uploaded if key.startswith("corpus/wavs/")]) == 8
    output = root / "output"
    started = time.monotonic()
    run = subprocess.run(
        [CLI, "run", "--data", f"s3://{BUCKET}/corpus", "--output", str(output)]
        + ["--push-dir", f"s3://{BUCKET}/serving", "--model-name", MODEL_NAME, *RUN_FLAGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary_path = output / "run_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {
        "run": run,
        "summary": summary,
        "wall_s": time.monotonic() - started,
        "root": root,
    }


def test_run_reads_the_corpus_from_s3_and_pushes_to_s3(s3, pushed):
    client, _ = s3
    run, summary = pushed["run"], pushed["summary"]
    _assert_clean_exit(run.returncode, run.stderr + run.stdout)
    assert summary["data_root"] == f"s3://{BUCKET}/corpus"
    example_gen = summary["components"]["AudioExampleGen"]
    assert sum(example_gen["examples"].values()) == 8
    assert example_gen["quarantined"] == 0
    pusher = summary["components"]["Pusher"]
    assert pusher["pushed"] is True, summary["components"]["Evaluator"]
    destination = pusher["pushed_destination"]
    assert destination.startswith(f"s3://{BUCKET}/serving/{MODEL_NAME}/")
    version = destination.rstrip("/").rsplit("/", 1)[1]
    assert version.isdigit()
    keys = _keys(client, f"serving/{MODEL_NAME}/")
    prefix = f"serving/{MODEL_NAME}/{version}/"
    assert f"{prefix}saved_model.pb" in keys
    assert any(key.startswith(f"{prefix}variables/variables.data") for key in keys)
    assert not [key for key in keys if "/.partial-" in key], keys  # no staging copy left


def test_serve_from_s3_and_synthesize_over_rest(s3, pushed, tmp_path):
    _, env = s3
    assert pushed["summary"]["components"]["Pusher"]["pushed"] is True
    rest_port = _free_port()
    server = subprocess.Popen(
        [CLI, "serve", "--model_name", MODEL_NAME]
        + ["--model_base_path", f"s3://{BUCKET}/serving/{MODEL_NAME}"]
        + ["--port", "0", "--rest_api_port", str(rest_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{rest_port}/v1/models/{MODEL_NAME}", 300, server)
        wav = tmp_path / "hello.wav"
        said = subprocess.run(
            [CLI, "synthesize", "--rest", f"127.0.0.1:{rest_port}", "--model-name", MODEL_NAME]
            + ["Hello from a bucket.", "-o", str(wav)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        _assert_clean_exit(said.returncode, said.stderr)
        assert wav.stat().st_size > 44  # a wav header and samples
    finally:
        code, stderr = _stop(server)
    _assert_clean_exit(code, stderr)


def test_synthesize_reads_a_voice_straight_from_s3(s3, pushed, tmp_path):
    _, env = s3
    assert pushed["summary"]["components"]["Pusher"]["pushed"] is True
    wav = tmp_path / "direct.wav"
    said = subprocess.run(
        [CLI, "synthesize", "--model-dir", f"s3://{BUCKET}/serving/{MODEL_NAME}"]
        + ["Straight from the bucket.", "-o", str(wav)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    _assert_clean_exit(said.returncode, said.stderr)
    assert wav.stat().st_size > 44
