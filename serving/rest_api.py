"""TF Serving's REST API (model_servers/http_rest_api_handler.cc): routes, JSON bodies, errors."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
import time
import urllib.parse

from absl import logging
from google.protobuf import json_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
)

from serving import json_tensor
from serving.calls import NO_CALLER, Call
from serving.core import ServingCore
from serving.errors import ServingError, internal, invalid_argument

_PREDICT_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
_STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)
API_PATH = re.compile(r"/v1/.*", re.IGNORECASE)
_INT64_MAX = 2**63 - 1
_JSON_OPTIONS = {"preserving_proto_field_name": True, "including_default_value_fields": True}


@dataclasses.dataclass
class RestResponse:
    http_status: int
    body: str
    model_name: str = ""
    api: str = ""
    status: str = "OK"
    version: str = ""


@dataclasses.dataclass
class _Route:
    model_name: str
    version: int | None
    label: str | None
    method: str  # predict | classify | regress | (GET) metadata | ""


def _route(http_method: str, path: str) -> _Route:
    """ParseModelInfo; the 'Malformed request' error unless a pattern matches."""
    malformed = invalid_argument(f"Malformed request: {http_method} {path}")
    if http_method == "POST":
        match = _PREDICT_PATH.fullmatch(path)
    elif http_method == "GET":
        match = _STATUS_PATH.fullmatch(path)
    else:
        raise malformed
    if match is None:
        raise malformed
    name, version, label, method = match.groups()
    name = urllib.parse.unquote(name or "")
    parsed_version = None
    if version:
        parsed_version = int(version)
        if parsed_version > _INT64_MAX:
            raise invalid_argument(f"Failed to convert version: {version} to numeric.")
    return _Route(
        name, parsed_version, urllib.parse.unquote(label) if label else None, method or ""
    )


def _spec(route: _Route) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=route.model_name)
    if route.version is not None:
        spec.version.value = route.version
    if route.label is not None:
        spec.version_label = route.label
    return spec


def _api(http_method: str, route: _Route | None) -> str:
    """The metrics' API label: predict/classify/regress for POST, empty for GET (as TF Serving)."""
    return route.method if route is not None and http_method == "POST" else ""


class RestApi:
    """Answers REST calls on a pool bounded by --rest_api_num_threads.

    The HTTP server submits each /v1/ call with its `Call` (deadline: --rest_api_timeout_in_ms;
    cancelled when the client disconnects or the deadline answers 504), then records it.
    """

    def __init__(self, core: ServingCore, num_threads: int, timeout_ms: int):
        self._core = core
        self.timeout_s = timeout_ms / 1000 if timeout_ms > 0 else None
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, num_threads), thread_name_prefix="rest"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(
        self, http_method: str, path: str, body: bytes, call: Call
    ) -> concurrent.futures.Future:
        return self._pool.submit(self.handle, http_method, path, body, call)

    def timeout_response(self, http_method: str, path: str) -> RestResponse:
        ms = int(self.timeout_s * 1000) if self.timeout_s else 0
        message = f"Deadline exceeded: the request took longer than {ms} ms"
        return self._unanswered(504, message, "DEADLINE_EXCEEDED", http_method, path)

    def cancelled_response(self, http_method: str, path: str) -> RestResponse:
        """For the metrics: the client closed the connection before its answer."""
        message = "the client closed the connection before the answer"
        return self._unanswered(499, message, "CANCELLED", http_method, path)

    def _unanswered(
        self, http_status: int, message: str, status: str, http_method: str, path: str
    ) -> RestResponse:
        try:
            route = _route(http_method, path)
        except ServingError:
            route = None
        return RestResponse(
            http_status,
            json_tensor.make_error_json(message),
            route.model_name if route else "",
            _api(http_method, route),
            status,
        )

    def record(self, response: RestResponse, started: float) -> None:
        """Metrics of one answered call; `started` is its time.perf_counter() at arrival."""
        latency_us = (time.perf_counter() - started) * 1e6
        self._core.metrics.record_request(
            response.model_name, response.api, "REST", response.status, latency_us, response.version
        )

    def process(self, http_method: str, path: str, body: bytes) -> RestResponse:
        """Handles a /v1/ call within --rest_api_timeout_in_ms, and records its metrics."""
        started = time.perf_counter()
        call = Call.with_timeout(self.timeout_s)
        future = self.submit(http_method, path, body, call)
        try:
            response = future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            call.cancel()
            future.cancel()
            response = self.timeout_response(http_method, path)
        self.record(response, started)
        return response

    def handle(
        self, http_method: str, path: str, body: bytes, call: Call = NO_CALLER
    ) -> RestResponse:
        """One call's answer; an unexpected failure is a 500 with its message, never a crash."""
        try:
            return self._handle(http_method, path, body, call)
        except Exception as error:  # noqa: BLE001
            logging.error(
                "REST %s %s failed: %s: %s", http_method, path, type(error).__name__, error
            )
            return error_response(internal(f"{type(error).__name__}: {error}"))

    def _handle(self, http_method: str, path: str, body: bytes, call: Call) -> RestResponse:
        route = None
        try:
            call.check()
            route = _route(http_method, path)
            if http_method == "POST":
                if route.method.lower() == "predict":
                    text, version = self._predict(route, body, call)
                else:
                    text, version = self._classify_or_regress(route, body), ""
            elif route.method.lower() == "metadata":
                text, version = self._metadata(route), ""
            else:
                text, version = self._status(route), ""
            return RestResponse(
                200, text, route.model_name, _api(http_method, route), "OK", version
            )
        except ServingError as error:
            return RestResponse(
                error.http_status,
                json_tensor.make_error_json(error.message),
                route.model_name if route else "",
                _api(http_method, route),
                error.code_name,
            )

    def _predict(self, route: _Route, body: bytes, call: Call) -> tuple[str, str]:
        request = predict_pb2.PredictRequest()
        request.model_spec.CopyFrom(_spec(route))
        fmt = json_tensor.fill_predict_request(
            body,
            lambda signature: self._core.signature_inputs(request.model_spec, signature),
            request,
            self._core.limits.max_request_rows,
        )
        result = self._core.predict(request, call)
        return json_tensor.make_json(result.outputs, result.dtypes, fmt), str(result.version)

    def _classify_or_regress(self, route: _Route, body: bytes) -> str:
        doc = json_tensor.parse_json(body)
        signature = doc.get("signature_name") or "serving_default"
        method = route.method.lower()
        with self._core.manager.servable(_spec(route)) as servable:
            definition = servable.signature_defs.get(signature)
            if definition is None:
                raise invalid_argument(f"No signature was found with the name: {signature}")
            raise invalid_argument(
                f"Expected {'classification' if method == 'classify' else 'regression'} "
                f"signature method_name to be tensorflow/serving/{method}. "
                f"Was: {definition.method_name}"
            )

    def _metadata(self, route: _Route) -> str:
        if not route.model_name:
            raise invalid_argument("Missing model name in request.")
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.CopyFrom(_spec(route))
        response = self._core.get_model_metadata(request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        spec = json_format.MessageToJson(response.model_spec, indent=1, **_JSON_OPTIONS)
        signatures = json_format.MessageToJson(signature_map, indent=1, **_JSON_OPTIONS)
        return f'{{\n"model_spec":{spec},\n"metadata": {{"signature_def": {signatures}}}\n}}\n'

    def _status(self, route: _Route) -> str:
        if not route.model_name:
            raise invalid_argument("Missing model name in request.")
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.CopyFrom(_spec(route))
        response = self._core.get_model_status(request)
        return json_format.MessageToJson(response, indent=1, **_JSON_OPTIONS)


def error_response(error: ServingError) -> RestResponse:
    return RestResponse(
        error.http_status, json_tensor.make_error_json(error.message), status=error.code_name
    )
