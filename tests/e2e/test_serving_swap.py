"""New versions swap in under load with no failed request; batching; the `serve` command."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import client, tensors
from serving.server import ModelServer, ServerOptions
from serving.testing import export_voice, push_like_pusher

pytestmark = pytest.mark.e2e

HTTP = requests.Session()
HTTP.trust_env = False  # loopback only: never through a proxy from the environment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXT = "A fixed sentence for telling versions apart."
TIMEOUT_S = 60
POLL_S = 0.5


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """Two exported versions (different weights) waiting to be pushed."""
    root = tmp_path_factory.mktemp("staged")
    return {seed: export_voice(str(root / str(seed)), seed=seed) for seed in (1, 2)}


def _channel(port: int) -> grpc.Channel:
    return grpc.insecure_channel(
        f"127.0.0.1:{port}",
        options=[("grpc.max_receive_message_length", -1), ("grpc.enable_http_proxy", 0)],
    )


def _predict(stub, text: str = TEXT):
    request = predict_pb2.PredictRequest(output_filter=["audio", "audio_length"])
    request.model_spec.name = "voice"
    request.inputs["text"].CopyFrom(tensors.make_tensor_proto(np.array([text.encode()], object)))
    response = stub.Predict(request, timeout=TIMEOUT_S)
    length = int(tensors.to_ndarray(response.outputs["audio_length"])[0])
    return response.model_spec.version.value, tensors.to_ndarray(response.outputs["audio"])[
        0, :length
    ]


def _states(port: int) -> dict:
    with _channel(port) as channel:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "voice"
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            request, timeout=10
        )
    names = get_model_status_pb2.ModelVersionStatus.State
    return {
        v.version: (names.Name(v.state), v.status.error_message)
        for v in status.model_version_status
    }


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _count_polls(manager) -> list[int]:
    """[completed file-system polls of `manager`], counted from now (its poll loop calls
    poll_once through the instance, so wrapping it there sees every cycle)."""
    count = [0]
    poll_once = manager.poll_once

    def counted() -> None:
        poll_once()
        count[0] += 1

    manager.poll_once = counted
    return count


def test_push_while_clients_loop_loses_nothing_and_swaps_versions(staged, tmp_path):
    base = tmp_path / "voice"
    shutil.copytree(staged[1], base / "1")
    options = ServerOptions(
        port=0,
        rest_api_port=0,
        model_name="voice",
        model_base_path=str(base),
        file_system_poll_wait_seconds=POLL_S,
    )
    with ModelServer(options) as server:
        channel = _channel(server.grpc_port)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        version, audio_v1 = _predict(stub)
        assert version == 1
        stop = threading.Event()
        seen: list[list[int]] = [[] for _ in range(4)]
        errors: list[str] = []

        def loop(index: int) -> None:
            rest = f"http://127.0.0.1:{server.rest_port}/v1/models/voice:predict"
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline and len(seen[index]) < 2000:
                try:
                    if index == 3:  # one REST client among the gRPC ones
                        reply = HTTP.post(rest, json={"instances": [TEXT]}, timeout=TIMEOUT_S)
                        assert reply.status_code == 200, reply.text
                        seen[index].append(-1)
                    else:
                        seen[index].append(_predict(stub)[0])
                except Exception as error:  # every failure counts
                    errors.append(f"client {index}: {error!r}")

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: all(len(s) >= 3 for s in seen), 60, "clients to get going")

        polls = _count_polls(server.manager)

        def half_written() -> None:  # the Pusher is between files: v2 must not load
            seen_half_written = polls[0] + 3  # one poll may have begun before the half-write
            _wait_for(lambda: polls[0] >= seen_half_written, 30, "three polls of the half write")
            assert set(_states(server.grpc_port)) == {1}

        push_like_pusher(staged[2], str(base / "2"), before_saved_model=half_written)
        _wait_for(lambda: any(2 in s for s in seen[:3]), 90, "answers from version 2")
        count = [len(s) for s in seen]
        _wait_for(
            lambda: all(len(s) >= c + 5 for s, c in zip(seen, count, strict=True)), 60, "more"
        )
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT_S)
        assert errors == []
        for versions in seen[:3]:
            first_v2 = versions.index(2)
            assert set(versions[:first_v2]) == {1} and set(versions[first_v2:]) == {2}
        version, audio_v2 = _predict(stub)
        assert version == 2 and not np.array_equal(audio_v1, audio_v2)
        _wait_for(lambda: _states(server.grpc_port)[1][0] == "END", 30, "version 1 to unload")
        assert _states(server.grpc_port)[2] == ("AVAILABLE", "")

        # A broken version that finishes "writing" is tried, fails, and changes nothing.
        broken = base / "3"
        shutil.copytree(staged[1], broken, ignore=shutil.ignore_patterns("saved_model.pb"))
        (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
        _wait_for(lambda: 3 in _states(server.grpc_port), 30, "version 3 to be tried")
        _wait_for(lambda: _states(server.grpc_port)[3][0] == "END", 60, "version 3 to fail")
        assert _states(server.grpc_port)[3][1]  # the load error is reported
        assert _predict(stub)[0] == 2
        channel.close()


def test_batching_keeps_every_answer_right(staged, tmp_path):
    params = tmp_path / "batching.txt"
    params.write_text(
        "max_batch_size { value: 8 } batch_timeout_micros { value: 20000 } "
        "num_batch_threads { value: 1 } max_enqueued_batches { value: 100 }"
    )
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }")
    base = tmp_path / "voice"
    shutil.copytree(staged[1], base / "1")
    options = ServerOptions(
        port=0,
        rest_api_port=0,
        model_name="voice",
        model_base_path=str(base),
        enable_batching=True,
        batching_parameters_file=str(params),
        monitoring_config_file=str(monitoring),
    )
    texts = [f"Sentence number {i} has {'many ' * i}words." for i in range(8)]
    with ModelServer(options) as server:
        with _channel(server.grpc_port) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            alone = {text: len(_predict(stub, text)[1]) for text in texts}
            results: dict = {}
            errors: list = []

            def call(index: int) -> None:
                for _ in range(5):
                    try:
                        text = texts[index]
                        results.setdefault(text, []).append(len(_predict(stub, text)[1]))
                    except Exception as error:
                        errors.append(repr(error))

            threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
        page = HTTP.get(
            f"http://127.0.0.1:{server.rest_port}/monitoring/prometheus/metrics", timeout=10
        ).text
    assert errors == []
    assert {text: set(lengths) for text, lengths in results.items()} == {
        text: {length} for text, length in alone.items()
    }
    batches = [
        line for line in page.splitlines() if line.startswith(":tts_serving:batch_size_count")
    ]
    (count_line,) = batches
    assert int(count_line.split()[-1]) < 8 + 40  # some requests shared a batch


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_runs_and_stops_on_sigterm(staged, tmp_path):
    base = tmp_path / "voice"
    shutil.copytree(staged[2], base / "7")
    grpc_port, rest_port = _free_port(), _free_port()
    command = [
        sys.executable,
        "-m",
        "serving.cli",
        "serve",
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        "--model_name=voice",
        f"--model_base_path={base}",
        "--file_system_poll_wait_seconds=1",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if HTTP.get(f"http://127.0.0.1:{rest_port}/v1/models/voice", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.5)
        result = client.synthesize(f"127.0.0.1:{grpc_port}", "voice", ["Hello.", "Goodbye now."])
        assert result.version == 7 and result.sample_rate == 22050
        assert all(len(wave) > 0 for wave in result.waves)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert "serving voice on gRPC 127.0.0.1" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
