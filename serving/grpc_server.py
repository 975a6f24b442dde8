"""The gRPC port: tensorflow.serving.PredictionService and ModelService on the official stubs."""

from __future__ import annotations

import time
from concurrent import futures

import grpc
from absl import logging
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.calls import Call
from serving.core import ServingCore
from serving.errors import ServingError, code_from_number, internal


def parse_channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """--grpc_channel_arguments: 'key=value,key=value'; integer values are passed as ints."""
    arguments: list[tuple[str, int | str]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--grpc_channel_arguments: {item!r} is not key=value")
        try:
            arguments.append((key.strip(), int(value)))
        except ValueError:
            arguments.append((key.strip(), value.strip()))
    return arguments


class _Predictions(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServingCore):
        self._core = core

    def Predict(self, request, context):  # noqa: N802 (the proto's method names)
        started = time.perf_counter()
        name = request.model_spec.name
        try:
            result = self._core.predict(request, Call.from_grpc(context))
            response = result.to_response()
        except Exception as error:  # noqa: BLE001 (a bug must still answer, not crash)
            if not isinstance(error, ServingError):
                logging.error("Predict failed: %s: %s", type(error).__name__, error)
                error = internal(f"{type(error).__name__}: {error}")
            self._core.metrics.record_request(name, "Predict", "GRPC", error.code_name, 0.0)
            logging.vlog(1, "Predict failed: %s", error.message)
            context.abort(error.code, error.message)
        latency_us = (time.perf_counter() - started) * 1e6
        self._core.metrics.record_request(
            name, "Predict", "GRPC", "OK", latency_us, str(result.version)
        )
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            return self._core.get_model_metadata(request)
        except ServingError as error:
            logging.vlog(1, "GetModelMetadata failed: %s", error.message)
            context.abort(error.code, error.message)

    def _no_signature(self, request, context, kind: str):
        try:
            with self._core.manager.servable(request.model_spec) as servable:
                name = request.model_spec.signature_name or "serving_default"
                signature = servable.signature_defs.get(name)
        except ServingError as error:
            self._core.metrics.record_request(
                request.model_spec.name, kind, "GRPC", error.code_name, 0.0
            )
            context.abort(error.code, error.message)
        message = (
            f"No signature was found with the name: {name}"
            if signature is None
            else f"Expected {'classification' if kind == 'Classify' else 'regression'} signature "
            f"method_name to be tensorflow/serving/{kind.lower()}. Was: {signature.method_name}"
        )
        self._core.metrics.record_request(
            request.model_spec.name, kind, "GRPC", "INVALID_ARGUMENT", 0.0
        )
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)

    def Classify(self, request, context):  # noqa: N802
        self._no_signature(request, context, "Classify")

    def Regress(self, request, context):  # noqa: N802
        self._no_signature(request, context, "Regress")


class _Models(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: ServingCore):
        self._core = core

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            return self._core.get_model_status(request)
        except ServingError as error:
            context.abort(error.code, error.message)

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        response = self._core.reload_config(request)
        if response.status.error_code:  # TF Serving returns the error as the call's status too
            code = code_from_number(response.status.error_code)
            context.abort(code, response.status.error_message)
        return response


class GrpcServer:
    """Serves both services on host:port; port 0 picks a free port (see `port`)."""

    def __init__(
        self,
        host: str,
        port: int,
        core: ServingCore,
        max_threads: int,
        max_request_bytes: int,
        channel_arguments: str = "",
    ):
        options: dict[str, int | str] = {
            "grpc.max_receive_message_length": max_request_bytes,
            "grpc.max_send_message_length": -1,
            "grpc.so_reuseport": 0,
        }
        options.update(parse_channel_arguments(channel_arguments))
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max(1, max_threads), thread_name_prefix="grpc"),
            options=list(options.items()),
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _Predictions(core), self._server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(_Models(core), self._server)
        self.port: int = self._server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot bind the gRPC port {host}:{port}")

    def start(self) -> None:
        self._server.start()

    def stop(self, grace_s: float = 5.0) -> None:
        self._server.stop(grace_s).wait()
