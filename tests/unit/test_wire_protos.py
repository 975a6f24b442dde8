"""serving/wire_protos.py against the official messages: the same descriptors (names, numbers,
types), the same bytes for the same requests and responses, and each parses the other's."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2

from serving import client, tensors, wire_protos

TEXTS = [
    ["Hello."],
    ["Hello there.", "Größe, naïve café: 12 € at 3:45 p.m.", ""],
    ["x" * 1000, "日本語のテキスト", "line\nbreak\ttab \u2028"],
]
OPTIONS = [
    {},
    {"version": 3},
    {"version": 0},
    {"version_label": "stable"},
    {"signature_name": "other", "version": 2**40},
]


def _official_request(model_name, texts, version=None, version_label=None, signature_name=None):
    """The request as a TF Serving client builds it with the official classes."""
    request = predict_pb2.PredictRequest(output_filter=["audio", "audio_length"])
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name or "serving_default"
    if version is not None:
        request.model_spec.version.value = version
    elif version_label:
        request.model_spec.version_label = version_label
    encoded = np.array([t.encode("utf-8") for t in texts], dtype=object)
    request.inputs["text"].CopyFrom(tensors.make_tensor_proto(encoded))
    return request


OFFICIAL = {
    "TensorShapeProto": tensor_shape_pb2.TensorShapeProto,
    "TensorProto": tensor_pb2.TensorProto,
    "ModelSpec": model_pb2.ModelSpec,
    "PredictRequest": predict_pb2.PredictRequest,
    "PredictResponse": predict_pb2.PredictResponse,
}
LEFT_OUT = {"resource_handle_val", "variant_val", "predict_streamed_options", "client_id"}


def _same_fields(ours, theirs) -> None:
    """Same full name, and each of our fields has its twin's number, type, label and oneof;
    nested messages (Dim, the map entries) alike."""
    assert ours.full_name == theirs.full_name
    assert ours.GetOptions().map_entry == theirs.GetOptions().map_entry
    for field in ours.fields:
        twin = theirs.fields_by_name[field.name]
        assert (field.number, field.type, field.label) == (twin.number, twin.type, twin.label)
        if field.message_type is not None:
            assert field.message_type.full_name == twin.message_type.full_name
        if field.enum_type is not None:
            assert field.enum_type.full_name == twin.enum_type.full_name
        oneof = field.containing_oneof
        assert (oneof and oneof.name) == (twin.containing_oneof and twin.containing_oneof.name)
    assert {f.name for f in theirs.fields} - {f.name for f in ours.fields} <= LEFT_OUT
    for nested in ours.nested_types:
        _same_fields(nested, theirs.nested_types_by_name[nested.name])


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_descriptors_match_the_official_ones(name):
    ours, theirs = getattr(wire_protos, name).DESCRIPTOR, OFFICIAL[name].DESCRIPTOR
    assert ours.file.pool is not theirs.file.pool  # a private pool: no clash with TensorFlow's
    _same_fields(ours, theirs)


def test_data_types_and_value_fields_are_tensorflows():
    for number, name in wire_protos.DATA_TYPE_NAMES.items():
        assert types_pb2.DataType.Value(name) == number
    for name in ("DT_FLOAT", "DT_INT32", "DT_STRING", "DT_INT64"):
        assert getattr(wire_protos, name) == types_pb2.DataType.Value(name)
    for dtype, (numpy_type, field) in wire_protos._NUMERIC.items():
        assert tensors._FIELDS[dtype][1] == field  # the server's codec, on TensorFlow's enum
        assert np.dtype(tensors._FIELDS[dtype][0]) == np.dtype(numpy_type).newbyteorder("=")


@pytest.mark.parametrize("texts", TEXTS)
@pytest.mark.parametrize("options", OPTIONS)
def test_predict_requests_are_byte_identical(texts, options):
    light = client.predict_request("voice", texts, **options)
    official = _official_request("voice", texts, **options)
    light_bytes, official_bytes = light.SerializeToString(), official.SerializeToString()
    assert light_bytes == official_bytes
    assert predict_pb2.PredictRequest.FromString(light_bytes) == official
    assert wire_protos.PredictRequest.FromString(official_bytes) == light
    assert tensors.to_ndarray(light.inputs["text"]).tolist() == [t.encode() for t in texts]
    assert wire_protos.to_ndarray(official.inputs["text"]).tolist() == [t.encode() for t in texts]


def _responses(audio: np.ndarray, lengths: np.ndarray, content: bool):
    """The same PredictResponse built with both sets of classes; audio in tensor_content or in
    float_val (TF Serving writes float_val; tf.make_tensor_proto writes tensor_content)."""
    built = []
    for response_class in (predict_pb2.PredictResponse, wire_protos.PredictResponse):
        response = response_class()
        response.model_spec.name = "voice"
        response.model_spec.version.value = 1700000000
        response.model_spec.signature_name = "serving_default"
        wave, length = response.outputs["audio"], response.outputs["audio_length"]
        wave.dtype, length.dtype = types_pb2.DT_FLOAT, types_pb2.DT_INT32
        for size in audio.shape:
            wave.tensor_shape.dim.add(size=size)
        length.tensor_shape.dim.add(size=len(lengths))
        if content:
            wave.tensor_content = audio.astype("<f4").tobytes()
            length.tensor_content = lengths.astype("<i4").tobytes()
        else:
            wave.float_val.extend(audio.reshape(-1).tolist())
            length.int_val.extend(lengths.tolist())
        built.append(response)
    return built


@pytest.mark.parametrize("content", [True, False], ids=["tensor_content", "float_val"])
def test_predict_responses_are_byte_identical_and_decode_alike(content):
    rng = np.random.default_rng(0)
    audio = rng.uniform(-1, 1, (3, 500)).astype(np.float32)
    audio[:, 400:] = 0.0
    lengths = np.array([400, 123, 1], np.int32)
    official, light = _responses(audio, lengths, content)
    official_bytes = official.SerializeToString(deterministic=True)
    light_bytes = light.SerializeToString(deterministic=True)
    assert light_bytes == official_bytes
    assert wire_protos.PredictResponse.FromString(official_bytes) == light
    assert predict_pb2.PredictResponse.FromString(light_bytes) == official
    for name, expected in (("audio", audio), ("audio_length", lengths)):
        ours = wire_protos.to_ndarray(light.outputs[name])
        np.testing.assert_array_equal(ours, expected)
        assert ours.dtype == expected.dtype and ours.flags.writeable
        np.testing.assert_array_equal(ours, tensors.to_ndarray(official.outputs[name]))


def test_unknown_fields_travel_and_bad_tensors_are_refused():
    official = predict_pb2.PredictRequest(client_id=b"caller-7")
    official.predict_streamed_options.split_dimensions["text"] = 0
    light = wire_protos.PredictRequest.FromString(official.SerializeToString())
    assert predict_pb2.PredictRequest.FromString(light.SerializeToString()) == official
    short = wire_protos.TensorProto(dtype=wire_protos.DT_INT64, int64_val=[4, 5])
    short.tensor_shape.dim.add(size=4)
    assert wire_protos.to_ndarray(short).tolist() == [4, 5, 5, 5]  # TensorFlow's repeat rule
    bad = wire_protos.TensorProto(dtype=wire_protos.DT_FLOAT, tensor_content=b"\0" * 6)
    bad.tensor_shape.dim.add(size=2)
    with pytest.raises(ValueError, match="tensor_content has 6 bytes"):
        wire_protos.to_ndarray(bad)
    with pytest.raises(ValueError, match="DT_COMPLEX64"):
        wire_protos.to_ndarray(wire_protos.TensorProto(dtype=types_pb2.DT_COMPLEX64))
