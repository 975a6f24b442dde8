"""Server-side batching with TF Serving's semantics (SharedBatchScheduler + BatchingSession).

Requests for one servable and signature queue into batches of at most max_batch_size rows; a
batch runs when it is full, or when a batch thread is free and its oldest request has waited
batch_timeout_micros. Inputs are concatenated along dimension 0 (optionally padded), the
batch is padded up to the next allowed size, and the outputs are split back per request.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

import numpy as np
from absl import logging

from serving.calls import NO_CALLER, Call
from serving.config import BatchingOptions
from serving.errors import internal, invalid_argument, unavailable

Arrays = dict[str, np.ndarray]
RunFn = Callable[[Arrays], Arrays]


class _Task:
    __slots__ = ("inputs", "size", "call", "batch", "finished", "condition", "outputs", "error")

    def __init__(self, inputs: Arrays, size: int, call: Call):
        self.inputs = inputs
        self.size = size
        self.call = call
        self.batch: _Batch | None = None
        self.finished = False
        self.condition = threading.Condition()
        self.outputs: Arrays | None = None
        self.error: BaseException | None = None

    def finish(self, outputs: Arrays | None = None, error: BaseException | None = None) -> None:
        with self.condition:
            self.outputs, self.error, self.finished = outputs, error, True
            self.condition.notify_all()


class _Batch:
    def __init__(self) -> None:
        self.tasks: list[_Task] = []
        self.size = 0
        self.opened = time.monotonic()
        self.closed = False
        self.started = False

    def remove(self, task: _Task) -> None:
        self.tasks.remove(task)
        self.size -= task.size


def _batch_size(inputs: Arrays) -> int:
    sizes = {value.shape[0] if value.ndim else -1 for value in inputs.values()}
    if len(sizes) != 1 or -1 in sizes:
        raise invalid_argument(
            "Batching session Run() input tensors must have equal 0th-dimension size"
        )
    return sizes.pop()


def _pad_to(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Pads trailing dimensions with the tensor's first element (batching_util.cc PadTensor)."""
    if value.shape[1:] == shape:
        return value
    fill = value.reshape(-1)[0] if value.size else 0
    out = np.full((value.shape[0],) + shape, fill, dtype=value.dtype)
    out[tuple(slice(0, n) for n in value.shape)] = value
    return out


def merge_inputs(tasks: list[_Task], options: BatchingOptions) -> tuple[Arrays, int]:
    """Concatenates the tasks' inputs; pads the batch to an allowed size. Returns (inputs, pad)."""
    merged: Arrays = {}
    total = sum(task.size for task in tasks)
    target = next((s for s in options.allowed_batch_sizes if s >= total), total)
    for name in tasks[0].inputs:
        values = [task.inputs[name] for task in tasks]
        shapes = {value.shape[1:] for value in values}
        if len(shapes) > 1:
            if not options.pad_variable_length_inputs:
                raise invalid_argument(
                    f"Tensors with name '{name}' from different tasks have different shapes "
                    "and padding is turned off. Set pad_variable_length_inputs to true, or "
                    "ensure that all tensors with the same name have equal dimensions "
                    "starting with the first dim."
                )
            widest = tuple(max(dims) for dims in zip(*shapes, strict=True))
            values = [_pad_to(value, widest) for value in values]
        if target > total:  # pad with the first row of the last task, as BatchingSession does
            values.append(np.repeat(values[-1][:1], target - total, axis=0))
        merged[name] = np.concatenate(values, axis=0)
    return merged, target - total


def split_outputs(outputs: Arrays, tasks: list[_Task], padded_size: int) -> list[Arrays]:
    per_task: list[Arrays] = [{} for _ in tasks]
    for name, value in outputs.items():
        if value.ndim == 0 or value.shape[0] != padded_size:
            raise internal(
                f"Batched output tensor '{name}' has 0th dimension "
                f"{value.shape[0] if value.ndim else 'none'}; expected {padded_size}",
            )
        offset = 0
        for index, task in enumerate(tasks):
            per_task[index][name] = value[offset : offset + task.size]
            offset += task.size
    return per_task


class BatchScheduler:
    """One queue of batches with its own batch threads; `run` blocks until its rows are done."""

    def __init__(
        self,
        options: BatchingOptions,
        run_fn: RunFn,
        name: str,
        on_batch: Callable[[int], None] | None = None,
    ):
        self._options = options
        self._on_batch = on_batch
        self._run_fn = run_fn
        self._name = name
        self._lock = threading.Condition()
        self._batches: collections.deque[_Batch] = collections.deque()
        self._closed = False
        self._threads = [
            threading.Thread(
                target=self._work, name=f"{options.thread_pool_name}-{name}-{i}", daemon=True
            )
            for i in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def queued_tasks(self) -> int:
        """Requests (or pieces of split ones) waiting in batches that have not started."""
        with self._lock:
            return sum(len(batch.tasks) for batch in self._batches)

    def run(self, inputs: Arrays, call: Call = NO_CALLER) -> Arrays:
        """Runs `inputs` in a batch; a caller that leaves while queued leaves the queue."""
        size = _batch_size(inputs)
        limit = self._options.execution_batch_size
        if size > self._options.max_batch_size or (
            size > limit and not self._options.enable_large_batch_splitting
        ):
            raise invalid_argument(
                f"Task size {size} is larger than maximum input batch size "
                f"{self._options.max_batch_size}"
            )
        if size > limit:  # large batch splitting: run the pieces, then join them back
            pieces = [
                self._run_one(
                    {k: v[i : i + limit] for k, v in inputs.items()}, min(limit, size - i), call
                )
                for i in range(0, size, limit)
            ]
            return {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}
        return self._run_one(inputs, size, call)

    def _run_one(self, inputs: Arrays, size: int, call: Call) -> Arrays:
        call.check()
        task = _Task(inputs, size, call)
        with self._lock:
            if self._closed:
                raise unavailable(f"the batch scheduler for {self._name} is shut down")
            open_batch = self._batches[-1] if self._batches else None
            if (
                open_batch is None
                or open_batch.closed
                or (open_batch.size + size > self._options.execution_batch_size)
            ):
                if len(self._batches) >= self._options.max_enqueued_batches:
                    raise unavailable(
                        "The batch scheduling queue to which this task was submitted is full"
                    )
                if open_batch is not None:
                    open_batch.closed = True
                open_batch = _Batch()
                self._batches.append(open_batch)
            open_batch.tasks.append(task)
            open_batch.size += size
            task.batch = open_batch
            if open_batch.size >= self._options.execution_batch_size:
                open_batch.closed = True
            self._lock.notify_all()
        with task.condition:
            finished = call.wait(task.condition, lambda: task.finished)
        if not finished:
            self._abandon(task)
            raise call.error()
        if task.error is not None:
            raise task.error
        assert task.outputs is not None
        return task.outputs

    def _abandon(self, task: _Task) -> None:
        """The caller left: its rows leave a batch that has not started (an empty one goes)."""
        with self._lock:
            batch = task.batch
            if batch is None or batch.started or task not in batch.tasks:
                return  # running already: the rows are computed and dropped
            batch.remove(task)
            if not batch.tasks and batch in self._batches:
                self._batches.remove(batch)
            self._lock.notify_all()

    def _next_batch(self) -> _Batch | None:
        timeout_s = self._options.batch_timeout_micros / 1e6
        with self._lock:
            while True:
                if self._batches:
                    head = self._batches[0]
                    age = time.monotonic() - head.opened
                    if head.closed or age >= timeout_s or self._closed:
                        head.started = True
                        return self._batches.popleft()
                    self._lock.wait(timeout_s - age)
                elif self._closed:
                    return None
                else:
                    self._lock.wait()

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            for task in [t for t in batch.tasks if not t.call.is_active()]:
                batch.remove(task)  # its caller left (deadline, cancel) while it queued
                task.finish(error=task.call.error())
            tasks = batch.tasks
            if not tasks:
                continue  # nobody is waiting: the model does not run
            results: list[Arrays] | None = None
            try:
                merged, padding = merge_inputs(tasks, self._options)
                if self._on_batch is not None:
                    self._on_batch(batch.size + padding)
                results = split_outputs(self._run_fn(merged), tasks, batch.size + padding)
            except BaseException as error:  # every waiting request gets the batch's error
                logging.log_every_n(
                    logging.WARNING, "batch for %s failed: %s", 20, self._name, error
                )
                for task in tasks:
                    task.finish(error=error)
            else:
                for task, outputs in zip(tasks, results, strict=True):
                    task.finish(outputs=outputs)

    def close(self) -> None:
        """Runs what is queued, then stops the batch threads."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)
