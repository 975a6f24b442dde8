"""Predict request checks in TF Serving's order and words, then the voice's own text rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import predict_pb2

from serving import tensors
from serving.errors import invalid_argument

DEFAULT_MAX_TEXT_CHARS = 1000


@dataclasses.dataclass(frozen=True)
class TextLimits:
    """Rules for string inputs (raw text): non-empty, valid UTF-8, at most max_text_chars."""

    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS


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
    signature: meta_graph_pb2.SignatureDef, request_inputs: Mapping
) -> dict[str, np.ndarray]:
    """saved_model::GetInputValues (tensorflow/cc/saved_model/util.cc)."""
    values: dict[str, np.ndarray] = {}
    for alias in sorted(signature.inputs):
        info = signature.inputs[alias]
        if alias in request_inputs:
            proto = request_inputs[alias]
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


def check_text(alias: str, value: np.ndarray, limits: TextLimits) -> None:
    """A voice speaks text: each element valid UTF-8, not blank, within the length limit."""
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
            raise invalid_argument(
                f"input '{alias}' element {index} is empty: there is no text to speak"
            )
        if len(text) > limits.max_text_chars:
            raise invalid_argument(
                f"input '{alias}' element {index} has {len(text)} characters, over the limit "
                f"of {limits.max_text_chars} (--max_text_chars)"
            )


def prepare(
    signature_name: str,
    signature: meta_graph_pb2.SignatureDef,
    request: predict_pb2.PredictRequest,
    limits: TextLimits,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Checks a PredictRequest against a signature; returns (inputs by alias, output aliases).

    Raises ServingError (INVALID_ARGUMENT) with TF Serving's message where it has one.
    """
    check_inputs_size(signature, request.inputs)
    values = input_values(signature, request.inputs)
    outputs = output_aliases(signature, request.output_filter)
    check_dtypes(signature, request.inputs, values)
    check_shapes(signature_name, signature, values)
    for alias, value in values.items():
        if signature.inputs[alias].dtype == tensors.DT.DT_STRING:
            check_text(alias, value, limits)
    return values, outputs
