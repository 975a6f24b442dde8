"""The local model server: the manager, the gRPC and REST ports, config polling, shutdown."""

from __future__ import annotations

import dataclasses
import os
import threading

from absl import logging

from models import filesystems as fs
from serving import config as config_lib
from serving.calls import RunSlots
from serving.core import ServingCore
from serving.grpc_server import GrpcServer
from serving.manager import ModelManager
from serving.metrics import ServingMetrics
from serving.rest_api import RestApi
from serving.rest_server import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS, RestServer
from serving.servable import LoadOptions, Servable
from serving.validation import DEFAULT_MAX_REQUEST_ROWS, DEFAULT_MAX_TEXT_CHARS, TextLimits

DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024  # gRPC's own default receive limit


def _default_threads() -> int:
    return 4 * (os.cpu_count() or 1)


def _default_runs() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass
class ServerOptions:
    """tensorflow_model_server's flags (same names and meanings) plus a few local ones.

    Ports: None disables a port, 0 picks a free one (the `serve` command maps TF Serving's
    "0 = disabled" onto None).
    """

    port: int | None = 8500
    rest_api_port: int | None = None
    model_name: str = "default"
    model_base_path: str | None = None
    model_config_file: str | None = None
    model_config_file_poll_wait_seconds: float = 0
    file_system_poll_wait_seconds: float = 1
    rest_api_num_threads: int = dataclasses.field(default_factory=_default_threads)
    rest_api_timeout_in_ms: int = 30000
    rest_api_enable_cors_support: bool = False
    grpc_max_threads: int = dataclasses.field(default_factory=_default_threads)
    grpc_channel_arguments: str = ""
    enable_batching: bool = False
    batching_parameters_file: str | None = None
    monitoring_config_file: str | None = None
    allow_version_labels_for_unavailable_models: bool = False
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 0
    saved_model_tags: str = "serve"
    # local additions
    host: str = "127.0.0.1"
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    max_request_rows: int = DEFAULT_MAX_REQUEST_ROWS
    max_concurrent_runs: int = dataclasses.field(default_factory=_default_runs)
    rest_api_max_connections: int = DEFAULT_MAX_CONNECTIONS
    rest_api_idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_S
    remap_base_path: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def model_server_config(options: ServerOptions):
    """The ModelServerConfig that the flags describe (config file, or one model)."""
    if options.model_config_file:
        config = config_lib.load_model_server_config(options.model_config_file)
    elif options.model_base_path:
        config = config_lib.single_model_config(
            options.model_name, fs.absolute(options.model_base_path)
        )
    else:
        raise config_lib.ConfigError(
            "Both server_options.model_base_path and server_options.model_config_file are "
            "empty! (give --model_base_path or --model_config_file)"
        )
    config_lib.remap_base_paths(config, options.remap_base_path)
    config_lib.validate_model_server_config(config)
    return config


class ModelServer:
    """Loads the configured models, then serves them until `stop`.

    `servable_factory(name, version, path, load_options)` loads one version (default: a
    SavedModel `Servable`; tests pass `serving.testing.ScriptedServable`).
    """

    def __init__(self, options: ServerOptions, servable_factory=Servable):
        if options.batching_parameters_file and not options.enable_batching:
            raise config_lib.ConfigError(
                "server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true."
            )
        if options.port is None and options.rest_api_port is None:
            raise config_lib.ConfigError("both the gRPC and the REST port are disabled")
        self.options = options
        self.metrics = ServingMetrics(known_models=lambda: self.manager.model_names())
        self._config = model_server_config(options)
        self.monitoring = config_lib.load_monitoring_options(options.monitoring_config_file)
        batching = (
            config_lib.load_batching_options(options.batching_parameters_file)
            if options.enable_batching
            else None
        )
        self.run_slots = RunSlots(options.max_concurrent_runs)  # graph runs without batching
        load_options = LoadOptions(
            tags=tuple(t for t in options.saved_model_tags.split(",") if t) or ("serve",),
            batching=batching,
            enable_model_warmup=options.enable_model_warmup,
            num_request_iterations_for_warmup=options.num_request_iterations_for_warmup,
            on_batch=self.metrics.record_batch,
            run_slots=self.run_slots,
        )
        self.manager = ModelManager(
            self._config,
            lambda name, version, path: servable_factory(name, version, path, load_options),
            poll_wait_s=options.file_system_poll_wait_seconds,
            max_num_load_retries=options.max_num_load_retries,
            load_retry_interval_s=options.load_retry_interval_micros / 1e6,
            allow_version_labels_for_unavailable_models=(
                options.allow_version_labels_for_unavailable_models
            ),
        )
        from models.text.normalize import normalize_text  # the voices' text front end

        limits = TextLimits(options.max_text_chars, options.max_request_rows, normalize_text)
        self.core = ServingCore(self.manager, limits, self.metrics)
        self._grpc: GrpcServer | None = None
        self._rest: RestServer | None = None
        self._stop = threading.Event()
        self._config_thread: threading.Thread | None = None

    @property
    def grpc_port(self) -> int | None:
        return self._grpc.port if self._grpc else None

    @property
    def rest_port(self) -> int | None:
        return self._rest.port if self._rest else None

    def start(self) -> ModelServer:
        """Loads every model (blocking, as TF Serving does before it listens), then listens."""
        options = self.options
        try:
            self.manager.start()
            if options.port is not None:
                self._grpc = GrpcServer(
                    options.host,
                    options.port,
                    self.core,
                    options.grpc_max_threads,
                    options.max_request_bytes,
                    options.grpc_channel_arguments,
                )
                self._grpc.start()
                logging.info("Running gRPC ModelServer at %s:%d ...", options.host, self._grpc.port)
            if options.rest_api_port is not None:
                api = RestApi(
                    self.core, options.rest_api_num_threads, options.rest_api_timeout_in_ms
                )
                self._rest = RestServer(
                    options.host,
                    options.rest_api_port,
                    api,
                    self.metrics,
                    self.monitoring,
                    options.max_request_bytes,
                    options.rest_api_enable_cors_support,
                    options.rest_api_max_connections,
                    options.rest_api_idle_timeout_seconds,
                )
                self._rest.start()
                logging.info("Exporting HTTP/REST API at:%s:%d ...", options.host, self._rest.port)
        except BaseException:
            self.stop()
            raise
        if options.model_config_file and options.model_config_file_poll_wait_seconds > 0:
            self._config_thread = threading.Thread(
                target=self._poll_config, name="config-poll", daemon=True
            )
            self._config_thread.start()
        return self

    def _poll_config(self) -> None:
        """--model_config_file_poll_wait_seconds: re-read the file, apply it when it changed."""
        current = self._config.SerializeToString()
        while not self._stop.wait(self.options.model_config_file_poll_wait_seconds):
            try:
                config = model_server_config(self.options)
            except config_lib.ConfigError as error:
                logging.error("ignoring model config file: %s", error)
                continue
            if config.SerializeToString() != current:
                logging.info("model config file changed: reloading")
                try:
                    self.manager.reload_config(config)
                    current = config.SerializeToString()
                except Exception as error:  # keep serving the old config
                    logging.error("model config reload failed: %s", error)

    def stop(self) -> None:
        self._stop.set()
        if self._grpc is not None:
            self._grpc.stop()
        if self._rest is not None:
            self._rest.stop()
        self.manager.stop()

    def wait(self) -> None:
        """Blocks until `request_stop` (the `serve` command's SIGTERM handler calls it)."""
        self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
