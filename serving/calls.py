"""A request's caller: gone once it cancels or its deadline passes; its queued work is dropped."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

import grpc

from serving.errors import ServingError

_NO_DEADLINE_S = 1e9  # grpc reports a call without a deadline as a huge time_remaining


class Call:
    """The caller of one request: `is_active` until it cancels or its deadline passes.

    Front ends make one per request (`from_grpc`, `with_timeout`); work waits through `wait`
    and checks `check()` before it queues or runs, so work for a caller that is gone is
    never started. `cancel` runs the registered callbacks once (they wake the waiters).
    """

    def __init__(self, deadline: float | None = None):
        self.deadline = deadline  # time.monotonic() seconds, None: none
        self._lock = threading.Lock()
        self._cancelled = False
        self._callbacks: list[Callable[[], None]] = []

    @classmethod
    def with_timeout(cls, timeout_s: float | None) -> Call:
        return cls(None if timeout_s is None else time.monotonic() + timeout_s)

    @classmethod
    def from_grpc(cls, context: grpc.ServicerContext) -> Call:
        """Follows the RPC: its deadline, and its termination (cancel, deadline, shutdown)."""
        remaining = context.time_remaining()
        deadline = None
        if remaining is not None and math.isfinite(remaining) and remaining < _NO_DEADLINE_S:
            deadline = time.monotonic() + remaining
        call = cls(deadline)
        if not context.add_callback(call.cancel) or not context.is_active():
            call.cancel()  # the RPC already ended: add_callback returns False then
        return call

    def cancel(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def time_remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def is_active(self) -> bool:
        if self._cancelled:
            return False
        remaining = self.time_remaining()
        return remaining is None or remaining > 0

    def error(self) -> ServingError:
        if self._cancelled:
            return ServingError(grpc.StatusCode.CANCELLED, "the caller cancelled the request")
        return ServingError(
            grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded before the request ran"
        )

    def check(self) -> None:
        """Raises CANCELLED / DEADLINE_EXCEEDED when the caller is gone."""
        if not self.is_active():
            raise self.error()

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Runs `callback` on cancel (now, if already cancelled); returns its remover."""
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None

    def wait(self, condition: threading.Condition, ready: Callable[[], bool]) -> bool:
        """Waits on `condition` (held by the caller) until `ready()`; False if the caller left.

        Cancellation notifies the condition; the deadline bounds each wait.
        """

        def wake() -> None:
            with condition:
                condition.notify_all()

        remove = self.add_callback(wake)
        try:
            while not ready():
                if not self.is_active():
                    return False
                remaining = self.time_remaining()
                condition.wait(remaining if remaining is not None else None)
            return True
        finally:
            remove()


NO_CALLER = Call()  # in-process work (warmup, tests): never cancelled, no deadline


class RunSlots:
    """At most `size` graph runs at a time; callers queue here and leave the queue when gone.

    Without batching, every request thread would otherwise start its run at once, so a
    cancelled request could never be dropped before its graph ran.
    """

    def __init__(self, size: int):
        self.size = max(1, size)
        self._busy = 0
        self._waiting = 0
        self._condition = threading.Condition()

    @property
    def waiting(self) -> int:
        """Callers in the queue now."""
        return self._waiting

    @contextlib.contextmanager
    def hold(self, call: Call) -> Iterator[None]:
        with self._condition:
            self._waiting += 1
            try:
                if not call.wait(self._condition, lambda: self._busy < self.size):
                    raise call.error()
            finally:
                self._waiting -= 1
            self._busy += 1
        try:
            call.check()  # the caller may have left while it was woken
            yield
        finally:
            with self._condition:
                self._busy -= 1
                self._condition.notify_all()
