"""TF Serving's REST JSON <-> tensors (util/json_tensor.cc): row and columnar formats, errors."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2

from serving.errors import ServingError, invalid_argument
from serving.tensors import DT, dtype_string

ROW, COLUMNAR = "row", "columnar"
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_MAX_DEBUG_BYTES = 256

InfoMapFn = Callable[[str], Mapping[str, meta_graph_pb2.TensorInfo]]


def _json_type(value) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _debug(value, indent: int = 0) -> str:
    """rapidjson's PrettyWriter with single-line arrays, as TF Serving's error messages show."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = " " * (indent + 4)
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_debug(v, indent + 4)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_debug(v, indent) for v in value) + "]"
    if isinstance(value, str):
        return (
            json.dumps(value, ensure_ascii=False)
            .encode("utf-8", "surrogateescape")
            .decode("utf-8", "replace")
        )
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value)


def debug_string(value) -> str:
    text = _debug(value)
    return text[:_MAX_DEBUG_BYTES] if len(text) > _MAX_DEBUG_BYTES else text


def _type_error(value, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {debug_string(value)} Type: {_json_type(value)} is not of expected type: "
        f"{dtype_string(dtype)}"
    )


def _format_error(value, *parts: str) -> ServingError:
    return invalid_argument(f"JSON Value: {debug_string(value)} " + "".join(parts))


# --- parsing ---
_RAPIDJSON_MESSAGES = (
    ("Expecting property name", "Missing a name for object member."),
    ("Expecting ':' delimiter", "Missing a colon after a name of object member."),
    ("Unterminated string", "Missing a closing quotation mark in string."),
    ("Invalid control character", "Invalid encoding in string."),
    ("Invalid \\escape", "Invalid escape character in string."),
    ("Invalid \\uXXXX escape", "Incorrect hex digit after \\u escape in string."),
)


MAX_JSON_DEPTH = 64  # arrays and objects inside each other; a tensor's rank is far less
_MAX_INT_DIGITS = 20  # beyond uint64: rapidjson reads the number as a double
# Surrogates that only a \\u escape can produce: surrogateescape (invalid bytes) makes
# U+DC80..U+DCFF alone.
_ESCAPED_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def _parse_int(digits: str):
    """Integers as rapidjson reads them: beyond uint64 a double, too big for one an error."""
    if len(digits.lstrip("-")) <= _MAX_INT_DIGITS:
        return int(digits)
    value = float(digits)
    if math.isinf(value):
        raise _NumberTooBig
    return value


class _NumberTooBig(ValueError):
    pass


def _check_tree(value) -> None:
    """Nesting depth and strings of a parsed document, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _ESCAPED_SURROGATE.search(item):
                raise invalid_argument(
                    "JSON Parse error: The surrogate pair in string is invalid "
                    "(a lone \\uD800-\\uDFFF escape)."
                )
            continue
        if not isinstance(item, (list, dict)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise invalid_argument(
                f"JSON Parse error: arrays and objects nested deeper than {MAX_JSON_DEPTH} levels"
            )
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)


def parse_json(body: bytes):
    """rapidjson's parse (NaN/Infinity allowed, stops after the first value) with its messages.

    Bytes that are not UTF-8 pass through into strings (rapidjson does not validate them);
    strings come back as str with surrogate escapes, see `to_bytes`. Hostile documents get
    INVALID_ARGUMENT too: nesting deeper than MAX_JSON_DEPTH, a number too big for a
    double, an escaped lone surrogate.
    """
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    text = body.decode("utf-8", "surrogateescape")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        value, _ = json.JSONDecoder(parse_int=_parse_int).raw_decode(text, start)
    except RecursionError:
        raise invalid_argument(
            f"JSON Parse error: arrays and objects nested deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except _NumberTooBig:
        raise invalid_argument("JSON Parse error: Number too big to be stored in double.") from None
    except json.JSONDecodeError as error:
        message = "Invalid value."
        for python_text, rapidjson_text in _RAPIDJSON_MESSAGES:
            if error.msg.startswith(python_text):
                message = rapidjson_text
                break
        else:
            if error.msg.startswith("Expecting ',' delimiter"):
                inside = text[: error.pos].rstrip()
                message = (
                    "Missing a comma or ']' after an array element."
                    if inside.count("[") > inside.count("]")
                    and inside.rfind("[") > inside.rfind("{")
                    else "Missing a comma or '}' after an object member."
                )
        raise invalid_argument(f"JSON Parse error: {message} at offset: {error.pos}") from None
    _check_tree(value)
    if not isinstance(value, dict):
        raise _format_error(value, "Is not object")
    return value


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _add_value(value, dtype: int, tensor: tensor_pb2.TensorProto) -> None:
    """AddValueToTensor: one JSON leaf into the dtype's repeated field, type checked."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if dtype in (DT.DT_FLOAT, DT.DT_DOUBLE):
        if not is_number:
            raise _type_error(value, dtype)
        (tensor.float_val if dtype == DT.DT_FLOAT else tensor.double_val).append(float(value))
    elif dtype in (DT.DT_INT32, DT.DT_INT16, DT.DT_INT8, DT.DT_UINT8):
        if not is_int or not _INT32[0] <= value <= _INT32[1]:
            raise _type_error(value, dtype)
        tensor.int_val.append(value)
    elif dtype == DT.DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        tensor.string_val.append(to_bytes(value))
    elif dtype == DT.DT_INT64:
        if not is_int or not _INT64[0] <= value <= _INT64[1]:
            raise _type_error(value, dtype)
        tensor.int64_val.append(value)
    elif dtype == DT.DT_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        tensor.bool_val.append(value)
    elif dtype in (DT.DT_UINT32, DT.DT_UINT64):
        limit = 2**32 - 1 if dtype == DT.DT_UINT32 else 2**64 - 1
        if not is_int or not 0 <= value <= limit:
            raise _type_error(value, dtype)
        (tensor.uint32_val if dtype == DT.DT_UINT32 else tensor.uint64_val).append(value)
    else:
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"Conversion of JSON Value: {debug_string(value)} to type: {dtype_string(dtype)}",
        )


def _b64decode(text: str) -> bytes:
    """absl::Base64Unescape: the standard alphabet, padding optional, nothing else."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


def _dense_shape(value) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value, level: int, dtype: int, shape: list[int], tensor) -> int:
    """FillTensorProto: walks the nested lists; returns the number of leaves added."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {debug_string(value)} found at incorrect level: {level + 1} in "
                f"the JSON DOM. Expected at level: {rank}"
            )
        if isinstance(value, dict):
            if dtype != DT.DT_STRING:
                raise _type_error(value, dtype)
            if not _is_b64(value):
                raise invalid_argument(
                    f"JSON Value: {debug_string(value)} not formatted correctly for base64 data"
                )
            tensor.string_val.append(_b64decode(value["b64"]))
        else:
            _add_value(value, dtype, tensor)
        return 1
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    return sum(_fill(item, level + 1, dtype, shape, tensor) for item in value)


def _tensor_from_json(value, dtype: int) -> tuple[tensor_pb2.TensorProto, int, list[int]]:
    tensor = tensor_pb2.TensorProto(dtype=dtype)
    shape = _dense_shape(value)
    count = _fill(value, 0, dtype, shape, tensor)
    return tensor, count, shape


def _shape_string(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _from_instances(instances: list, info: Mapping[str, meta_graph_pb2.TensorInfo]):
    """FillTensorMapFromInstancesList: each element one row; rows stacked on a new dim 0."""
    if not isinstance(instances[0], dict) and len(info) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map"
        )

    def is_object(item) -> bool:
        return isinstance(item, dict) and not _is_b64(item)

    named = is_object(instances[0])
    input_names = set(info)
    rows: dict[str, list] = {}
    first_shape: dict[str, tuple[int, list[int]]] = {}

    def add(item, name: str) -> None:
        if name not in info:
            raise invalid_argument(f"JSON object: does not have named input: {name}")
        tensor, count, shape = _tensor_from_json(item, info[name].dtype)
        if name not in first_shape:
            first_shape[name] = (count, shape)
        elif first_shape[name][0] != count:
            raise invalid_argument(
                f"Expecting tensor size: {first_shape[name][0]} but got: {count}"
            )
        elif first_shape[name][1] != shape:
            raise invalid_argument(
                f"Expecting shape {_shape_string(first_shape[name][1])} but got: "
                f"{_shape_string(shape)}"
            )
        rows.setdefault(name, []).append(tensor)

    for index, item in enumerate(instances):
        if named:
            if not is_object(item):
                raise invalid_argument(
                    f"Expecting object but got list at item {index} of input list"
                )
            for name, value in item.items():
                try:
                    add(value, name)
                except ServingError as error:
                    raise invalid_argument(
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: {error.code_name}: {error.message}"
                    ) from None
            if set(item) != input_names:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{debug_string(item)} keys must be equal to: {','.join(sorted(input_names))}"
                )
        else:
            if is_object(item):
                raise invalid_argument(
                    f"Expecting value/list but got object at item {index} of input list"
                )
            name = sorted(info)[0]
            try:
                add(item, name)
            except ServingError as error:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. Error: "
                    f"{error.code_name}: {error.message}"
                ) from None
    result = {}
    for name, parts in rows.items():
        tensor = tensor_pb2.TensorProto(dtype=info[name].dtype)
        for part in parts:
            tensor.MergeFrom(part)
        tensor.ClearField("tensor_shape")
        for size in [len(instances)] + first_shape[name][1]:
            tensor.tensor_shape.dim.add(size=size)
        result[name] = tensor
    return result


def _from_inputs(inputs, info: Mapping[str, meta_graph_pb2.TensorInfo]):
    """FillTensorMapFromInputsMap: one value (single input) or an object of named values."""
    result = {}
    if not isinstance(inputs, dict) or _is_b64(inputs):
        if len(info) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        name = sorted(info)[0]
        tensor, _, shape = _tensor_from_json(inputs, info[name].dtype)
        for size in shape:
            tensor.tensor_shape.dim.add(size=size)
        result[name] = tensor
        return result
    for name in sorted(info):
        if name not in inputs:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        tensor, _, shape = _tensor_from_json(inputs[name], info[name].dtype)
        for size in shape:
            tensor.tensor_shape.dim.add(size=size)
        result[name] = tensor
    return result


def _check_rows(doc: dict, max_rows: int | None) -> None:
    """Rows per request, counted in the JSON before any tensor is built from it."""
    if max_rows is None:
        return
    inputs = doc.get("inputs")
    columns = inputs.items() if isinstance(inputs, dict) and not _is_b64(inputs) else []
    candidates = [("instances", doc.get("instances"))] + [(k, v) for k, v in columns]
    if isinstance(inputs, list):
        candidates.append(("inputs", inputs))
    for name, value in candidates:
        if isinstance(value, list) and len(value) > max_rows:
            raise invalid_argument(
                f"'{name}' has {len(value)} rows, over the limit of {max_rows} rows per "
                "request (--max_request_rows)"
            )


def fill_predict_request(
    body: bytes,
    get_info_map: InfoMapFn,
    request: predict_pb2.PredictRequest,
    max_rows: int | None = None,
) -> str:
    """FillPredictRequestFromJson: fills request.inputs; returns the format (row or columnar).

    `max_rows` refuses a longer 'instances' list (or input column) before decoding it.
    """
    doc = parse_json(body)
    _check_rows(doc, max_rows)
    if "signature_name" in doc:
        if not isinstance(doc["signature_name"], str):
            raise _format_error(
                doc, "not formatted correctly. 'signature_name' key must be a string value."
            )
        request.model_spec.signature_name = doc["signature_name"]
    info = get_info_map(request.model_spec.signature_name)
    if not info:
        raise invalid_argument(
            "Failed to get input map for signature: "
            + (request.model_spec.signature_name or "DEFAULT")
        )
    if "instances" in doc:
        if "inputs" in doc:
            raise _format_error(
                doc,
                "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to "
                "exist ",
            )
        if not isinstance(doc["instances"], list):
            raise _format_error(doc, "Expecting 'instances' to be an list/array")
        if not doc["instances"]:
            raise _format_error(doc, "No values in 'instances' array")
        tensors = _from_instances(doc["instances"], info)
        fmt = ROW
    elif "inputs" in doc:
        tensors = _from_inputs(doc["inputs"], info)
        fmt = COLUMNAR
    else:
        raise invalid_argument("Missing 'inputs' or 'instances' key")
    for name, tensor in tensors.items():
        request.inputs[name].CopyFrom(tensor)
    return fmt


# --- writing ---
def _float_strings(values: np.ndarray) -> list[str]:
    """WriteDecimal: shortest of %g / %.9g (%.17g for doubles) that round-trips, '.0' added."""
    is_double = values.dtype == np.float64
    wide = values.astype(np.float64).tolist()
    text = [f"{v:g}" for v in wide]
    if text:
        back = np.array(text, dtype=np.float64)
        back = back if is_double else back.astype(np.float32)
        with np.errstate(invalid="ignore"):
            mismatch = np.flatnonzero(~((back == values) | np.isnan(values)))
        digits = 17 if is_double else 9
        for i in mismatch.tolist():
            text[i] = f"{wide[i]:.{digits}g}"
    out = []
    for s, v in zip(text, wide, strict=True):
        if "." in s or "e" in s:
            out.append(s)
        elif s in ("nan", "-nan"):
            out.append("NaN")
        elif s in ("inf", "-inf"):
            out.append("Infinity" if v > 0 else "-Infinity")
        else:
            out.append(s + ".0")
    return out


def _leaf_strings(name: str, value: np.ndarray, dtype: int) -> list[str]:
    flat = value.reshape(-1)
    if dtype in (DT.DT_FLOAT, DT.DT_DOUBLE, DT.DT_HALF):
        return _float_strings(flat.astype(np.float64 if dtype == DT.DT_DOUBLE else np.float32))
    if dtype == DT.DT_BOOL:
        return ["true" if v else "false" for v in flat.tolist()]
    if dtype == DT.DT_STRING:
        if name.endswith("_bytes"):
            return ['{"b64": "' + base64.b64encode(v).decode("ascii") + '"}' for v in flat.tolist()]
        return [json.dumps(v.decode("utf-8", "replace"), ensure_ascii=False) for v in flat.tolist()]
    return [str(v) for v in flat.tolist()]


def _nest(leaves: list[str], shape: tuple[int, ...], start: int = 0) -> str:
    """Nested JSON arrays for a row-major block of leaves (scalars are written bare)."""
    if not shape:
        return leaves[start]
    if len(shape) == 1:
        return "[" + ", ".join(leaves[start : start + shape[0]]) + "]"
    step = int(np.prod(shape[1:], dtype=np.int64))
    return (
        "[" + ", ".join(_nest(leaves, shape[1:], start + i * step) for i in range(shape[0])) + "]"
    )


def make_json(outputs: Mapping[str, np.ndarray], dtypes: Mapping[str, int], fmt: str) -> str:
    """MakeJsonFromTensors: {"predictions": [...]} (row) or {"outputs": ...} (columnar)."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    leaves = {name: _leaf_strings(name, outputs[name], dtypes[name]) for name in names}
    if fmt == COLUMNAR:
        if len(names) == 1:
            body = _nest(leaves[names[0]], outputs[names[0]].shape)
        else:
            parts = [
                f'        "{name}": {_nest(leaves[name], outputs[name].shape)}' for name in names
            ]
            body = "{\n" + ",\n".join(parts) + "\n    }"
        return '{\n    "outputs": ' + body + "\n}"
    batch = None
    for name in names:
        if outputs[name].ndim == 0:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if batch is not None and outputs[name].shape[0] != batch:
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {outputs[name].shape[0]} "
                f"expecting: {batch}"
            )
        batch = outputs[name].shape[0]
    rows = []
    for row in range(batch or 0):
        items = []
        for name in names:
            shape = outputs[name].shape[1:]
            step = int(np.prod(shape, dtype=np.int64))
            items.append((name, _nest(leaves[name], shape, row * step)))
        if len(names) == 1:
            rows.append("        " + items[0][1])
        else:
            fields = ",\n".join(f'            "{n}": {v}' for n, v in items)
            rows.append("        {\n" + fields + "\n        }")
    return '{\n    "predictions": [\n' + ",\n".join(rows) + "\n    ]\n}"


def make_error_json(message: str) -> str:
    """MakeJsonFromStatus: {"error": "<message>"}."""
    text = message.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return '{\n    "error": ' + json.dumps(text, ensure_ascii=False) + "\n}"
