"""TF Serving's Predict messages built with protobuf's runtime alone, so a gRPC client needs no
TensorFlow: same full names and field numbers as TensorFlow's and TF Serving's .proto files,
so the bytes on the wire are the same.

Declared here: `tensorflow.DataType` (the plain dtypes), `tensorflow.TensorShapeProto`,
`tensorflow.TensorProto` (every value field but `resource_handle_val` and `variant_val`),
`tensorflow.serving.ModelSpec`, `PredictRequest` and `PredictResponse` (without the streaming
options and `client_id`). Fields left out still travel: proto3 keeps unknown fields when it
parses and writes them back. The messages live in a private descriptor pool, so they never
clash with TensorFlow's own classes in a process that imports both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

from serving.config_protos import field_descriptor

_F = descriptor_pb2.FieldDescriptorProto
_MESSAGE = _F.TYPE_MESSAGE

# tensorflow/core/framework/types.proto: DataType, the plain (non-reference) types
_DATA_TYPES = (
    ("DT_INVALID", 0), ("DT_FLOAT", 1), ("DT_DOUBLE", 2), ("DT_INT32", 3), ("DT_UINT8", 4),
    ("DT_INT16", 5), ("DT_INT8", 6), ("DT_STRING", 7), ("DT_COMPLEX64", 8), ("DT_INT64", 9),
    ("DT_BOOL", 10), ("DT_QINT8", 11), ("DT_QUINT8", 12), ("DT_QINT32", 13),
    ("DT_BFLOAT16", 14), ("DT_QINT16", 15), ("DT_QUINT16", 16), ("DT_UINT16", 17),
    ("DT_COMPLEX128", 18), ("DT_HALF", 19), ("DT_RESOURCE", 20), ("DT_VARIANT", 21),
    ("DT_UINT32", 22), ("DT_UINT64", 23),
)  # fmt: skip


def _map_entry(name: str, value_type: str) -> descriptor_pb2.DescriptorProto:
    """The nested `<Name>Entry` message protoc writes for `map<string, value_type>`."""
    entry = descriptor_pb2.DescriptorProto(
        name=name,
        field=[
            field_descriptor("key", 1, _F.TYPE_STRING),
            field_descriptor("value", 2, _MESSAGE, value_type),
        ],
    )
    entry.options.map_entry = True
    return entry


def _tensor_file() -> descriptor_pb2.FileDescriptorProto:
    """types.proto, tensor_shape.proto and tensor.proto (package `tensorflow`), in one file."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="tts_pipeline/wire/tensorflow_tensor.proto", package="tensorflow", syntax="proto3"
    )
    data_type = proto.enum_type.add(name="DataType")
    for name, number in _DATA_TYPES:
        data_type.value.add(name=name, number=number)
    shape = proto.message_type.add(
        name="TensorShapeProto",
        field=[
            field_descriptor("dim", 2, _MESSAGE, ".tensorflow.TensorShapeProto.Dim", repeated=True),
            field_descriptor("unknown_rank", 3, _F.TYPE_BOOL),
        ],
    )
    shape.nested_type.add(
        name="Dim",
        field=[
            field_descriptor("size", 1, _F.TYPE_INT64),
            field_descriptor("name", 2, _F.TYPE_STRING),
        ],
    )
    proto.message_type.add(
        name="TensorProto",
        field=[
            field_descriptor("dtype", 1, _F.TYPE_ENUM, ".tensorflow.DataType"),
            field_descriptor("tensor_shape", 2, _MESSAGE, ".tensorflow.TensorShapeProto"),
            field_descriptor("version_number", 3, _F.TYPE_INT32),
            field_descriptor("tensor_content", 4, _F.TYPE_BYTES),
            field_descriptor("half_val", 13, _F.TYPE_INT32, repeated=True),
            field_descriptor("float_val", 5, _F.TYPE_FLOAT, repeated=True),
            field_descriptor("double_val", 6, _F.TYPE_DOUBLE, repeated=True),
            field_descriptor("int_val", 7, _F.TYPE_INT32, repeated=True),
            field_descriptor("string_val", 8, _F.TYPE_BYTES, repeated=True),
            field_descriptor("scomplex_val", 9, _F.TYPE_FLOAT, repeated=True),
            field_descriptor("int64_val", 10, _F.TYPE_INT64, repeated=True),
            field_descriptor("bool_val", 11, _F.TYPE_BOOL, repeated=True),
            field_descriptor("dcomplex_val", 12, _F.TYPE_DOUBLE, repeated=True),
            field_descriptor("uint32_val", 16, _F.TYPE_UINT32, repeated=True),
            field_descriptor("uint64_val", 17, _F.TYPE_UINT64, repeated=True),
            field_descriptor("float8_val", 18, _F.TYPE_BYTES),
        ],
    )  # proto3: the repeated numbers are packed, as tensor.proto asks
    return proto


def _predict_file() -> descriptor_pb2.FileDescriptorProto:
    """model.proto and predict.proto (package `tensorflow.serving`), in one file."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="tts_pipeline/wire/tensorflow_serving_predict.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto", "tts_pipeline/wire/tensorflow_tensor.proto"],
    )
    version = field_descriptor("version", 2, _MESSAGE, ".google.protobuf.Int64Value")
    version_label = field_descriptor("version_label", 4, _F.TYPE_STRING)
    version.oneof_index = version_label.oneof_index = 0
    proto.message_type.add(
        name="ModelSpec",
        field=[
            field_descriptor("name", 1, _F.TYPE_STRING),
            version,
            version_label,
            field_descriptor("signature_name", 3, _F.TYPE_STRING),
        ],
        oneof_decl=[descriptor_pb2.OneofDescriptorProto(name="version_choice")],
    )
    spec, request = ".tensorflow.serving.ModelSpec", ".tensorflow.serving.PredictRequest"
    response = ".tensorflow.serving.PredictResponse"
    proto.message_type.add(
        name="PredictRequest",
        field=[
            field_descriptor("model_spec", 1, _MESSAGE, spec),
            field_descriptor("inputs", 2, _MESSAGE, f"{request}.InputsEntry", repeated=True),
            field_descriptor("output_filter", 3, _F.TYPE_STRING, repeated=True),
        ],
        nested_type=[_map_entry("InputsEntry", ".tensorflow.TensorProto")],
    )
    proto.message_type.add(
        name="PredictResponse",
        field=[
            field_descriptor("model_spec", 2, _MESSAGE, spec),
            field_descriptor("outputs", 1, _MESSAGE, f"{response}.OutputsEntry", repeated=True),
        ],
        nested_type=[_map_entry("OutputsEntry", ".tensorflow.TensorProto")],
    )
    return proto


def _build() -> dict[str, type]:
    pool = descriptor_pool.DescriptorPool()  # private: TensorFlow's classes live in the default one
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(_tensor_file().SerializeToString())
    pool.AddSerializedFile(_predict_file().SerializeToString())
    factory = message_factory.MessageFactory(pool)

    def message_class(full_name: str) -> type:
        descriptor = pool.FindMessageTypeByName(full_name)
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
            return message_factory.GetMessageClass(descriptor)
        return factory.GetPrototype(descriptor)  # protobuf 3.20

    names = ("tensorflow.TensorShapeProto", "tensorflow.TensorProto",
             "tensorflow.serving.ModelSpec", "tensorflow.serving.PredictRequest",
             "tensorflow.serving.PredictResponse")  # fmt: skip
    return {name.rpartition(".")[2]: message_class(name) for name in names}


_CLASSES = _build()
TensorShapeProto: type = _CLASSES["TensorShapeProto"]
TensorProto: type = _CLASSES["TensorProto"]
ModelSpec: type = _CLASSES["ModelSpec"]
PredictRequest: type = _CLASSES["PredictRequest"]
PredictResponse: type = _CLASSES["PredictResponse"]
_DT = dict(_DATA_TYPES)
DATA_TYPE_NAMES: dict[int, str] = {number: name for name, number in _DATA_TYPES}
DT_FLOAT, DT_INT32, DT_STRING, DT_INT64 = (
    _DT[n] for n in ("DT_FLOAT", "DT_INT32", "DT_STRING", "DT_INT64")
)

PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"

# dtype -> (little-endian numpy dtype, the TensorProto field that holds its values)
_NUMERIC: dict[int, tuple[str, str]] = {
    _DT[name]: (numpy_type, field)
    for name, numpy_type, field in (
        ("DT_FLOAT", "<f4", "float_val"),
        ("DT_DOUBLE", "<f8", "double_val"),
        ("DT_INT32", "<i4", "int_val"),
        ("DT_INT16", "<i2", "int_val"),
        ("DT_INT8", "i1", "int_val"),
        ("DT_UINT8", "u1", "int_val"),
        ("DT_UINT16", "<u2", "int_val"),
        ("DT_INT64", "<i8", "int64_val"),
        ("DT_UINT32", "<u4", "uint32_val"),
        ("DT_UINT64", "<u8", "uint64_val"),
        ("DT_BOOL", "?", "bool_val"),
    )
}


def string_tensor(values: Sequence[bytes]) -> TensorProto:
    """A DT_STRING [len(values)] tensor with its values in string_val (as make_tensor_proto)."""
    proto = TensorProto(dtype=DT_STRING)
    proto.tensor_shape.dim.add(size=len(values))
    proto.string_val.extend(values)
    return proto


def to_ndarray(proto: TensorProto) -> np.ndarray:
    """A numeric or string TensorProto as numpy, by TensorFlow's rules: tensor_content when
    set, else the typed field, where a shorter field repeats its last value (zeros if empty).
    Raises ValueError for another dtype, an unknown shape or a size that does not match."""
    dims = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or any(d < 0 for d in dims):
        raise ValueError("the tensor's shape is not fully defined")
    count = int(np.prod(dims, dtype=np.int64))
    if proto.dtype == DT_STRING:
        values = list(proto.string_val[:count]) or [b""]
        values += [values[-1]] * (count - len(values))
        array = np.empty(count, dtype=object)
        array[:] = values[:count]
        return array.reshape(dims)
    if proto.dtype not in _NUMERIC:
        name = DATA_TYPE_NAMES.get(proto.dtype, str(proto.dtype))
        raise ValueError(f"unsupported tensor dtype {name}")
    numpy_type, field = _NUMERIC[proto.dtype]
    dtype = np.dtype(numpy_type)
    if proto.tensor_content:
        if len(proto.tensor_content) != count * dtype.itemsize:
            raise ValueError(
                f"tensor_content has {len(proto.tensor_content)} bytes, shape {dims} "
                f"of {dtype.name} needs {count * dtype.itemsize}"
            )
        raw = np.frombuffer(proto.tensor_content, dtype=dtype)
        return raw.astype(dtype.newbyteorder("=")).reshape(dims)  # a writable copy
    values = np.asarray(getattr(proto, field)[:count], dtype=dtype.newbyteorder("="))
    if values.size < count:
        fill = values[-1] if values.size else 0
        values = np.concatenate([values, np.full(count - values.size, fill, dtype=values.dtype)])
    return values.reshape(dims)
