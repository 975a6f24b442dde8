"""Server-side batching: rows from concurrent requests share runs, and each gets its own back."""

import threading
import time

import numpy as np
import pytest

from serving.batching import BatchScheduler
from serving.config import BatchingOptions
from serving.errors import ServingError


class Model:
    """Doubles `x`; remembers the batch sizes it ran; can be held to let a queue build up."""

    def __init__(self):
        self.sizes: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, inputs):
        self.gate.wait(10)
        self.sizes.append(len(inputs["x"]))
        time.sleep(0.01)
        return {"y": inputs["x"] * 2, "n": np.full(len(inputs["x"]), inputs["x"].shape[-1])}


def _run_all(scheduler: BatchScheduler, requests: list[np.ndarray]) -> list:
    results: list = [None] * len(requests)

    def call(i):
        try:
            results[i] = scheduler.run({"x": requests[i]})
        except ServingError as error:
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_requests_share_batches_and_get_their_own_rows():
    model = Model()
    options = BatchingOptions(max_batch_size=4, batch_timeout_micros=50_000, num_batch_threads=1)
    scheduler = BatchScheduler(options, model, "m")
    requests = [np.array([[i, i]], np.float32) for i in range(8)]
    results = _run_all(scheduler, requests)
    scheduler.close()
    for request, result in zip(requests, results, strict=True):
        assert np.array_equal(result["y"], request * 2)
    assert max(model.sizes) > 1 and max(model.sizes) <= 4 and sum(model.sizes) == 8


def test_padding_to_allowed_sizes_and_variable_lengths():
    model = Model()
    model.gate.clear()  # hold the first batch so the next three queue together
    options = BatchingOptions(
        max_batch_size=4,
        batch_timeout_micros=20_000,
        num_batch_threads=1,
        allowed_batch_sizes=(2, 4),
        pad_variable_length_inputs=True,
    )
    scheduler = BatchScheduler(options, model, "m")
    threading.Timer(0.2, model.gate.set).start()
    requests = [
        np.ones((1, 2), np.float32),
        np.ones((1, 3), np.float32),
        np.ones((1, 1), np.float32),
    ]
    results = _run_all(scheduler, requests)
    scheduler.close()
    assert all(size in (2, 4) for size in model.sizes)
    assert all(result["y"].shape[0] == 1 for result in results)


def test_different_shapes_without_padding_fail_every_request_in_the_batch():
    model = Model()
    model.gate.clear()
    options = BatchingOptions(max_batch_size=4, batch_timeout_micros=100_000, num_batch_threads=1)
    scheduler = BatchScheduler(options, model, "m")
    threading.Timer(0.2, model.gate.set).start()
    results = _run_all(scheduler, [np.ones((1, 2), np.float32), np.ones((1, 3), np.float32)])
    scheduler.close()
    errors = [r for r in results if isinstance(r, ServingError)]
    assert errors and "padding is turned off" in errors[0].message


def test_limits_say_what_tf_serving_says():
    model = Model()
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=2, num_batch_threads=1), model, "m")
    with pytest.raises(ServingError, match="Task size 3 is larger than maximum input batch size 2"):
        scheduler.run({"x": np.ones((3, 1), np.float32)})
    scheduler.close()
    model.gate.clear()
    full = BatchScheduler(
        BatchingOptions(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1), model, "m"
    )
    threading.Timer(0.5, model.gate.set).start()
    results = _run_all(full, [np.ones((1, 1), np.float32)] * 4)
    full.close()
    refused = [r for r in results if isinstance(r, ServingError)]
    assert refused and refused[0].code_name == "UNAVAILABLE"
    assert (
        refused[0].message == "The batch scheduling queue to which this task was submitted is full"
    )


def test_large_batch_splitting():
    model = Model()
    options = BatchingOptions(
        max_batch_size=8,
        max_execution_batch_size=2,
        enable_large_batch_splitting=True,
        num_batch_threads=2,
    )
    scheduler = BatchScheduler(options, model, "m")
    x = np.arange(5, dtype=np.float32).reshape(5, 1)
    assert np.array_equal(scheduler.run({"x": x})["y"], x * 2)
    scheduler.close()
    assert max(model.sizes) <= 2
