"""Hostile requests against the local server (issue 12): refused early, nothing lost.

Real gRPC over loopback with the official stubs and real HTTP sockets, against a server
whose graph is a scripted Python function (serving.testing.scripted_servables), so that
each test can count, hold and release graph runs instead of timing them.
"""

import contextlib
import json
import socket
import threading
import time
import tracemalloc
import uuid

import grpc
import numpy as np
import pytest
import requests
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_service_pb2_grpc

from serving import tensors, validation
from serving.errors import ServingError, invalid_argument
from serving.server import ModelServer, ServerOptions
from serving.testing import scripted_servables, text_signature

HTTP = requests.Session()
HTTP.trust_env = False
TIMEOUT_S = 30
MAX_BYTES = 1024


class Model:
    """The scripted graph: counts runs; while held, a run waits for `release`."""

    def __init__(self) -> None:
        self.runs = 0
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def __call__(self, inputs):
        with self._lock:
            self.runs += 1
        assert self._open.wait(TIMEOUT_S), "a held run was never released"
        return {"audio_length": np.array([len(t) for t in inputs["text"]], np.int32)}


def wait_until(predicate, what: str, timeout_s: float = TIMEOUT_S) -> None:
    """Polls a condition (not a timing window): fails only if it never becomes true."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def serve(tmp_path, model=None, batching: str | None = None, **overrides):
    version = tmp_path / "voice" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"scripted")
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true path: "/metrics" }')
    options = dict(
        port=0,
        rest_api_port=0,
        model_name="voice",
        model_base_path=str(tmp_path / "voice"),
        file_system_poll_wait_seconds=0.05,
        monitoring_config_file=str(monitoring),
        max_request_bytes=MAX_BYTES,
        grpc_max_threads=16,
        rest_api_num_threads=16,
    )
    if batching is not None:
        params = tmp_path / "batching.txt"
        params.write_text(batching)
        options.update(enable_batching=True, batching_parameters_file=str(params))
    options.update(overrides)
    with ModelServer(ServerOptions(**options), scripted_servables(model)) as server:
        channel = grpc.insecure_channel(
            f"127.0.0.1:{server.grpc_port}", options=[("grpc.enable_http_proxy", 0)]
        )
        server.predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        server.rest = f"http://127.0.0.1:{server.rest_port}"
        try:
            yield server
        finally:
            channel.close()


def _request(texts=("Hello.",), name="voice", proto=None) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if proto is None:
        proto = tensors.make_tensor_proto(np.array([t.encode() for t in texts], object))
    request.inputs["text"].CopyFrom(proto)
    return request


def _grpc_error(server, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        server.predictions.Predict(request, timeout=TIMEOUT_S)
    return caught.value


def _count(server, status: str) -> int:
    return server.metrics.request_count.value("voice", status)


def _raw(port: int, data: bytes, timeout_s: float = TIMEOUT_S) -> bytes:
    """Sends bytes on a new connection; everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(data)
        out = b""
        with contextlib.suppress(ConnectionResetError):
            while piece := sock.recv(65536):
                out += piece
        return out


def _predict_bytes(body: bytes, extra: str = "") -> bytes:
    return (
        f"POST /v1/models/voice:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


# --- sizes: rows per request and declared tensor sizes, refused before allocation ---


def test_rows_per_request_are_bounded_on_both_ports(tmp_path):
    model = Model()
    with serve(tmp_path, model, max_request_rows=8) as server:
        error = _grpc_error(server, _request(["a"] * 9))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "has 9 rows" in error.details() and "limit of 8 rows" in error.details()
        assert "--max_request_rows" in error.details()
        url = f"{server.rest}/v1/models/voice:predict"
        for body in ({"instances": ["a"] * 9}, {"inputs": {"text": ["a"] * 9}}):
            reply = HTTP.post(url, json=body, timeout=TIMEOUT_S)
            assert reply.status_code == 400, reply.text
            assert "9 rows, over the limit of 8 rows" in reply.json()["error"]
        assert model.runs == 0
        assert HTTP.post(url, json={"instances": ["a"] * 8}, timeout=TIMEOUT_S).status_code == 200
        assert model.runs == 1
    assert validation.TextLimits().max_request_rows == 64  # the default


def test_a_49_byte_request_declaring_16m_strings_is_refused_without_running(tmp_path):
    model = Model()
    with serve(tmp_path, model) as server:
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[b"a"])
        proto.tensor_shape.dim.add(size=2**24)
        request = _request(proto=proto)
        assert request.ByteSize() < 64
        error = _grpc_error(server, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "16777216 rows" in error.details() and "limit of 64 rows" in error.details()
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[b"a"])
        proto.tensor_shape.dim.add(size=3)
        error = _grpc_error(server, _request(proto=proto))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "declares 3 elements (shape [3]) but carries 1 string_val" in error.details()
        assert model.runs == 0


def test_declared_sizes_are_checked_before_anything_is_allocated():
    signature = text_signature()["serving_default"]
    limits = validation.TextLimits()
    cases = {
        "rows": ([2**28], "268435456 rows"),
        "elements": ([1, 2**22], "declares 4194304 elements (shape [1,4194304])"),
    }
    for dims, words in cases.values():
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0])
        for size in dims:
            proto.tensor_shape.dim.add(size=size)
        request = predict_pb2.PredictRequest()
        request.inputs["text"].CopyFrom(proto)
        tracemalloc.start()
        try:
            with pytest.raises(ServingError) as caught:
                validation.prepare("serving_default", signature, request, limits)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert caught.value.code_name == "INVALID_ARGUMENT"
        assert words in caught.value.message
        assert peak < 1024 * 1024, f"{peak} bytes allocated before refusing {dims}"


# --- callers that leave: their queued work never runs ---


def test_cancelled_grpc_requests_leave_the_queue_and_never_run(tmp_path):
    model = Model()
    with serve(tmp_path, model, max_concurrent_runs=1) as server:
        model.hold()
        first = server.predictions.Predict.future(_request(), timeout=TIMEOUT_S)
        wait_until(lambda: model.runs == 1, "the first request runs (held)")
        queued = [
            server.predictions.Predict.future(_request(), timeout=TIMEOUT_S) for _ in range(9)
        ]
        wait_until(lambda: server.run_slots.waiting == 9, "9 requests wait for a run slot")
        for future in queued:
            future.cancel()
        wait_until(lambda: _count(server, "CANCELLED") == 9, "the server saw 9 cancellations")
        assert server.run_slots.waiting == 0
        model.release()
        assert first.result(timeout=TIMEOUT_S).outputs["audio_length"].int_val == [6]
        assert model.runs == 1  # 10 requests sent, 9 cancelled while queued: one graph run


def test_deadline_and_cancel_drop_queued_batches(tmp_path):
    model = Model()
    params = "max_batch_size { value: 1 } batch_timeout_micros { value: 0 } "
    params += "num_batch_threads { value: 1 } max_enqueued_batches { value: 100 }"
    with serve(tmp_path, model, batching=params) as server:
        model.hold()
        first = server.predictions.Predict.future(_request(), timeout=TIMEOUT_S)
        wait_until(lambda: model.runs == 1, "the first batch runs (held)")
        with server.manager.servable(model_pb2.ModelSpec(name="voice")) as servable:
            batcher = servable.batcher("serving_default")
        cancelled = [
            server.predictions.Predict.future(_request(), timeout=TIMEOUT_S) for _ in range(5)
        ]
        late = [server.predictions.Predict.future(_request(), timeout=1.0) for _ in range(4)]
        wait_until(lambda: batcher.queued_tasks == 9, "9 requests wait in the batch queue")
        for future in cancelled:
            future.cancel()
        for future in late:  # their deadline passes while the first batch is held
            with pytest.raises(grpc.RpcError) as caught:
                future.result(timeout=TIMEOUT_S)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_until(lambda: batcher.queued_tasks == 0, "the queue drops the 9 requests")
        model.release()
        first.result(timeout=TIMEOUT_S)
        assert model.runs == 1


def test_rest_clients_that_hang_up_leave_the_queue(tmp_path):
    model = Model()
    with serve(tmp_path, model, max_concurrent_runs=1) as server:
        model.hold()
        first = server.predictions.Predict.future(_request(), timeout=TIMEOUT_S)
        wait_until(lambda: model.runs == 1, "the first request runs (held)")
        body = json.dumps({"instances": ["Hi."]}).encode()
        clients = []
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", server.rest_port))
            sock.sendall(_predict_bytes(body))
            clients.append(sock)
        wait_until(lambda: server.run_slots.waiting == 5, "5 REST requests wait for a slot")
        for sock in clients:
            sock.close()  # the clients hang up
        wait_until(lambda: _count(server, "CANCELLED") == 5, "the server saw 5 hang-ups")
        wait_until(lambda: server.run_slots.waiting == 0, "they left the queue")
        model.release()
        first.result(timeout=TIMEOUT_S)
        assert model.runs == 1  # 6 requests, 5 of them gone before their turn


def test_a_rest_call_that_times_out_is_dropped_not_run_later(tmp_path):
    model = Model()
    with serve(tmp_path, model, max_concurrent_runs=1, rest_api_timeout_in_ms=300) as server:
        model.hold()
        first = server.predictions.Predict.future(_request(), timeout=TIMEOUT_S)
        wait_until(lambda: model.runs == 1, "the first request runs (held)")
        reply = HTTP.post(
            f"{server.rest}/v1/models/voice:predict",
            json={"instances": ["Hi."]},
            timeout=TIMEOUT_S,
        )
        assert reply.status_code == 504 and "Deadline exceeded" in reply.json()["error"]
        wait_until(lambda: server.run_slots.waiting == 0, "the timed-out request left the queue")
        model.release()
        first.result(timeout=TIMEOUT_S)
        assert model.runs == 1


# --- HTTP framing, hostile JSON, connections ---


def test_chunked_bodies_malformed_sizes_and_the_sum_of_chunks(tmp_path):
    with serve(tmp_path) as server:
        head = (
            b"POST /v1/models/voice:predict HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for size in (b"-1", b"+5", b"0x10", b"zz"):
            # the body is never finished: a server that keeps reading never answers
            out = _raw(server.rest_port, head + size + b"\r\n" + b"a" * 100_000)
            assert out.startswith(b"HTTP/1.1 400 "), (size, out[:80])
        chunk = b"%x\r\n%s\r\n" % (400, b" " * 400)
        out = _raw(server.rest_port, head + chunk * 4)  # 1600 bytes in chunks of 400
        assert out.startswith(b"HTTP/1.1 413 "), out[:80]
        assert b"exceeds the limit of 1024 bytes" in out
        body = json.dumps({"instances": ["Hi there."]}).encode()
        good = head.replace(b"Host: x", b"Host: x\r\nConnection: close")
        good += b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        out = _raw(server.rest_port, good)
        assert out.startswith(b"HTTP/1.1 200 ") and b'"predictions"' in out
        out = _raw(server.rest_port, _predict_bytes(b" " * 2000))
        assert out.startswith(b"HTTP/1.1 413 ") and b"2000 bytes exceeds" in out


def test_hostile_json_gets_400_with_a_message(tmp_path):
    cases = {
        "lone surrogate": (b'{"instances": ["\\ud800"]}', "surrogate"),
        "1000-deep arrays": (b'{"instances": ' + b"[" * 1000 + b"]" * 1000 + b"}", "nested"),
        "5000-digit number": (b'{"instances": [1' + b"0" * 5000 + b"]}", "Number too big"),
    }
    with serve(tmp_path, max_request_bytes=64 * 1024) as server:
        for name, (body, words) in cases.items():
            reply = HTTP.post(
                f"{server.rest}/v1/models/voice:predict", data=body, timeout=TIMEOUT_S
            )
            assert reply.status_code == 400, name
            message = reply.json()["error"]
            assert message.startswith("JSON Parse error: ") and words in message, name
            assert len(message) < 200, name


def test_idle_and_half_sent_connections_hold_no_thread_and_are_closed(tmp_path):
    with serve(tmp_path, rest_api_idle_timeout_seconds=1) as server:
        threads = threading.active_count()
        half_sent = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", server.rest_port), timeout=TIMEOUT_S)
            sock.sendall(b"POST /v1/models/voice:predict HTTP/1.1\r\nHost: x\r\n")
            half_sent.append(sock)
        http09 = socket.create_connection(("127.0.0.1", server.rest_port), timeout=TIMEOUT_S)
        http09.sendall(b"GET /v1/models/voice\r\n")
        half_sent.append(http09)
        # answered after the 21 connections above were accepted (one accept loop, in order)
        assert _raw(server.rest_port, b"GET /v1/models/voice HTTP/1.0\r\n\r\n").startswith(
            b"HTTP/1.1 200 "
        )
        assert threading.active_count() - threads < 5  # not one thread per connection
        for sock in half_sent:  # the header timeout closes each of them, without an answer
            assert sock.recv(1024) == b""
            sock.close()


def test_open_connections_are_capped(tmp_path):
    with serve(tmp_path, rest_api_max_connections=4) as server:
        idle = [socket.create_connection(("127.0.0.1", server.rest_port)) for _ in range(4)]
        out = _raw(server.rest_port, b"GET /v1/models/voice HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 503 ") and b"Too many open connections" in out
        for sock in idle:
            sock.close()
        wait_until(
            lambda: _raw(server.rest_port, b"GET /v1/models/voice HTTP/1.0\r\n\r\n").startswith(
                b"HTTP/1.1 200 "
            ),
            "a connection is accepted again",
        )


# --- text rules and metrics ---


def test_text_that_normalises_to_nothing_gets_the_documented_message(tmp_path):
    model = Model()
    with serve(tmp_path, model, max_request_bytes=64 * 1024) as server:
        error = _grpc_error(server, _request(["Fine.", "\u2603\u2603"]))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == "input 'text' element 1 is empty: there is no text to speak"
        reply = HTTP.post(
            f"{server.rest}/v1/models/voice:predict",
            json={"instances": ["~"]},
            timeout=TIMEOUT_S,
        )
        assert reply.status_code == 400
        assert reply.json()["error"] == "input 'text' element 0 is empty: there is no text to speak"
        assert model.runs == 0
        assert server.predictions.Predict(_request(["\u00e9" * 600]), timeout=TIMEOUT_S)


def test_graph_text_limits_are_checked_in_characters_and_graph_errors_translated():
    limits = validation.TextLimits(max_text_chars=1000)
    text = np.array(["\u00e9".encode() * 600], object)
    validation.check_text("text", text, limits)  # 600 characters: within the limit
    with pytest.raises(ServingError) as caught:
        validation.check_text("text", text, limits, graph_byte_limit=1000)
    assert caught.value.message == (
        "input 'text' element 0 has 600 characters but 1200 bytes of UTF-8, over this "
        "voice's limit of 1000 (its graph counts bytes): split the text"
    )
    raw = ServingError(
        invalid_argument("x").code,
        "Graph execution error:\n\nDetected at node assert_greater/Assert/Assert ...\n"
        "assertion failed: [text is empty after normalisation (nothing to say)]",
    )
    normalize = validation.TextLimits(normalize=_normalize)
    values = {"text": np.array([b"Fine.", b"~"], object)}
    translated = validation.explain_graph_error(raw, values, normalize)
    assert translated.message == "input 'text' element 1 is empty: there is no text to speak"
    assert translated.code_name == "INVALID_ARGUMENT"


def _normalize(text: str) -> str:
    from models.text.normalize import normalize_text

    return normalize_text(text)


def test_unknown_model_names_do_not_grow_the_metrics_page(tmp_path):
    with serve(tmp_path) as server:
        server.predictions.Predict(_request(), timeout=TIMEOUT_S)
        before = HTTP.get(f"{server.rest}/metrics", timeout=TIMEOUT_S).text
        names = [f"nope-{uuid.uuid4().hex}" for _ in range(200)]
        for name in names[:100]:
            assert _grpc_error(server, _request(name=name)).code() == grpc.StatusCode.NOT_FOUND
        for name in names[100:]:
            reply = HTTP.post(
                f"{server.rest}/v1/models/{name}:predict",
                json={"instances": ["Hi."]},
                timeout=TIMEOUT_S,
            )
            assert reply.status_code == 404
        after = HTTP.get(f"{server.rest}/metrics", timeout=TIMEOUT_S).text
        assert not any(name in after for name in names)
        assert 'model_name="(unknown)",status="NOT_FOUND"} 200' in after
        assert len(after) - len(before) < 2048
        assert 'model_name="voice",status="OK"} 1' in after
