"""REST JSON <-> tensors as TF Serving's json_tensor.cc: formats, type rules, messages, numbers."""

import json

import numpy as np
import pytest
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2

from serving import json_tensor, tensors
from serving.errors import ServingError
from serving.tensors import DT


def _info(**dtypes) -> dict:
    return {name: meta_graph_pb2.TensorInfo(dtype=dtype) for name, dtype in dtypes.items()}


def _fill(body, info=None):
    request = predict_pb2.PredictRequest()
    info = info or _info(text=DT.DT_STRING)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    fmt = json_tensor.fill_predict_request(raw, lambda signature: info, request)
    return fmt, {k: tensors.to_ndarray(v) for k, v in request.inputs.items()}, request


def _error(body, info=None) -> str:
    with pytest.raises(ServingError) as caught:
        _fill(body, info)
    assert caught.value.code_name == "INVALID_ARGUMENT"
    return caught.value.message


def test_row_and_columnar_give_the_same_tensor():
    for body in (
        {"instances": ["Hello.", "World."]},
        {"instances": [{"text": "Hello."}, {"text": "World."}]},
        {"inputs": ["Hello.", "World."]},
        {"inputs": {"text": ["Hello.", "World."]}},
        {"instances": [{"b64": "SGVsbG8u"}, {"b64": "V29ybGQu"}]},
    ):
        fmt, values, _ = _fill(body)
        assert fmt == ("row" if "instances" in body else "columnar")
        assert values["text"].tolist() == [b"Hello.", b"World."]


def test_signature_name_is_taken_and_must_be_a_string():
    _, _, request = _fill({"signature_name": "synthesize_mel", "instances": ["a"]})
    assert request.model_spec.signature_name == "synthesize_mel"
    assert "'signature_name' key must be a string value." in _error({"signature_name": 100})


def test_several_inputs_need_objects_and_equal_shapes():
    info = _info(token_ids=DT.DT_INT32, token_length=DT.DT_INT32)
    _, values, _ = _fill({"instances": [{"token_ids": [1, 2], "token_length": 2}] * 3}, info)
    assert values["token_ids"].shape == (3, 2) and values["token_length"].tolist() == [2, 2, 2]
    assert "instances is a plain list" in _error({"instances": [[1, 2]]}, info)
    assert "Missing named input: token_length in 'inputs' object." == _error(
        {"inputs": {"token_ids": [[1]]}}, info
    )
    message = _error(
        {
            "instances": [
                {"token_ids": [1, 2], "token_length": 2},
                {"token_ids": [1], "token_length": 1},
            ]
        },
        info,
    )
    assert "Expecting tensor size: 2 but got: 1" in message


def test_messages_match_tf_serving():
    assert _error(b"") == "JSON Parse error: The document is empty"
    assert _error(b"instances = [1, 2]").startswith("JSON Parse error: Invalid value.")
    assert _error({"instances": [1]}) == (
        "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
        "JSON Value: 1 Type: Number is not of expected type: string"
    )
    assert _error({"instances": [{"txt": "a"}]}) == (
        "Failed to process element: 0 key: txt of 'instances' list. Error: INVALID_ARGUMENT: "
        "JSON object: does not have named input: txt"
    )
    assert _error({"instances": []}).endswith("No values in 'instances' array")
    assert _error({"text": ["a"]}) == "Missing 'inputs' or 'instances' key"
    assert "expecting only one of 'inputs' or 'instances'" in _error(
        {"inputs": ["a"], "instances": ["a"]}
    )
    assert _error({"inputs": [{"b64": "%%%"}]}) == "Unable to base64 decode"
    assert "found at incorrect level: 2 in the JSON DOM" in _error({"inputs": [["a"], "b"]})
    assert _error(b"[1]") == "JSON Value: [1] Is not object"


def test_numbers_follow_rapidjson_types():
    info = _info(x=DT.DT_INT32)
    assert "is not of expected type: int32" in _error({"instances": [1.5]}, info)
    assert "is not of expected type: int32" in _error({"instances": [True]}, info)
    _, values, _ = _fill({"instances": [1.0, 2]}, _info(x=DT.DT_FLOAT))
    assert values["x"].dtype == np.float32 and values["x"].tolist() == [1.0, 2.0]


def test_invalid_utf8_in_the_body_reaches_the_tensor_unchanged():
    _, values, _ = _fill(b'{"instances": ["\xff\xfe ok"]}')
    assert values["text"].tolist() == [b"\xff\xfe ok"]


def test_float_text_is_the_shortest_that_round_trips():
    values = np.array([0.2, 1.0, 1e-05, 9000000.0, -0.0, 0.1234567, np.nan, np.inf], np.float32)
    text = json_tensor._float_strings(values)
    assert text[:5] == ["0.2", "1.0", "1e-05", "9e+06", "-0.0"]
    assert text[6:] == ["NaN", "Infinity"]
    assert np.float32(float(text[5])) == values[5]
    noise = np.random.default_rng(0).normal(size=2000).astype(np.float32)
    parsed = np.array([float(t) for t in json_tensor._float_strings(noise)], np.float32)
    assert np.array_equal(parsed, noise)


def test_outputs_in_row_and_columnar_shapes():
    outputs = {
        "audio": np.arange(6, dtype=np.float32).reshape(2, 3),
        "n": np.array([3, 1], np.int32),
    }
    dtypes = {"audio": DT.DT_FLOAT, "n": DT.DT_INT32}
    row = json.loads(json_tensor.make_json(outputs, dtypes, "row"))
    assert row == {
        "predictions": [{"audio": [0.0, 1.0, 2.0], "n": 3}, {"audio": [3.0, 4.0, 5.0], "n": 1}]
    }
    column = json.loads(json_tensor.make_json(outputs, dtypes, "columnar"))
    assert column == {"outputs": {"audio": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], "n": [3, 1]}}
    single = json.loads(json_tensor.make_json({"n": outputs["n"]}, dtypes, "row"))
    assert single == {"predictions": [3, 1]}
    blob = json.loads(
        json_tensor.make_json(
            {"x_bytes": np.array([b"\x00\x01"], object)}, {"x_bytes": DT.DT_STRING}, "columnar"
        )
    )
    assert blob == {"outputs": [{"b64": "AAE="}]}


def test_error_body():
    assert json.loads(json_tensor.make_error_json("bad \udcff thing")) == {
        "error": "bad \ufffd thing"
    }
