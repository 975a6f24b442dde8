"""Text to audio over TF Serving's APIs (the real server or the local one): REST with plain
JSON (standard library and numpy), or gRPC's PredictionService with TF Serving's messages as
declared in serving/wire_protos.py (grpcio, protobuf and numpy).

Neither path loads TensorFlow or tensorflow_serving: the client starts in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

import grpc
import numpy as np

from models.features import AUDIO
from serving import wire_protos

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1)]  # a batch of audio is megabytes


class SynthesisError(RuntimeError):
    """The server refused or failed: `code` is the grpc.StatusCode, the message is its text."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code


@dataclasses.dataclass
class Synthesis:
    waves: list[np.ndarray]  # float32 at sample_rate, one per text, padding removed
    sample_rate: int
    model_name: str
    version: int  # the version that answered


def predict_request(
    model_name: str,
    texts: Sequence[str],
    *,
    version: int | None = None,
    version_label: str | None = None,
    signature_name: str = "serving_default",
) -> wire_protos.PredictRequest:
    """The PredictRequest a TF Serving client sends for these texts (audio outputs only)."""
    request = wire_protos.PredictRequest(output_filter=["audio", "audio_length"])
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    elif version_label:
        request.model_spec.version_label = version_label
    encoded = [text.encode("utf-8") for text in texts]
    request.inputs["text"].CopyFrom(wire_protos.string_tensor(encoded))
    return request


def synthesize(
    server: str,
    model_name: str,
    texts: Sequence[str],
    *,
    version: int | None = None,
    version_label: str | None = None,
    signature_name: str = "serving_default",
    timeout_s: float = 60.0,
    channel: grpc.Channel | None = None,
) -> Synthesis:
    """Calls Predict on `server` (HOST:PORT) and returns one waveform per text."""
    request = predict_request(
        model_name,
        texts,
        version=version,
        version_label=version_label,
        signature_name=signature_name,
    )
    own_channel = channel is None
    channel = channel or grpc.insecure_channel(server, options=CHANNEL_OPTIONS)
    try:
        predict = channel.unary_unary(
            wire_protos.PREDICT_METHOD,
            request_serializer=wire_protos.PredictRequest.SerializeToString,
            response_deserializer=wire_protos.PredictResponse.FromString,
        )
        response = predict(request, timeout=timeout_s)
    except grpc.RpcError as error:
        raise SynthesisError(error.code(), error.details() or "") from None
    finally:
        if own_channel:
            channel.close()
    outputs = response.outputs
    if "audio" not in outputs or "audio_length" not in outputs:
        raise SynthesisError(grpc.StatusCode.INTERNAL, f"{server}: no audio in the answer")
    try:
        audio = wire_protos.to_ndarray(outputs["audio"])
        lengths = wire_protos.to_ndarray(outputs["audio_length"]).reshape(-1)
        waves = [audio[i, : int(lengths[i])].astype(np.float32) for i in range(len(texts))]
    except (ValueError, IndexError) as error:
        raise SynthesisError(grpc.StatusCode.INTERNAL, f"{server}: bad audio: {error}") from None
    return Synthesis(
        waves, AUDIO.sample_rate, response.model_spec.name, response.model_spec.version.value
    )


class _RestCode:
    """grpc.StatusCode's shape for a REST failure: `.name` as TF Serving's error codes."""

    _BY_HTTP = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED",
                413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}  # fmt: skip

    def __init__(self, name: str):
        self.name = name

    @classmethod
    def from_http(cls, status: int) -> _RestCode:
        return cls(cls._BY_HTTP.get(status, "INTERNAL" if status >= 500 else "UNKNOWN"))


def rest_predict_url(
    base_url: str, model_name: str, version: int | None = None, version_label: str | None = None
) -> str:
    """`http://HOST:PORT/v1/models/<name>[/versions/<v>|/labels/<label>]:predict`."""
    base = base_url if "://" in base_url else f"http://{base_url}"
    path = f"/v1/models/{urllib.parse.quote(model_name, safe='')}"
    if version is not None:
        path += f"/versions/{int(version)}"
    elif version_label:
        path += f"/labels/{urllib.parse.quote(version_label, safe='')}"
    return base.rstrip("/") + path + ":predict"


def synthesize_rest(
    base_url: str,
    model_name: str,
    texts: Sequence[str],
    *,
    version: int | None = None,
    version_label: str | None = None,
    signature_name: str = "serving_default",
    timeout_s: float = 60.0,
) -> Synthesis:
    """POSTs the texts to TF Serving's REST `:predict` (columnar JSON) at base_url (HOST:PORT
    or http://HOST:PORT); returns one waveform per text. Raises SynthesisError."""
    url = rest_predict_url(base_url, model_name, version, version_label)
    body = json.dumps({"signature_name": signature_name, "inputs": {"text": list(texts)}})
    request = urllib.request.Request(
        url, data=body.encode("utf-8"), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("error", "")
        except ValueError:
            message = error.reason
        raise SynthesisError(_RestCode.from_http(error.code), str(message)) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SynthesisError(_RestCode("UNAVAILABLE"), f"{url}: {reason}") from None
    outputs = answer.get("outputs")
    if not isinstance(outputs, dict) or "audio" not in outputs:
        raise SynthesisError(_RestCode("INTERNAL"), f"{url}: no audio in the answer")
    lengths = np.asarray(outputs["audio_length"], dtype=np.int64).reshape(-1)
    waves = [
        np.asarray(outputs["audio"][i][: int(lengths[i])], dtype=np.float32)
        for i in range(len(texts))
    ]
    served_version = version if version is not None else 0  # REST does not say which
    return Synthesis(waves, AUDIO.sample_rate, model_name, served_version)
