"""Aspired versions per model: polls base paths, loads new versions, unloads old ones, labels.

Availability first (TF Serving's AvailabilityPreservingPolicy): a new version is loaded and
warmed up before an old one is unloaded, and an unloaded version waits for its in-flight
requests. A failed load leaves the serving versions alone and is retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

from absl import logging
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving import versions
from serving.config import ConfigError, validate_model_server_config
from serving.errors import (
    ServingError,
    code_from_number,
    failed_precondition,
    invalid_argument,
    not_found,
)
from serving.servable import Servable

Loader = Callable[[str, int, str], Servable]

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


@dataclasses.dataclass
class VersionState:
    """What GetModelStatus reports for one version (ModelVersionStatus)."""

    version: int
    state: str = START
    error_code: str = "OK"
    error_message: str = ""
    servable: Servable | None = None
    fingerprint: versions.Fingerprint | None = None
    failures: int = 0
    last_failure: float = 0.0


@dataclasses.dataclass
class _Model:
    config: model_server_config_pb2.ModelConfig
    versions: dict[int, VersionState] = dataclasses.field(default_factory=dict)
    labels: dict[str, int] = dataclasses.field(default_factory=dict)
    active: bool = True
    warned_missing: bool = False


def _error_code(error: BaseException) -> tuple[str, str]:
    if isinstance(error, ServingError):
        return error.code_name, error.message
    code = getattr(error, "error_code", None)  # tf.errors.OpError
    if code is not None:
        return code_from_number(code).name, getattr(error, "message", str(error))
    return "UNKNOWN", f"{type(error).__name__}: {error}"


class ModelManager:
    """Serves the models of a ModelServerConfig; thread-safe."""

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        loader: Loader,
        *,
        poll_wait_s: float = 1.0,
        max_num_load_retries: int = 5,
        load_retry_interval_s: float = 60.0,
        allow_version_labels_for_unavailable_models: bool = False,
        settle_s: float | None = None,
    ):
        validate_model_server_config(config)
        # Startup and config reloads scan twice, this far apart, to see which dirs are stable.
        self._settle_s = (
            settle_s if settle_s is not None else (poll_wait_s if poll_wait_s > 0 else 1.0)
        )
        self._loader = loader
        self._poll_wait_s = poll_wait_s
        self._max_retries = max_num_load_retries
        self._retry_interval_s = load_retry_interval_s
        self._allow_unavailable_labels = allow_version_labels_for_unavailable_models
        self._lock = threading.RLock()  # guards _models and every VersionState
        self._sync_lock = threading.Lock()  # one scan/load/unload pass at a time
        self._tracker = versions.CompletenessTracker()
        self._models: dict[str, _Model] = {
            m.name: _Model(config=m) for m in config.model_config_list.config
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> None:
        """Loads what the config asks for (blocking), checks labels, then polls in background."""
        self.poll_once()  # first sight of every version dir
        time.sleep(self._settle_s)
        self.poll_once()  # unchanged since: complete, loaded now
        with self._lock:
            for model in self._models.values():
                model.labels = self._checked_labels(model)
        if self._poll_wait_s > 0:
            self._thread = threading.Thread(target=self._poll_loop, name="fs-poll", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=120)
        with self._sync_lock:
            for model in list(self._models.values()):
                for version in sorted(model.versions):
                    if model.versions[version].state == AVAILABLE:
                        self._unload(model, version)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_wait_s):
            try:
                self.poll_once()
            except Exception:  # keep polling: the next cycle may succeed
                logging.exception("file system poll failed")

    def poll_once(self) -> None:
        """One cycle: scan every model's base path, load and unload to match its policy."""
        with self._sync_lock:
            for model in list(self._models.values()):
                if model.active and not self._stop.is_set():
                    self._sync_model(model)

    # --- loading and unloading ---
    def _sync_model(self, model: _Model) -> None:
        name, base_path = model.config.name, model.config.base_path
        try:
            dirs = versions.version_dirs(base_path)
        except (FileNotFoundError, NotADirectoryError):
            if not model.warned_missing:
                logging.error("Could not find base path %s for servable %s", base_path, name)
                model.warned_missing = True
            return
        model.warned_missing = False
        if not dirs:
            logging.log_every_n_seconds(
                logging.WARNING,
                "No versions of servable %s found under base path %s. Did you forget to name "
                "your leaf directory as a number (eg. '/1/')?",
                60,
                name,
                base_path,
            )
        complete = self._tracker.scan(name, dirs)
        with self._lock:
            loaded = {v: s for v, s in model.versions.items() if s.state == AVAILABLE and v in dirs}
        candidates = set(complete) | set(loaded)
        aspired = versions.aspired_versions(model.config.model_version_policy, candidates)
        for version in sorted(aspired, reverse=True):
            if version in loaded or version not in complete:
                continue
            path, fingerprint = complete[version]
            if self._should_load(model, version, fingerprint):
                self._load(model, version, path, fingerprint)
        with self._lock:
            available = sorted(v for v, s in model.versions.items() if s.state == AVAILABLE)
        unaspired = [v for v in available if v not in aspired]
        if not unaspired:
            return
        if not aspired or any(v in available for v in aspired):
            doomed = unaspired
        else:  # nothing aspired is up yet: keep the newest old version serving
            doomed = unaspired[:-1]
        for version in doomed:
            self._unload(model, version)

    def _should_load(self, model: _Model, version: int, fingerprint) -> bool:
        with self._lock:
            state = model.versions.get(version)
        if state is None or state.error_code == "OK":
            return True
        if state.fingerprint != fingerprint:  # the directory changed: try again
            return True
        return (
            state.failures <= self._max_retries
            and time.monotonic() - state.last_failure >= self._retry_interval_s
        )

    def _load(self, model: _Model, version: int, path: str, fingerprint) -> None:
        name = model.config.name
        with self._lock:
            previous = model.versions.get(version)
            failures = previous.failures if previous and previous.fingerprint == fingerprint else 0
            model.versions[version] = VersionState(
                version, LOADING, fingerprint=fingerprint, failures=failures
            )
        logging.info("Loading servable version {name: %s version: %d} from %s", name, version, path)
        started = time.monotonic()
        try:
            servable = self._loader(name, version, path)
        except Exception as error:
            code, message = _error_code(error)
            logging.error(
                "Loading servable version {name: %s version: %d} failed: %s", name, version, message
            )
            with self._lock:
                state = model.versions[version]
                state.state, state.error_code, state.error_message = END, code, message
                state.failures += 1
                state.last_failure = time.monotonic()
            return
        with self._lock:
            state = model.versions[version]
            state.state, state.servable = AVAILABLE, servable
        logging.info(
            "Successfully loaded servable version {name: %s version: %d} in %.1f s",
            name,
            version,
            time.monotonic() - started,
        )

    def _unload(self, model: _Model, version: int) -> None:
        with self._lock:
            state = model.versions[version]
            servable, state.servable = state.servable, None
            state.state = UNLOADING
        logging.info(
            "Unloading servable version {name: %s version: %d}", model.config.name, version
        )
        if servable is not None:
            servable.close()
        with self._lock:
            state.state = END

    # --- labels ---
    def _checked_labels(self, model: _Model) -> dict[str, int]:
        labels = dict(model.config.version_labels)
        if self._allow_unavailable_labels:
            return labels
        for version in labels.values():
            state = model.versions.get(version)
            if state is None or state.state != AVAILABLE:
                raise ConfigError(
                    f"Request to assign label to version {version} of model "
                    f"{model.config.name}, which is not currently available for inference"
                )
        return labels

    # --- requests ---
    @contextlib.contextmanager
    def servable(self, spec: model_pb2.ModelSpec) -> Iterator[Servable]:
        """The servable a ModelSpec asks for, held (not unloaded) until the block ends."""
        servable = self._acquire(spec)
        try:
            yield servable
        finally:
            servable.release()

    def _acquire(self, spec: model_pb2.ModelSpec) -> Servable:
        if not spec.name:
            raise invalid_argument("ModelSpec has no name specified.")
        with self._lock:
            model = self._models.get(spec.name)
            choice = spec.WhichOneof("version_choice")
            if choice == "version_label":
                labels = model.labels if model is not None and model.active else {}
                if spec.version_label not in labels:
                    raise invalid_argument(
                        f"Unrecognized servable version label: {spec.version_label}"
                    )
                wanted: int | None = labels[spec.version_label]
            else:
                wanted = spec.version.value if choice == "version" else None
            available = (
                {v: s.servable for v, s in model.versions.items() if s.state == AVAILABLE}
                if model is not None and model.active
                else {}
            )
            if wanted is None and available:
                wanted = max(available)
            servable = available.get(wanted) if wanted is not None else None
            if servable is None or not servable.acquire():
                request = (
                    f"Specific({spec.name}, {wanted})"
                    if choice in ("version", "version_label")
                    else f"Latest({spec.name})"
                )
                raise not_found(f"Servable not found for request: {request}")
            return servable

    def version_states(self, name: str, version: int | None = None) -> list[VersionState]:
        """States newest first (GetModelStatus); NOT_FOUND with TF Serving's messages."""
        with self._lock:
            model = self._models.get(name)
            states = dict(model.versions) if model is not None else {}
            if version is not None:
                if version not in states:
                    raise not_found(f"Could not find version {version} of model {name}")
                return [dataclasses.replace(states[version])]
            if not states:
                raise not_found(f"Could not find any versions of model {name}")
            return [dataclasses.replace(states[v]) for v in sorted(states, reverse=True)]

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, model in self._models.items() if model.active)

    # --- config reload (ModelService.HandleReloadConfigRequest, --model_config_file polling) ---
    def reload_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serves the new model list: new models load, dropped ones unload, policies apply."""
        try:
            validate_model_server_config(config)
        except ConfigError as error:
            raise invalid_argument(str(error)) from None
        wanted = {m.name: m for m in config.model_config_list.config}
        with self._sync_lock:
            with self._lock:
                for name, model in self._models.items():
                    if name not in wanted:
                        model.active = False
                for name, model_config in wanted.items():
                    model = self._models.get(name)
                    if model is None:
                        self._models[name] = _Model(config=model_config)
                    else:
                        model.config, model.active = model_config, True
            for name, model in list(self._models.items()):
                if not model.active:
                    for version in sorted(model.versions):
                        if model.versions[version].state == AVAILABLE:
                            self._unload(model, version)
                    self._tracker.forget(name)
        self.poll_once()
        time.sleep(self._settle_s)
        self.poll_once()
        with self._lock:
            for model in self._models.values():
                if model.active:
                    try:
                        model.labels = self._checked_labels(model)
                    except ConfigError as error:
                        raise failed_precondition(str(error)) from None
