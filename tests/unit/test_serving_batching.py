"""Server-side batching: rows from concurrent requests share runs, and each gets its own back."""

import threading
import time

import numpy as np
import pytest

from serving.batching import BatchScheduler
from serving.config import BatchingOptions
from serving.errors import ServingError

# A batch whose queue never times out within a test: it runs when full, or on close().
NEVER_US = 3_600_000_000


class Model:
    """Doubles `x`; remembers the batch sizes it ran; can be held to let a queue build up."""

    def __init__(self):
        self.sizes: list[int] = []
        self.entered = threading.Event()  # a batch reached the model
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, inputs):
        self.entered.set()
        assert self.gate.wait(10), "the test never released the model"
        self.sizes.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2, "n": np.full(len(inputs["x"]), inputs["x"].shape[-1])}


def _wait_for(condition, what: str) -> None:
    """Waits on a state of the scheduler, not on time; the deadline only stops a hang."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def _start_all(scheduler: BatchScheduler, requests: list[np.ndarray]):
    """Sends each request from its own thread; returns (results, join)."""
    results: list = [None] * len(requests)

    def call(i):
        try:
            results[i] = scheduler.run({"x": requests[i]})
        except ServingError as error:
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()

    def join() -> list:
        for thread in threads:
            thread.join(10)
        assert not any(thread.is_alive() for thread in threads), "a request never returned"
        return results

    return results, join


def test_concurrent_requests_share_batches_and_get_their_own_rows():
    model = Model()
    options = BatchingOptions(max_batch_size=4, batch_timeout_micros=NEVER_US, num_batch_threads=1)
    scheduler = BatchScheduler(options, model, "m")
    requests = [np.array([[i, i]], np.float32) for i in range(8)]
    _, join = _start_all(scheduler, requests)
    results = join()  # only full batches run: the timeout never comes
    scheduler.close()
    for request, result in zip(requests, results, strict=True):
        assert np.array_equal(result["y"], request * 2)
    assert model.sizes == [4, 4]


def test_a_partial_batch_runs_once_its_oldest_request_has_waited_the_timeout():
    model = Model()
    options = BatchingOptions(max_batch_size=4, batch_timeout_micros=1_000, num_batch_threads=1)
    scheduler = BatchScheduler(options, model, "m")
    _, join = _start_all(scheduler, [np.ones((1, 2), np.float32)])
    results = join()  # one row of four: nothing but the timeout can start it
    scheduler.close()
    assert np.array_equal(results[0]["y"], np.full((1, 2), 2.0, np.float32))
    assert model.sizes == [1]


def test_padding_to_allowed_sizes_and_variable_lengths():
    model = Model()
    options = BatchingOptions(
        max_batch_size=4,
        batch_timeout_micros=NEVER_US,
        num_batch_threads=1,
        allowed_batch_sizes=(2, 4),
        pad_variable_length_inputs=True,
    )
    scheduler = BatchScheduler(options, model, "m")
    requests = [
        np.ones((1, 2), np.float32),
        np.ones((1, 3), np.float32),
        np.ones((1, 1), np.float32),
    ]
    _, join = _start_all(scheduler, requests)
    _wait_for(lambda: scheduler.queued_tasks == 3, "three requests in one batch")
    scheduler.close()  # runs the queued batch of three
    results = join()
    assert model.sizes == [4]  # three rows padded to the next allowed size
    for request, result in zip(requests, results, strict=True):
        assert result["y"].shape == (1, 3)  # padded to the widest request
        assert np.array_equal(result["y"][:, : request.shape[1]], request * 2)
        assert result["n"].tolist() == [3]


def test_different_shapes_without_padding_fail_every_request_in_the_batch():
    model = Model()
    options = BatchingOptions(max_batch_size=2, batch_timeout_micros=NEVER_US, num_batch_threads=1)
    scheduler = BatchScheduler(options, model, "m")
    _, join = _start_all(scheduler, [np.ones((1, 2), np.float32), np.ones((1, 3), np.float32)])
    results = join()  # the batch runs when full, with both requests in it
    scheduler.close()
    assert all(isinstance(r, ServingError) for r in results), results
    assert all("padding is turned off" in r.message for r in results)
    assert model.sizes == []


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
    row = np.ones((1, 1), np.float32)
    _, join_running = _start_all(full, [row])
    assert model.entered.wait(10)  # the first batch runs (held in the model)
    _, join_queued = _start_all(full, [row])
    _wait_for(lambda: full.queued_tasks == 1, "the second batch to queue")
    with pytest.raises(ServingError) as refused:  # a third batch: the queue holds one
        full.run({"x": row})
    assert refused.value.code_name == "UNAVAILABLE"
    assert refused.value.message == (
        "The batch scheduling queue to which this task was submitted is full"
    )
    model.gate.set()
    assert [r["y"].tolist() for r in join_running() + join_queued()] == [[[2.0]], [[2.0]]]
    full.close()


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
    assert sorted(model.sizes) == [1, 2, 2]
