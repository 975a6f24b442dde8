"""AnomalyGate: training waits on clean data.

Example:

    gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"])
    trainer.add_upstream_node(gate)

The stock Trainer has no anomalies input; this component fails the run, with the anomalies
listed, before the Trainer starts, unless `allow_anomalies` is set.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.anomaly_gate import executor


class AnomalyGateSpec(ComponentSpec):
    PARAMETERS = {"allow_anomalies": ExecutionParameter(type=int)}
    INPUTS = {"anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS = {}


class AnomalyGate(base_component.BaseComponent):
    SPEC_CLASS = AnomalyGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, allow_anomalies: bool = False):
        super().__init__(
            spec=AnomalyGateSpec(anomalies=anomalies, allow_anomalies=int(allow_anomalies))
        )
