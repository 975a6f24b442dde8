"""Text to audio over TF Serving's gRPC PredictionService (the real server or the local one)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import grpc
import numpy as np
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from models.features import AUDIO
from serving import tensors

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
) -> predict_pb2.PredictRequest:
    """The PredictRequest a TF Serving client sends for these texts (audio outputs only)."""
    request = predict_pb2.PredictRequest(output_filter=["audio", "audio_length"])
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    elif version_label:
        request.model_spec.version_label = version_label
    encoded = np.array([text.encode("utf-8") for text in texts], dtype=object)
    request.inputs["text"].CopyFrom(tensors.make_tensor_proto(encoded))
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
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=timeout_s)
    except grpc.RpcError as error:
        raise SynthesisError(error.code(), error.details() or "") from None
    finally:
        if own_channel:
            channel.close()
    audio = tensors.to_ndarray(response.outputs["audio"])
    lengths = tensors.to_ndarray(response.outputs["audio_length"])
    waves = [audio[i, : int(lengths[i])].astype(np.float32) for i in range(len(texts))]
    return Synthesis(
        waves, AUDIO.sample_rate, response.model_spec.name, response.model_spec.version.value
    )
