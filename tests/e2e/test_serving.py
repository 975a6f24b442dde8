"""The local server on loopback through the official TF Serving stubs, REST and the client CLI."""

import dataclasses
import json
import threading
import time

import grpc
import numpy as np
import pytest
import requests
import soundfile as sf
from google.protobuf import text_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import cli, client, tensors
from serving.server import ModelServer, ServerOptions
from serving.testing import export_voice

pytestmark = pytest.mark.e2e

HTTP = requests.Session()
HTTP.trust_env = False  # loopback only: never through a proxy from the environment

MAX_TEXT = 200
MAX_BYTES = 64 * 1024
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    export_voice(str(root / "voice" / "1"), seed=1)
    models = root / "models.config"
    models.write_text(
        f'model_config_list {{ config {{ name: "voice" base_path: "{root / "voice"}" '
        'model_platform: "tensorflow" version_labels { key: "stable" value: 1 } } }'
    )
    monitoring = root / "monitoring.config"
    monitoring.write_text(
        'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }'
    )
    options = ServerOptions(
        port=0,
        rest_api_port=0,
        model_config_file=str(models),
        monitoring_config_file=str(monitoring),
        file_system_poll_wait_seconds=1,
        max_text_chars=MAX_TEXT,
        max_request_bytes=MAX_BYTES,
        rest_api_num_threads=4,
        grpc_max_threads=16,
    )
    with ModelServer(options) as running:
        channel = grpc.insecure_channel(
            f"127.0.0.1:{running.grpc_port}",
            options=[("grpc.max_receive_message_length", -1), ("grpc.enable_http_proxy", 0)],
        )
        running.predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        running.models = model_service_pb2_grpc.ModelServiceStub(channel)
        running.rest = f"http://127.0.0.1:{running.rest_port}"
        yield running
        channel.close()


def _request(texts, name="voice", signature="", output_filter=(), **inputs):
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if texts is not None:
        encoded = [t if isinstance(t, bytes) else t.encode() for t in texts]
        request.inputs["text"].CopyFrom(tensors.make_tensor_proto(np.array(encoded, object)))
    for alias, proto in inputs.items():
        request.inputs[alias].CopyFrom(proto)
    return request


def _outputs(response) -> dict:
    return {alias: tensors.to_ndarray(proto) for alias, proto in response.outputs.items()}


def _good_request_works(server) -> None:
    response = server.predictions.Predict(_request(["Still serving."]), timeout=TIMEOUT_S)
    assert _outputs(response)["audio_length"][0] > 0
    reply = HTTP.post(
        f"{server.rest}/v1/models/voice:predict",
        json={"instances": ["Still serving."]},
        timeout=TIMEOUT_S,
    )
    assert reply.status_code == 200


def test_predict_returns_audio_that_grows_with_the_text(server):
    texts = ["Hi.", "This sentence is quite a lot longer than the first one."]
    response = server.predictions.Predict(_request(texts), timeout=TIMEOUT_S)
    assert (response.model_spec.name, response.model_spec.version.value) == ("voice", 1)
    assert response.model_spec.signature_name == "serving_default"
    out = _outputs(response)
    assert set(out) == {"audio", "audio_length", "mel", "mel_length"}
    assert out["audio"].dtype == np.float32 and out["audio"].shape[0] == 2
    assert out["mel"].shape[::2] == (2, 80)
    short, long = (int(n) for n in out["audio_length"])
    assert 0 < short < long <= out["audio"].shape[1]
    assert np.abs(out["audio"][1, :long]).max() > 0


def test_output_filter_is_honoured(server):
    request = _request(["Hello."], output_filter=["audio_length"])
    response = server.predictions.Predict(request, timeout=TIMEOUT_S)
    assert list(response.outputs) == ["audio_length"]


def test_metadata_and_status(server):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "voice"
    response = server.predictions.GetModelMetadata(request, timeout=TIMEOUT_S)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    serving_default = signatures.signature_def["serving_default"]
    assert serving_default.method_name == "tensorflow/serving/predict"
    assert serving_default.inputs["text"].dtype == types_pb2.DT_STRING
    assert [d.size for d in serving_default.inputs["text"].tensor_shape.dim] == [-1]
    assert set(serving_default.outputs) == {"audio", "audio_length", "mel", "mel_length"}
    assert "synthesize_mel" in signatures.signature_def
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "voice"
    status = server.models.GetModelStatus(status_request, timeout=TIMEOUT_S)
    (version,) = status.model_version_status
    assert (version.version, version.state) == (
        1,
        get_model_status_pb2.ModelVersionStatus.AVAILABLE,
    )
    assert version.status.error_code == 0
    assert HTTP.get(f"{server.rest}/v1/models/voice", timeout=TIMEOUT_S).json() == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    metadata = HTTP.get(f"{server.rest}/v1/models/voice/versions/1/metadata", timeout=TIMEOUT_S)
    body = metadata.json()
    assert body["model_spec"] == {"name": "voice", "signature_name": "", "version": "1"}
    text = body["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["text"]
    assert text["dtype"] == "DT_STRING" and text["tensor_shape"]["dim"][0]["size"] == "-1"


def test_rest_row_and_columnar_give_the_same_audio_as_grpc(server):
    text = "The same words, three ways."
    expected = _outputs(server.predictions.Predict(_request([text]), timeout=TIMEOUT_S))
    url = f"{server.rest}/v1/models/voice:predict"
    row = HTTP.post(url, json={"instances": [text]}, timeout=TIMEOUT_S)
    column = HTTP.post(url, json={"inputs": {"text": [text]}}, timeout=TIMEOUT_S)
    assert row.status_code == column.status_code == 200
    assert row.headers["Content-Type"] == "application/json"
    (prediction,) = row.json()["predictions"]
    outputs = column.json()["outputs"]
    for alias, value in expected.items():
        assert np.array_equal(np.array(prediction[alias], value.dtype), value[0]), alias
        assert np.array_equal(np.array(outputs[alias], value.dtype), value), alias


def test_version_labels_and_numbers(server):
    request = _request(["Hello."], output_filter=["audio_length"])
    request.model_spec.version_label = "stable"
    assert server.predictions.Predict(request, timeout=TIMEOUT_S).model_spec.version.value == 1
    for path in ("labels/stable", "versions/1"):
        reply = HTTP.post(
            f"{server.rest}/v1/models/voice/{path}:predict",
            json={"instances": ["Hi."]},
            timeout=TIMEOUT_S,
        )
        assert reply.status_code == 200


def _proto(values, dtype):
    proto = tensors.make_tensor_proto(np.asarray(values), dtype)
    return proto


BAD = [
    # (case, gRPC request, REST path, REST body, gRPC code, HTTP status, words in both messages)
    (
        "unknown model",
        _request(["Hi."], name="nope"),
        "/v1/models/nope:predict",
        {"instances": ["Hi."]},
        grpc.StatusCode.NOT_FOUND,
        404,
        "Servable not found for request: Latest(nope)",
    ),
    (
        "unknown version",
        None,  # built in the test: version 9
        "/v1/models/voice/versions/9:predict",
        {"instances": ["Hi."]},
        grpc.StatusCode.NOT_FOUND,
        404,
        "Servable not found for request: Specific(voice, 9)",
    ),
    (
        "wrong input name",
        _request(None, txt=_proto([b"Hi."], types_pb2.DT_STRING)),
        "/v1/models/voice:predict",
        {"instances": [{"txt": "Hi."}]},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "txt",
    ),
    (
        "wrong dtype",
        _request(None, text=_proto(np.array([1.5], np.float32), types_pb2.DT_FLOAT)),
        "/v1/models/voice:predict",
        {"instances": [1.5]},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "string",
    ),
    (
        "wrong shape",
        _request(None, text=_proto(np.array([[b"a", b"b"]], object), types_pb2.DT_STRING)),
        "/v1/models/voice:predict",
        {"instances": [["a", "b"]]},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "expects [-1]",
    ),
    (
        "empty text",
        _request([" "]),
        "/v1/models/voice:predict",
        {"instances": [""]},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "is empty",
    ),
    (
        "text over the limit",
        _request(["x" * (MAX_TEXT + 1)]),
        "/v1/models/voice:predict",
        {"instances": ["x" * (MAX_TEXT + 1)]},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        f"over the limit of {MAX_TEXT}",
    ),
    (
        "text that normalises to nothing",
        _request(["\u2603\u2603"]),
        "/v1/models/voice:predict",
        {"instances": ["~"]},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "element 0 is empty: there is no text to speak",
    ),
    (
        "more rows than --max_request_rows",
        _request(["a"] * 65),
        "/v1/models/voice:predict",
        {"instances": ["a"] * 65},
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "65 rows",
    ),
    (
        "invalid UTF-8",
        _request([b"caf\xe9"]),
        "/v1/models/voice:predict",
        b'{"instances": ["caf\xe9"]}',
        grpc.StatusCode.INVALID_ARGUMENT,
        400,
        "not valid UTF-8",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[case[0] for case in BAD])
def test_bad_requests_get_tf_servings_status_and_the_server_goes_on(server, case):
    name, request, path, body, code, http_status, words = case
    if request is None:
        request = _request(["Hi."])
        request.model_spec.version.value = 9
    with pytest.raises(grpc.RpcError) as caught:
        server.predictions.Predict(request, timeout=TIMEOUT_S)
    assert caught.value.code() == code, caught.value.details()
    assert words in caught.value.details()
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = HTTP.post(server.rest + path, data=payload, timeout=TIMEOUT_S)
    assert reply.status_code == http_status, reply.text
    assert words in reply.json()["error"]
    _good_request_works(server)


def test_non_ascii_text_is_measured_in_characters_never_a_raw_graph_error(server):
    """600 x "é" is 600 characters, under the default limit of 1000: spoken, or (by a voice
    whose graph counts bytes) refused before the graph with both counts; never the graph's
    raw assertion message."""
    options = dataclasses.replace(server.options, max_text_chars=1000, port=0, rest_api_port=0)
    text = "\u00e9" * 600
    with ModelServer(options) as local:
        with local.manager.servable(model_pb2.ModelSpec(name="voice")) as servable:
            byte_limit = servable.text_byte_limits.get("text")
        channel = grpc.insecure_channel(
            f"127.0.0.1:{local.grpc_port}", options=[("grpc.enable_http_proxy", 0)]
        )
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = _request([text], output_filter=["audio_length"])
        try:
            stub.Predict(request, timeout=TIMEOUT_S)
            refused = None
        except grpc.RpcError as error:
            refused = error
        finally:
            channel.close()
        reply = HTTP.post(
            f"http://127.0.0.1:{local.rest_port}/v1/models/voice:predict",
            json={"instances": [text]},
            timeout=TIMEOUT_S,
        )
    if byte_limit is None or byte_limit >= 1200:
        assert refused is None and reply.status_code == 200
    else:
        assert refused is not None and refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        words = "has 600 characters but 1200 bytes of UTF-8"
        assert words in refused.details() and "Graph execution error" not in refused.details()
        assert reply.status_code == 400 and words in reply.json()["error"]


def test_signature_and_output_errors(server):
    with pytest.raises(grpc.RpcError) as caught:
        server.predictions.Predict(_request(["Hi."], signature="nope"), timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == 'Serving signature key "nope" not found.'
    with pytest.raises(grpc.RpcError) as caught:
        server.predictions.Predict(_request(["Hi."], output_filter=["wave"]), timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reply = HTTP.post(
        f"{server.rest}/v1/models/voice:predict",
        json={"signature_name": "nope", "instances": ["Hi."]},
        timeout=TIMEOUT_S,
    )
    assert reply.status_code == 400
    assert reply.json() == {"error": 'Serving signature name: "nope" not found in signature def'}
    _good_request_works(server)


def test_request_size_limits_on_both_ports(server):
    big = "x" * (MAX_BYTES + 1)
    with pytest.raises(grpc.RpcError) as caught:
        server.predictions.Predict(_request([big]), timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    reply = HTTP.post(
        f"{server.rest}/v1/models/voice:predict", json={"instances": [big]}, timeout=TIMEOUT_S
    )
    assert reply.status_code == 413 and "exceeds the limit" in reply.json()["error"]
    _good_request_works(server)


def test_prometheus_metrics(server):
    _good_request_works(server)
    with pytest.raises(grpc.RpcError):
        server.predictions.Predict(_request([""]), timeout=TIMEOUT_S)
    page = HTTP.get(f"{server.rest}/monitoring/prometheus/metrics", timeout=TIMEOUT_S)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/plain")
    text = page.text
    assert ':tensorflow:serving:request_count{model_name="voice",status="OK"}' in text
    assert ':tensorflow:serving:request_count{model_name="voice",status="INVALID_ARGUMENT"}' in text
    assert (
        ':tensorflow:serving:request_latency_bucket{model_name="voice",API="Predict",'
        'entrypoint="GRPC",le="+Inf"}'
    ) in text
    assert 'entrypoint="REST"' in text and 'version="1"' in text
    assert HTTP.get(f"{server.rest}/metrics", timeout=TIMEOUT_S).status_code == 404


def test_load_8_clients_x_50_requests(server):
    errors: list[str] = []
    done = [0] * 8
    deadline = time.monotonic() + 150

    def client(index: int) -> None:
        for i in range(50):
            if time.monotonic() > deadline:
                errors.append(f"client {index}: out of time after {i} requests")
                return
            request = _request([f"Client {index} says hello {i}."], output_filter=["audio_length"])
            try:
                response = server.predictions.Predict(request, timeout=TIMEOUT_S)
                assert tensors.to_ndarray(response.outputs["audio_length"])[0] > 0
                done[index] += 1
            except (grpc.RpcError, AssertionError) as error:
                errors.append(f"client {index}: {error}")

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    elapsed = time.monotonic() - started
    assert errors == [] and done == [50] * 8
    print(f"load: 400 requests from 8 clients in {elapsed:.1f} s ({400 / elapsed:.1f} req/s)")


def test_client_cli_writes_a_wav(server, tmp_path, capsys):
    wav = tmp_path / "out.wav"
    address = f"127.0.0.1:{server.grpc_port}"
    argv = ["synthesize", "Hello from the client.", "--server", address, "--model-name", "voice"]
    assert cli.main([*argv, "-o", str(wav)]) == 0
    audio, rate = sf.read(str(wav))
    assert rate == 22050 and len(audio) > 0
    assert "version 1" in capsys.readouterr().out
    assert cli.main(["synthesize", "Hi.", "--server", address, "--model-name", "nope"]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err


def test_tensorflow_free_client_gets_the_official_stubs_audio(server):
    """serving.client (wire_protos, no TensorFlow) against a real voice: bit for bit the audio
    the official predict_pb2 stub gets (tests/unit/test_client_grpc.py runs it with TF blocked)."""
    texts = ["Hello there.", "Hi."]
    request = _request(texts, output_filter=["audio", "audio_length"])
    official = _outputs(server.predictions.Predict(request, timeout=TIMEOUT_S))
    result = client.synthesize(f"127.0.0.1:{server.grpc_port}", "voice", texts, version=1)
    assert (result.model_name, result.version) == ("voice", 1)
    for row, wave in enumerate(result.waves):
        length = int(official["audio_length"][row])
        np.testing.assert_array_equal(wave, official["audio"][row, :length])


def test_requests_built_with_tf_make_tensor_proto(server):
    """What TF Serving's own examples send: tf.make_tensor_proto, read with tf.make_ndarray."""
    import tensorflow as tf

    request = _request(None, text=tf.make_tensor_proto(["Hello there."]))
    response = server.predictions.Predict(request, timeout=TIMEOUT_S)
    audio = tf.make_ndarray(response.outputs["audio"])
    length = tf.make_ndarray(response.outputs["audio_length"])
    assert audio.shape[0] == 1 and 0 < length[0] <= audio.shape[1]


def test_reload_config_adds_and_removes_models(server):
    """ModelService.HandleReloadConfigRequest: a second model comes up, then goes again."""
    with open(server.options.model_config_file) as handle:
        config = handle.read()
    second = config.replace('name: "voice"', 'name: "voice2"')
    second = second.replace('version_labels { key: "stable" value: 1 }', "")
    request = model_management_pb2.ReloadConfigRequest()
    text_format.Parse(second, request.config)
    text_format.Merge(config, request.config)
    response = server.models.HandleReloadConfigRequest(request, timeout=TIMEOUT_S)
    assert response.status.error_code == 0, response.status.error_message
    assert server.predictions.Predict(_request(["Hi."], name="voice2"), timeout=TIMEOUT_S)
    request = model_management_pb2.ReloadConfigRequest()
    text_format.Parse(config, request.config)
    response = server.models.HandleReloadConfigRequest(request, timeout=TIMEOUT_S)
    assert response.status.error_code == 0
    with pytest.raises(grpc.RpcError) as caught:
        server.predictions.Predict(_request(["Hi."], name="voice2"), timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    request = model_management_pb2.ReloadConfigRequest()
    text_format.Parse(config, request.config)
    request.config.model_config_list.config[0].base_path = "relative/voice"
    with pytest.raises(grpc.RpcError) as caught:
        server.models.HandleReloadConfigRequest(request, timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "to have an absolute path" in caught.value.details()
    _good_request_works(server)
