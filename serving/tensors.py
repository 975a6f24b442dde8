"""TensorProto <-> numpy with TensorFlow's rules (Tensor::FromProto, Tensor::AsProtoField)."""

from __future__ import annotations

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

DT = types_pb2.DataType

# dtype enum -> (numpy dtype, the TensorProto field that holds its values)
_FIELDS: dict[int, tuple[object, str]] = {
    DT.DT_FLOAT: (np.float32, "float_val"),
    DT.DT_DOUBLE: (np.float64, "double_val"),
    DT.DT_INT32: (np.int32, "int_val"),
    DT.DT_INT16: (np.int16, "int_val"),
    DT.DT_INT8: (np.int8, "int_val"),
    DT.DT_UINT8: (np.uint8, "int_val"),
    DT.DT_UINT16: (np.uint16, "int_val"),
    DT.DT_INT64: (np.int64, "int64_val"),
    DT.DT_UINT32: (np.uint32, "uint32_val"),
    DT.DT_UINT64: (np.uint64, "uint64_val"),
    DT.DT_BOOL: (np.bool_, "bool_val"),
    DT.DT_HALF: (np.float16, "half_val"),
    DT.DT_STRING: (object, "string_val"),
}
_BY_NUMPY = {np.dtype(t): dt for dt, (t, _) in _FIELDS.items() if t is not object}


def dtype_string(dtype: int) -> str:
    """TensorFlow's DataTypeString: DT_FLOAT -> 'float', DT_STRING -> 'string'."""
    try:
        return DT.Name(dtype)[3:].lower()
    except ValueError:
        return f"unknown dtype {dtype}"


def dtype_of(array: np.ndarray) -> int:
    if array.dtype == object or array.dtype.kind in "SU":
        return DT.DT_STRING
    try:
        return _BY_NUMPY[array.dtype]
    except KeyError:
        raise ValueError(f"no TensorFlow dtype for numpy {array.dtype}") from None


def shape_list(shape: tensor_shape_pb2.TensorShapeProto) -> list[int] | None:
    """Dimensions of a shape proto; None for unknown rank."""
    return None if shape.unknown_rank else [d.size for d in shape.dim]


def shape_string(dims: list[int] | None) -> str:
    return "[?]" if dims is None else "[" + ",".join(str(d) for d in dims) + "]"


def to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Tensor::FromProto: tensor_content or the typed field; a short field repeats its last value.

    Raises ValueError where TensorFlow's FromProto fails (the caller reports 'tensor parsing
    error: <alias>').
    """
    if proto.dtype not in _FIELDS:
        raise ValueError(f"unsupported dtype {dtype_string(proto.dtype)}")
    dims = shape_list(proto.tensor_shape)
    if dims is None or any(d < 0 for d in dims):
        raise ValueError("the shape is not fully defined")
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    numpy_type, field = _FIELDS[proto.dtype]
    if proto.tensor_content:
        if proto.dtype == DT.DT_STRING:
            raise ValueError("string tensors cannot use tensor_content")
        itemsize = np.dtype(numpy_type).itemsize
        if len(proto.tensor_content) != count * itemsize:
            raise ValueError("tensor_content does not match the shape")
        return np.frombuffer(proto.tensor_content, dtype=numpy_type).reshape(dims).copy()
    values = getattr(proto, field)
    if proto.dtype == DT.DT_STRING:
        if count == 0:
            return np.empty(dims, dtype=object)
        items = list(values[:count])
        if not items:
            items = [b""]
        items += [items[-1]] * (count - len(items))
        array = np.empty(count, dtype=object)
        array[:] = items
        return array.reshape(dims)
    if proto.dtype == DT.DT_HALF:
        raw = np.asarray(values[:count], dtype=np.uint16).view(np.float16)
    else:
        raw = np.asarray(values[:count], dtype=numpy_type)
    if raw.size == 0:
        return np.zeros(dims, dtype=numpy_type)
    if raw.size < count:
        raw = np.concatenate([raw, np.full(count - raw.size, raw[-1], dtype=raw.dtype)])
    return raw.reshape(dims)


def make_tensor_proto(array: np.ndarray, dtype: int | None = None) -> tensor_pb2.TensorProto:
    """Tensor::AsProtoField: values in the typed repeated field, as TF Serving's Predict writes."""
    array = np.asarray(array)
    dtype = dtype_of(array) if dtype is None else dtype
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in array.shape:
        proto.tensor_shape.dim.add(size=int(size))
    numpy_type, field = _FIELDS[dtype]
    flat = array.reshape(-1)
    if dtype == DT.DT_STRING:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
    elif dtype == DT.DT_HALF:
        proto.half_val.extend(flat.astype(np.float16).view(np.uint16).astype(np.int32).tolist())
    else:
        getattr(proto, field).extend(flat.astype(numpy_type, copy=False).tolist())
    return proto
