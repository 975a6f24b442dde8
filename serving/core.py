"""The serving operations both front ends share: Predict, GetModelMetadata, GetModelStatus."""

from __future__ import annotations

import time

import grpc
import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_pb2,
    predict_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from serving import tensors, validation
from serving.calls import NO_CALLER, Call
from serving.errors import ServingError, failed_precondition, invalid_argument
from serving.manager import ModelManager
from serving.metrics import ServingMetrics

DEFAULT_SIGNATURE = "serving_default"
SIGNATURE_DEF_FIELD = "signature_def"
_STATES = get_model_status_pb2.ModelVersionStatus.State


class PredictResult:
    """Outputs of one Predict as numpy arrays, before either front end encodes them."""

    def __init__(self, name: str, version: int, signature_name: str, outputs, dtypes):
        self.name = name
        self.version = version
        self.signature_name = signature_name
        self.outputs: dict[str, np.ndarray] = outputs
        self.dtypes: dict[str, int] = dtypes

    def to_response(self) -> predict_pb2.PredictResponse:
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.name
        response.model_spec.version.value = self.version
        response.model_spec.signature_name = self.signature_name
        for alias, value in self.outputs.items():
            response.outputs[alias].CopyFrom(tensors.make_tensor_proto(value, self.dtypes[alias]))
        return response


class ServingCore:
    def __init__(
        self, manager: ModelManager, limits: validation.TextLimits, metrics: ServingMetrics
    ):
        self.manager = manager
        self.limits = limits
        self.metrics = metrics

    def predict(self, request: predict_pb2.PredictRequest, call: Call = NO_CALLER) -> PredictResult:
        """Checks and runs one Predict; nothing runs once `call`'s caller is gone."""
        call.check()
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        with self.manager.servable(request.model_spec) as servable:
            signature = servable.signature_defs.get(signature_name)
            if signature is None:
                raise failed_precondition(f'Serving signature key "{signature_name}" not found.')
            inputs, aliases = validation.prepare(
                signature_name, signature, request, self.limits, servable.text_byte_limits
            )
            started = time.perf_counter()
            try:
                outputs = servable.run(signature_name, inputs, call)
            except ServingError as error:
                raise validation.explain_graph_error(error, inputs, self.limits) from None
            self.metrics.record_runtime(
                request.model_spec.name, "Predict", (time.perf_counter() - started) * 1e6
            )
            return PredictResult(
                request.model_spec.name,
                servable.version,
                signature_name,
                {alias: outputs[alias] for alias in aliases},
                {alias: signature.outputs[alias].dtype for alias in aliases},
            )

    def signature_inputs(
        self, spec: model_pb2.ModelSpec, signature_name: str
    ) -> dict[str, meta_graph_pb2.TensorInfo]:
        """The REST handler's GetInfoMap: inputs of a signature, for JSON decoding."""
        name = signature_name or DEFAULT_SIGNATURE
        with self.manager.servable(spec) as servable:
            signature = servable.signature_defs.get(name)
            if signature is None:
                raise invalid_argument(
                    f'Serving signature name: "{name}" not found in signature def'
                )
            return dict(signature.inputs)

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        if not request.metadata_field:
            raise invalid_argument(
                "GetModelMetadataRequest must specify at least one metadata_field"
            )
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        with self.manager.servable(request.model_spec) as servable:
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for name, signature in servable.signature_defs.items():
                signature_map.signature_def[name].CopyFrom(signature)
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response

    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest
    ) -> get_model_status_pb2.GetModelStatusResponse:
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        response = get_model_status_pb2.GetModelStatusResponse()
        for state in self.manager.version_states(spec.name, version):
            entry = response.model_version_status.add()
            entry.version = state.version
            entry.state = _STATES.Value(state.state)
            entry.status.error_code = _error_code_number(state.error_code)
            entry.status.error_message = state.error_message
        return response

    def reload_config(
        self, request: model_management_pb2.ReloadConfigRequest
    ) -> model_management_pb2.ReloadConfigResponse:
        response = model_management_pb2.ReloadConfigResponse()
        config = model_server_config_pb2.ModelServerConfig()
        config.CopyFrom(request.config)
        try:
            if config.WhichOneof("config") != "model_config_list":
                raise invalid_argument(
                    "ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
                    "ModelConfigList is currently supported"
                )
            self.manager.reload_config(config)
        except ServingError as error:
            response.status.error_code = error.code.value[0]
            response.status.error_message = error.message
        return response


def _error_code_number(code_name: str) -> int:
    return getattr(grpc.StatusCode, code_name, grpc.StatusCode.UNKNOWN).value[0]
