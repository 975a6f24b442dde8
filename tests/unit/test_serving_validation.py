"""Predict checks: TF Serving's order and messages, then the voice's text rules; tensor codecs."""

import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2

from serving import tensors, validation
from serving.errors import ServingError
from serving.tensors import DT

LIMITS = validation.TextLimits(max_text_chars=20)


def _signature() -> meta_graph_pb2.SignatureDef:
    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    text = signature.inputs["text"]
    text.name, text.dtype = "serving_default_text:0", DT.DT_STRING
    text.tensor_shape.dim.add(size=-1)
    for name, dtype in (("audio", DT.DT_FLOAT), ("audio_length", DT.DT_INT32)):
        signature.outputs[name].dtype = dtype
    return signature


def _request(inputs: dict, output_filter=()) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(
            value if isinstance(value, tensor_pb2.TensorProto) else tensors.make_tensor_proto(value)
        )
    return request


def _text(*items) -> np.ndarray:
    return np.array([i if isinstance(i, bytes) else i.encode() for i in items], dtype=object)


def _error(inputs: dict, output_filter=()) -> str:
    with pytest.raises(ServingError) as caught:
        validation.prepare("serving_default", _signature(), _request(inputs, output_filter), LIMITS)
    assert caught.value.code_name == "INVALID_ARGUMENT" and caught.value.http_status == 400
    return caught.value.message


def test_a_good_request_passes_with_all_or_filtered_outputs():
    values, outputs = validation.prepare(
        "serving_default", _signature(), _request({"text": _text("Hello.")}), LIMITS
    )
    assert values["text"].tolist() == [b"Hello."] and outputs == ["audio", "audio_length"]
    _, outputs = validation.prepare(
        "serving_default", _signature(), _request({"text": _text("Hi")}, ["audio"]), LIMITS
    )
    assert outputs == ["audio"]


def test_wrong_names_say_what_tf_serving_says():
    assert _error({"txt": _text("a")}) == (
        "Signature input alias: text(feed name: serving_default_text:0) not found in request "
        "and no default value provided. Inputs expected to be in the request {txt}, or default "
        "input alias set: "
    )
    assert _error({"text": _text("a"), "x": _text("b")}) == (
        "input size does not match signature: 2!=1 len({text,x}) != len({text}). "
        "Sent extra: {x}. Missing but required: {}."
    )
    assert _error({"text": _text("a")}, ["wave"]) == (
        "output tensor alias not found in signature: wave Outputs expected to be in the set "
        "{audio,audio_length}."
    )
    assert (
        _error({"text": _text("a")}, ["audio", "audio"]) == "duplicate output tensor alias: audio"
    )


def test_wrong_dtype_and_shape():
    assert _error({"text": np.array([1.0], np.float32)}) == (
        "Expects arg[0] to be string but float is provided"
    )
    assert "has shape [1,2] but signature 'serving_default' expects [-1]" in _error(
        {"text": _text("a", "b").reshape(1, 2)}
    )
    broken = tensor_pb2.TensorProto(dtype=DT.DT_FLOAT, tensor_content=b"abc")
    broken.tensor_shape.dim.add(size=1)
    assert _error({"text": broken}) == "tensor parsing error: text"


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("", "element 0 is empty"),
        ("  \n", "element 0 is empty"),
        (b"ok \xff", "element 0 is not valid UTF-8 (byte 0xff at offset 3)"),
        ("x" * 21, "element 0 has 21 characters, over the limit of 20"),
    ],
)
def test_text_rules(item, words):
    assert words in _error({"text": _text(item)})


def test_no_elements_is_empty_text():
    assert "has no elements" in _error({"text": np.empty(0, dtype=object)})


def test_tensor_codecs_follow_tensorflow():
    proto = tensor_pb2.TensorProto(dtype=DT.DT_FLOAT, float_val=[1.5])
    proto.tensor_shape.dim.add(size=3)
    assert tensors.to_ndarray(proto).tolist() == [1.5, 1.5, 1.5]  # short field: last repeats
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert np.array_equal(tensors.to_ndarray(tensors.make_tensor_proto(array)), array)
    content = tensor_pb2.TensorProto(
        dtype=DT.DT_FLOAT, tensor_content=array.astype("<f4").tobytes()
    )
    content.tensor_shape.dim.add(size=6)
    assert tensors.to_ndarray(content).tolist() == [0, 1, 2, 3, 4, 5]
    assert tensors.make_tensor_proto(np.ones(2, np.float32)).float_val == [1.0, 1.0]
    assert tensors.dtype_string(DT.DT_DOUBLE) == "double"
