"""One loaded model version: its SavedModel, signature defs, optional batcher and warmup."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time
from collections.abc import Callable, Mapping

import numpy as np
from absl import logging
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from models import filesystems as fs
from serving.batching import BatchScheduler
from serving.calls import NO_CALLER, Call, RunSlots
from serving.config import BatchingOptions
from serving.errors import (
    ServingError,
    code_from_number,
    failed_precondition,
    internal,
    invalid_argument,
)

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit
DEFAULT_WARMUP_TEXT = "Warm up."


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    tags: tuple[str, ...] = ("serve",)
    batching: BatchingOptions | None = None
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 0
    on_batch: Callable[[str, int], None] | None = None  # (model name, batch size)
    # without batching: graph runs at a time, shared by all servables (None: no bound)
    run_slots: RunSlots | None = None


_TEXT_LIMIT_MESSAGE = re.compile(rb"text longer than (\d+) characters")


def graph_byte_limits(meta_graph: meta_graph_pb2.MetaGraphDef) -> dict[str, int]:
    """String inputs whose length a voice graph asserts in bytes: {input name: limit}.

    Voices exported with `tf.strings.length(text)` (unit BYTE) assert 'text longer than N
    characters' but count UTF-8 bytes; the server refuses such text itself, with a clear
    message, before it reaches (and fails) a batch.
    """
    limits: dict[str, int] = {}
    for function in meta_graph.graph_def.library.function:
        inputs = {arg.name for arg in function.signature.input_arg}
        byte_lengths = [
            node.input[0]
            for node in function.node_def
            if node.op == "StringLength"
            and node.attr["unit"].s in (b"", b"BYTE")
            and node.input
            and node.input[0] in inputs
        ]
        if not byte_lengths:
            continue
        for node in function.node_def:
            if node.op != "Const":
                continue
            for value in node.attr["value"].tensor.string_val:
                match = _TEXT_LIMIT_MESSAGE.search(value)
                if match:
                    for name in byte_lengths:
                        limits[name] = min(int(match.group(1)), limits.get(name, 1 << 62))
    return limits


def read_meta_graph(path: str, tags: tuple[str, ...]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef whose tags match, read from saved_model.pb as TF Serving's loader does."""
    saved_model = saved_model_pb2.SavedModel()
    with fs.open_file(os.path.join(path, "saved_model.pb"), "rb") as handle:
        saved_model.ParseFromString(handle.read())
    for meta_graph in saved_model.meta_graphs:
        if set(tags) <= set(meta_graph.meta_info_def.tags):
            return meta_graph
    available = [sorted(m.meta_info_def.tags) for m in saved_model.meta_graphs]
    raise ValueError(
        f"Could not find meta graph def matching supplied tags: {{ {' '.join(tags)} }} in "
        f"{path} (available: {available})"
    )


class Servable:
    """A model version ready to run. `run` is thread-safe; `close` waits for in-flight calls."""

    def __init__(self, name: str, version: int, path: str, options: LoadOptions):
        import tensorflow as tf

        meta_graph = read_meta_graph(path, options.tags)
        self._setup(name, version, path, meta_graph.signature_def, options)
        self.meta_graph = meta_graph
        self.text_byte_limits = graph_byte_limits(meta_graph)
        self._loaded = tf.saved_model.load(path, tags=list(options.tags))
        self._functions = dict(self._loaded.signatures)
        if options.enable_model_warmup:
            self._warm_up(max(1, options.num_request_iterations_for_warmup))

    def _setup(
        self,
        name: str,
        version: int,
        path: str,
        signature_defs: Mapping[str, meta_graph_pb2.SignatureDef],
        options: LoadOptions,
    ) -> None:
        """The state every servable has, whatever runs its signatures."""
        self.name = name
        self.version = version
        self.path = path
        self.signature_defs = signature_defs
        self.text_byte_limits: dict[str, int] = {}
        self._functions: dict[str, Callable] = {}
        self._batching = options.batching
        self._run_slots = options.run_slots
        self._on_batch = options.on_batch
        self._batchers: dict[str, BatchScheduler] = {}
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"Servable({self.name}, {self.version})"

    # --- handles: requests hold one while they use the servable ---
    def acquire(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def close(self, timeout_s: float = 60.0) -> None:
        """Waits for in-flight requests, stops the batchers, drops the model (frees memory)."""
        with self._lock:
            self._closed = True
            deadline = time.monotonic() + timeout_s
            while self._in_flight and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            batchers, self._batchers = list(self._batchers.values()), {}
        for batcher in batchers:
            batcher.close()
        self._functions = {}
        self._loaded = None

    # --- running ---
    def batcher(self, signature_name: str) -> BatchScheduler | None:
        """The signature's batch queue, once batching has started one."""
        with self._lock:
            return self._batchers.get(signature_name)

    def run(
        self, signature_name: str, inputs: dict[str, np.ndarray], call: Call = NO_CALLER
    ) -> dict[str, np.ndarray]:
        """Runs a signature on checked inputs; through the batcher when batching is on.

        Work waits for a run slot (or in the batch queue) while its caller is there; a
        caller that cancels or runs out of time leaves the queue and its graph never runs.
        """
        if signature_name not in self._functions:
            raise failed_precondition(f'Serving signature key "{signature_name}" not found.')
        call.check()
        if self._batching is None:
            if self._run_slots is None:
                return self._call(signature_name, inputs)
            with self._run_slots.hold(call):
                return self._call(signature_name, inputs)
        with self._lock:
            batcher = self._batchers.get(signature_name)
            if batcher is None:
                observer = self._on_batch
                batcher = BatchScheduler(
                    self._batching,
                    lambda merged: self._call(signature_name, merged),
                    f"{self.name}/{self.version}/{signature_name}",
                    (lambda size: observer(self.name, size)) if observer else None,
                )
                self._batchers[signature_name] = batcher
        return batcher.run(inputs, call)

    def _call(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        function = self._functions[signature_name]
        try:
            outputs = function(**{alias: tf.constant(value) for alias, value in inputs.items()})
            return {alias: tensor.numpy() for alias, tensor in outputs.items()}
        except tf.errors.OpError as error:
            raise ServingError(code_from_number(error.error_code), error.message) from None
        except (TypeError, ValueError) as error:
            raise invalid_argument(str(error)) from None
        except ServingError:
            raise
        except Exception as error:  # a model bug must not take the server down
            raise internal(f"{type(error).__name__}: {error}") from None

    # --- warmup (TF Serving's assets.extra/tf_serving_warmup_requests, else one sentence) ---
    def _warm_up(self, iterations: int) -> None:
        started = time.monotonic()
        records = self._warmup_records()
        if records is None:
            records = self._default_warmup()
        for signature_name, inputs in records:
            for _ in range(iterations):
                self._call(signature_name, inputs)
        if records:
            logging.info(
                "Finished reading warmup data for model %s version %d: %d records in %.2f s",
                self.name,
                self.version,
                len(records),
                time.monotonic() - started,
            )

    def _warmup_records(self) -> list[tuple[str, dict[str, np.ndarray]]] | None:
        path = os.path.join(self.path, WARMUP_FILE)
        if not fs.exists(path):
            return None
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_log_pb2

        from serving import tensors

        records = []
        for raw in tf.data.TFRecordDataset(path).take(MAX_WARMUP_RECORDS):
            log = prediction_log_pb2.PredictionLog.FromString(raw.numpy())
            if log.WhichOneof("log_type") != "predict_log":
                continue
            request = log.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            inputs = {alias: tensors.to_ndarray(proto) for alias, proto in request.inputs.items()}
            records.append((name, inputs))
        return records

    def _default_warmup(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        signature = self.signature_defs.get("serving_default")
        if signature is None or "serving_default" not in self._functions:
            return []
        if len(signature.inputs) != 1:
            return []
        ((alias, info),) = signature.inputs.items()
        if info.dtype != types_pb2.DT_STRING or len(info.tensor_shape.dim) != 1:
            return []
        return [("serving_default", {alias: np.array([DEFAULT_WARMUP_TEXT.encode()], object)})]
