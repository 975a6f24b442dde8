"""Predict request checks in TF Serving's order and words, then the voice's own text rules."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping

import numpy as np
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2

from serving import tensors
from serving.errors import ServingError, invalid_argument

DEFAULT_MAX_TEXT_CHARS = 1000
DEFAULT_MAX_REQUEST_ROWS = 64
# Elements one input tensor may declare, per allowed row: room for token ids of the longest
# text or a few hundred mel frames, and a bound (64 rows: 1M elements) on what a declared
# shape can make the server allocate.
ELEMENTS_PER_ROW = 16384
# What a voice's graph asserts (models/export.py); translated when a graph refuses a row.
_GRAPH_TOO_LONG = re.compile(r"text longer than (\d+) characters")
_GRAPH_EMPTY = "text is empty after normalisation"


@dataclasses.dataclass(frozen=True)
class TextLimits:
    """Request limits: rows per request, declared tensor sizes, and the text rules.

    String inputs (raw text): non-empty, valid UTF-8, at most max_text_chars characters,
    and, when `normalize` is given (the voice's text front end), something left to say
    after normalisation: it returns the normalised text or raises ValueError.
    """

    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    max_request_rows: int = DEFAULT_MAX_REQUEST_ROWS
    normalize: Callable[[str], str] | None = None

    @property
    def max_tensor_elements(self) -> int:
        return self.max_request_rows * ELEMENTS_PER_ROW


def rows_error(alias: str, rows: int, limits: TextLimits, shape: str = "") -> ServingError:
    where = f" (shape {shape})" if shape else ""
    return invalid_argument(
        f"input '{alias}' has {rows} rows{where}, over the limit of {limits.max_request_rows} "
        "rows per request (--max_request_rows)"
    )


def check_declared_size(alias: str, proto: tensor_pb2.TensorProto, limits: TextLimits) -> None:
    """The sizes a TensorProto declares, checked before anything is allocated for it.

    Rows (dimension 0) and elements (the product of the shape) are bounded, and a string
    tensor must carry one string_val per declared element (TensorFlow would repeat the
    last one: a 49-byte request could otherwise declare 16M strings).
    """
    dims = tensors.shape_list(proto.tensor_shape)
    if dims is None or any(d < 0 for d in dims):
        return  # to_ndarray refuses it ("tensor parsing error")
    shape = tensors.shape_string(dims)
    if dims and dims[0] > limits.max_request_rows:
        raise rows_error(alias, dims[0], limits, shape)
    count = math.prod(dims)
    if count > limits.max_tensor_elements:
        raise invalid_argument(
            f"input '{alias}' declares {count} elements (shape {shape}), over the limit of "
            f"{limits.max_tensor_elements} elements per tensor ({ELEMENTS_PER_ROW} per row "
            "allowed by --max_request_rows)"
        )
    if proto.dtype == tensors.DT.DT_STRING and count and len(proto.string_val) != count:
        raise invalid_argument(
            f"input '{alias}' declares {count} elements (shape {shape}) but carries "
            f"{len(proto.string_val)} string_val values: send one per element"
        )


def _keys(mapping: Mapping) -> str:
    return ",".join(sorted(mapping))


def check_inputs_size(signature: meta_graph_pb2.SignatureDef, request_inputs: Mapping) -> None:
    """VerifyRequestInputsSize (predict_util.cc)."""
    sent, expected = len(request_inputs), len(signature.inputs)
    if sent > expected or (sent < expected and not signature.defaults):
        extra = sorted(set(request_inputs) - set(signature.inputs))
        missing = sorted(set(signature.inputs) - set(request_inputs))
        raise invalid_argument(
            f"input size does not match signature: {sent}!={expected} "
            f"len({{{_keys(request_inputs)}}}) != len({{{_keys(signature.inputs)}}}). "
            f"Sent extra: {{{','.join(extra)}}}. Missing but required: {{{','.join(missing)}}}."
        )


def input_values(
    signature: meta_graph_pb2.SignatureDef,
    request_inputs: Mapping,
    limits: TextLimits | None = None,
) -> dict[str, np.ndarray]:
    """saved_model::GetInputValues (tensorflow/cc/saved_model/util.cc), sizes checked first."""
    values: dict[str, np.ndarray] = {}
    for alias in sorted(signature.inputs):
        info = signature.inputs[alias]
        if alias in request_inputs:
            proto = request_inputs[alias]
            check_declared_size(alias, proto, limits or TextLimits())
        elif alias in signature.defaults:
            proto = signature.defaults[alias]
        else:
            raise invalid_argument(
                f"Signature input alias: {alias}(feed name: {info.name}) not found in request "
                "and no default value provided. Inputs expected to be in the request "
                f"{{{_keys(request_inputs)}}}, or default input alias set: "
                f"{_keys(signature.defaults)}"
            )
        try:
            values[alias] = tensors.to_ndarray(proto)
        except ValueError:
            raise invalid_argument(f"tensor parsing error: {alias}") from None
    used = [alias for alias in request_inputs if alias in signature.inputs]
    if request_inputs and len(used) != len(request_inputs):
        raise invalid_argument(
            "Inputs contains invalid name. Used request inputs: "
            f"{','.join(sorted(used))}, request input: {_keys(request_inputs)}"
        )
    return values


def output_aliases(signature: meta_graph_pb2.SignatureDef, output_filter) -> list[str]:
    """The outputs to return: output_filter checked as PreProcessPrediction does, else all."""
    seen: list[str] = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs expected to be "
                f"in the set {{{_keys(signature.outputs)}}}."
            )
        if alias in seen:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.append(alias)
    return seen or sorted(signature.outputs)


def check_dtypes(
    signature: meta_graph_pb2.SignatureDef, request_inputs: Mapping, values: Mapping
) -> None:
    """The session's feed check (FunctionCallFrame::SetArgs), arguments in alias order."""
    for index, alias in enumerate(sorted(values)):
        expected = signature.inputs[alias].dtype
        sent = request_inputs[alias].dtype if alias in request_inputs else expected
        if sent != expected:
            raise invalid_argument(
                f"Expects arg[{index}] to be {tensors.dtype_string(expected)} but "
                f"{tensors.dtype_string(sent)} is provided"
            )


def check_shapes(
    signature_name: str, signature: meta_graph_pb2.SignatureDef, values: Mapping
) -> None:
    """Shapes against the signature (TF Serving leaves this to the graph; we say it plainly)."""
    for alias, value in values.items():
        expected = tensors.shape_list(signature.inputs[alias].tensor_shape)
        if expected is None:
            continue
        got = list(value.shape)
        if len(got) != len(expected) or any(
            e >= 0 and e != g for e, g in zip(expected, got, strict=False)
        ):
            raise invalid_argument(
                f"input '{alias}' has shape {tensors.shape_string(got)} but signature "
                f"'{signature_name}' expects {tensors.shape_string(expected)} (-1: any size)"
            )


def _empty(alias: str, index: int) -> ServingError:
    return invalid_argument(f"input '{alias}' element {index} is empty: there is no text to speak")


def check_text(
    alias: str, value: np.ndarray, limits: TextLimits, graph_byte_limit: int | None = None
) -> None:
    """A voice speaks text: each element valid UTF-8, not blank, within the length limit.

    The limit counts characters. `graph_byte_limit`: the voice's graph refuses text over
    that many UTF-8 bytes (voices exported before it counted characters); such text is
    refused here, with both counts, before it can fail a whole batch in the graph.
    """
    if value.size == 0:
        raise invalid_argument(f"input '{alias}' has no elements: there is no text to speak")
    for index, item in enumerate(value.reshape(-1)):
        raw = item if isinstance(item, bytes) else str(item).encode()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise invalid_argument(
                f"input '{alias}' element {index} is not valid UTF-8 "
                f"(byte 0x{raw[error.start]:02x} at offset {error.start})"
            ) from None
        if not text.strip():
            raise _empty(alias, index)
        if len(text) > limits.max_text_chars:
            raise invalid_argument(
                f"input '{alias}' element {index} has {len(text)} characters, over the limit "
                f"of {limits.max_text_chars} (--max_text_chars)"
            )
        if graph_byte_limit is not None and len(raw) > graph_byte_limit:
            raise _over_graph_limit(alias, index, text, len(raw), graph_byte_limit)
        if limits.normalize is not None:
            try:
                limits.normalize(text)
            except ValueError:
                raise _empty(alias, index) from None


def _over_graph_limit(alias: str, index: int, text: str, size: int, limit: int) -> ServingError:
    return invalid_argument(
        f"input '{alias}' element {index} has {len(text)} characters but {size} bytes of "
        f"UTF-8, over this voice's limit of {limit} (its graph counts bytes): split the text"
    )


def explain_graph_error(
    error: ServingError, values: Mapping[str, np.ndarray], limits: TextLimits
) -> ServingError:
    """A voice graph's own text assertion, said as the server's text rules say it.

    Raw 'Graph execution error ... assert_greater' messages become the documented
    INVALID_ARGUMENT messages, naming the element at fault where it can be found.
    """
    if error.code_name != "INVALID_ARGUMENT":
        return error
    too_long = _GRAPH_TOO_LONG.search(error.message)
    empty = _GRAPH_EMPTY in error.message
    if not (too_long or empty):
        return error
    for alias, value in sorted(values.items()):
        if value.dtype != object:
            continue
        for index, item in enumerate(value.reshape(-1)):
            raw = item if isinstance(item, bytes) else str(item).encode()
            text = raw.decode("utf-8", "replace")
            if too_long and len(raw) > int(too_long.group(1)):
                return _over_graph_limit(alias, index, text, len(raw), int(too_long.group(1)))
            if empty and limits.normalize is not None:
                try:
                    limits.normalize(text)
                except ValueError:
                    return _empty(alias, index)
    if too_long:
        return invalid_argument(f"text longer than this voice's limit of {too_long.group(1)}")
    return invalid_argument("an element is empty: there is no text to speak")


def prepare(
    signature_name: str,
    signature: meta_graph_pb2.SignatureDef,
    request: predict_pb2.PredictRequest,
    limits: TextLimits,
    graph_byte_limits: Mapping[str, int] | None = None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Checks a PredictRequest against a signature; returns (inputs by alias, output aliases).

    Raises ServingError (INVALID_ARGUMENT) with TF Serving's message where it has one.
    Declared sizes are checked before any input is decoded (nothing big is allocated).
    """
    check_inputs_size(signature, request.inputs)
    values = input_values(signature, request.inputs, limits)
    outputs = output_aliases(signature, request.output_filter)
    check_dtypes(signature, request.inputs, values)
    check_shapes(signature_name, signature, values)
    for alias, value in values.items():
        if signature.inputs[alias].dtype == tensors.DT.DT_STRING:
            check_text(alias, value, limits, (graph_byte_limits or {}).get(alias))
    return values, outputs
