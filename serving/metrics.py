"""TF Serving's request metrics and its Prometheus text page (util/prometheus_exporter.cc).

Names follow TF Serving: /tensorflow/serving/request_count{model_name,status} and the
request_latency / runtime_latency histograms in microseconds, exported as
:tensorflow:serving:... . The local server adds /tts_serving/request_count with the
version that answered, and /tts_serving/batch_size (rows per batch, with batching on).
Requests for model names the server does not serve count under one `model_name` label,
UNKNOWN_MODEL, so that callers cannot grow the page with made-up names.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Collection

UNKNOWN_MODEL = "(unknown)"  # the model_name label of requests for a name that is not served


def exponential_buckets(scale: float, growth: float, count: int) -> list[float]:
    """monitoring::Buckets::Exponential: scale * growth^i, plus DBL_MAX as the last limit."""
    limits, bound = [], scale
    for _ in range(count):
        limits.append(bound)
        bound *= growth
    return limits


LATENCY_BUCKETS = exponential_buckets(10, 1.8, 33)  # TF Serving's request/runtime latency


def _number(value: float) -> str:
    """absl::StrCat(double): six significant digits, as printf's %g."""
    return f"{value:g}"


def prometheus_name(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", ":", name)
    return "_" + name if name[:1].isdigit() else name


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> list[str]:
    return [
        f'{re.sub(r"[^a-zA-Z0-9]", "_", n)}="{_label_value(v)}"'
        for n, v in zip(names, values, strict=True)
    ]


class Counter:
    def __init__(self, name: str, labels: tuple[str, ...]):
        self.name, self.label_names = name, labels
        self._cells: dict[tuple[str, ...], int] = {}

    def increment(self, *values: str) -> None:
        self._cells[values] = self._cells.get(values, 0) + 1

    def value(self, *values: str) -> int:
        return self._cells.get(values, 0)

    def render(self) -> list[str]:
        name = prometheus_name(self.name)
        lines = [f"# TYPE {name} counter"]
        for values, count in sorted(self._cells.items()):
            lines.append(f"{name}{{{','.join(_labels(self.label_names, values))}}} {count}")
        return lines


class Histogram:
    def __init__(self, name: str, labels: tuple[str, ...], limits: list[float]):
        self.name, self.label_names, self.limits = name, labels, limits
        self._cells: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *values: str) -> None:
        counts, total = self._cells.setdefault(values, ([0] * (len(self.limits) + 1), [0.0]))
        counts[bisect_right(self.limits, value)] += 1
        total[0] += value

    def count(self, *values: str) -> int:
        cell = self._cells.get(values)
        return sum(cell[0]) if cell else 0

    def render(self) -> list[str]:
        name = prometheus_name(self.name)
        lines = [f"# TYPE {name} histogram"]
        for values, (counts, total) in sorted(self._cells.items()):
            labels = _labels(self.label_names, values)
            prefix = f"{name}_bucket{{{','.join(labels)}{',' if labels else ''}"
            cumulative = 0
            for index, count in enumerate(counts):
                cumulative += count
                limit = _number(self.limits[index]) if index < len(self.limits) else "+Inf"
                lines.append(f'{prefix}le="{limit}"}} {cumulative}')
            lines.append(f"{name}_sum{{{','.join(labels)}}} {_number(total[0])}")
            lines.append(f"{name}_count{{{','.join(labels)}}} {cumulative}")
        return lines


class ServingMetrics:
    """The metrics both front ends record; `render` is the Prometheus page.

    `known_models()` lists the served model names; a request for any other name (or none)
    is counted as UNKNOWN_MODEL, so the number of label series stays bounded.
    """

    def __init__(self, known_models: Callable[[], Collection[str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._known_models = known_models
        self.request_count = Counter("/tensorflow/serving/request_count", ("model_name", "status"))
        self.request_latency = Histogram(
            "/tensorflow/serving/request_latency",
            ("model_name", "API", "entrypoint"),
            LATENCY_BUCKETS,
        )
        self.runtime_latency = Histogram(
            "/tensorflow/serving/runtime_latency", ("model_name", "API", "runtime"), LATENCY_BUCKETS
        )
        self.batch_size = Histogram(
            "/tts_serving/batch_size", ("model_name",), exponential_buckets(1, 2, 11)
        )
        self.by_version = Counter(
            "/tts_serving/request_count", ("model_name", "version", "API", "entrypoint", "status")
        )

    def record_request(
        self,
        model_name: str,
        api: str,
        entrypoint: str,
        status: str,
        latency_us: float,
        version: str = "",
    ) -> None:
        """Counts every request; latency only for successful ones (as TF Serving does)."""
        model_name = self.model_label(model_name)
        if model_name == UNKNOWN_MODEL:
            version = ""
        with self._lock:
            self.request_count.increment(model_name, status)
            self.by_version.increment(model_name, version, api, entrypoint, status)
            if status == "OK":
                self.request_latency.observe(latency_us, model_name, api, entrypoint)

    def model_label(self, model_name: str) -> str:
        """The model_name label: the name if it is served, else UNKNOWN_MODEL."""
        if self._known_models is None:
            return model_name
        return model_name if model_name in self._known_models() else UNKNOWN_MODEL

    def record_runtime(self, model_name: str, api: str, latency_us: float) -> None:
        with self._lock:
            self.runtime_latency.observe(latency_us, model_name, api, "TF1")

    def record_batch(self, model_name: str, size: int) -> None:
        with self._lock:
            self.batch_size.observe(size, model_name)

    def render(self) -> str:
        with self._lock:
            lines = []
            for metric in (
                self.request_count,
                self.request_latency,
                self.runtime_latency,
                self.by_version,
                self.batch_size,
            ):
                lines.extend(metric.render())
        return "\n".join(lines) + "\n"
