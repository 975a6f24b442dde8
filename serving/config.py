"""Reads TF Serving's text-proto configs: models.config, batching parameters, monitoring config."""

from __future__ import annotations

import dataclasses
import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from models import filesystems as fs
from serving.config_protos import BatchingParameters, MonitoringConfig

TENSORFLOW_PLATFORM = "tensorflow"
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"


class ConfigError(ValueError):
    """A config file or flag combination the server refuses, naming the file or model at fault."""


def _parse_text_proto(path: str, message):
    try:
        with open(path, encoding="utf-8") as handle:
            return text_format.Parse(handle.read(), message)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except text_format.ParseError as error:
        raise ConfigError(f"{path}: not a valid {message.DESCRIPTOR.name}: {error}") from error


def single_model_config(
    model_name: str, model_base_path: str
) -> model_server_config_pb2.ModelServerConfig:
    """What --model_name/--model_base_path mean: one model, latest version, TensorFlow."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = model_base_path
    model.model_platform = TENSORFLOW_PLATFORM
    return config


def load_model_server_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    return _parse_text_proto(path, model_server_config_pb2.ModelServerConfig())


def remap_base_paths(
    config: model_server_config_pb2.ModelServerConfig, remaps: list[tuple[str, str]]
) -> None:
    """Rewrites base_path prefixes in place (a container's /models -> the host's push dir)."""
    for model in config.model_config_list.config:
        for old, new in remaps:
            old = old.rstrip("/")
            if model.base_path == old or model.base_path.startswith(old + "/"):
                model.base_path = new.rstrip("/") + model.base_path[len(old) :]
                break


def validate_model_server_config(config: model_server_config_pb2.ModelServerConfig) -> None:
    """TF Serving's checks (server_core.cc), with its messages."""
    if config.WhichOneof("config") != "model_config_list":
        raise ConfigError("only model_config_list is supported (custom_model_config is not)")
    names: set[str] = set()
    for model in config.model_config_list.config:
        if model.name in names:
            raise ConfigError(f"Illegal to list model {model.name} multiple times in config list")
        names.add(model.name)
        if not model.name:
            raise ConfigError("a model in the config list has no name")
        if not (fs.is_uri(model.base_path) or os.path.isabs(model.base_path)):
            raise ConfigError(
                f"Expected model {model.name} to have an absolute path or URI; "
                f"got base_path()={model.base_path}"
            )
        platform = model.model_platform
        if model.model_type:  # deprecated ModelType enum: TENSORFLOW = 1
            if platform:
                raise ConfigError(
                    "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                    f"ModelServerConfig::model_platform, model name is {model.name}"
                )
            platform = TENSORFLOW_PLATFORM if model.model_type == 1 else ""
        if not platform:
            raise ConfigError(
                "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
                f"ModelServerConfig::model_platform, model name is {model.name}"
            )
        if platform != TENSORFLOW_PLATFORM:
            raise ConfigError(f"PlatformConfigMap has no entry for platform {platform}")
        policy = model.model_version_policy
        if policy.WhichOneof("policy_choice") == "specific" and not policy.specific.versions:
            raise ConfigError(f"model {model.name}: specific version policy lists no versions")


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
    """BatchingParameters with TF Serving's defaults (BasicBatchScheduler::Options) filled in."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    thread_pool_name: str = "model_server_batch_threads"
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int | None = None

    @property
    def execution_batch_size(self) -> int:
        if self.enable_large_batch_splitting and self.max_execution_batch_size:
            return self.max_execution_batch_size
        return self.max_batch_size


def batching_options_from_proto(params, source: str = "batching parameters") -> BatchingOptions:
    values = {}
    for name in (
        "max_batch_size",
        "batch_timeout_micros",
        "max_enqueued_batches",
        "num_batch_threads",
        "thread_pool_name",
        "enable_large_batch_splitting",
        "max_execution_batch_size",
    ):
        if params.HasField(name):
            values[name] = getattr(params, name).value
    values["allowed_batch_sizes"] = tuple(params.allowed_batch_sizes)
    values["pad_variable_length_inputs"] = params.pad_variable_length_inputs
    options = BatchingOptions(**values)
    if options.max_batch_size < 1 or options.num_batch_threads < 1:
        raise ConfigError(f"{source}: max_batch_size and num_batch_threads must be >= 1")
    if options.max_enqueued_batches < 1 or options.batch_timeout_micros < 0:
        raise ConfigError(
            f"{source}: max_enqueued_batches must be >= 1 and batch_timeout_micros >= 0"
        )
    sizes = options.allowed_batch_sizes
    if sizes:
        if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)) or sizes[0] < 1:
            raise ConfigError(f"{source}: allowed_batch_sizes entries must be increasing")
        if sizes[-1] != options.execution_batch_size:
            raise ConfigError(
                f"{source}: final entry in allowed_batch_sizes must equal max_batch_size"
                " (max_execution_batch_size when large batch splitting is enabled)"
            )
    return options


def load_batching_options(path: str | None) -> BatchingOptions:
    """--batching_parameters_file, or TF Serving's defaults when it is empty."""
    if not path:
        return BatchingOptions()
    return batching_options_from_proto(_parse_text_proto(path, BatchingParameters()), path)


@dataclasses.dataclass(frozen=True)
class MonitoringOptions:
    prometheus_enabled: bool = False
    prometheus_path: str = DEFAULT_PROMETHEUS_PATH


def load_monitoring_options(path: str | None) -> MonitoringOptions:
    if not path:
        return MonitoringOptions()
    config = _parse_text_proto(path, MonitoringConfig())
    prometheus = config.prometheus_config
    return MonitoringOptions(
        prometheus_enabled=prometheus.enable,
        prometheus_path=prometheus.path or DEFAULT_PROMETHEUS_PATH,
    )
