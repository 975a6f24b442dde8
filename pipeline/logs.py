"""A run's logs: everything (TF/CUDA banners, absl, TFX, Beam) to OUTPUT/logs/<run id>.log;
the terminal gets one line per component as it starts and ends, and the warnings that matter.

Standard library only: `quiet_environment()` must run before TensorFlow is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TextIO

LOGS_DIR = "logs"

# Set before TensorFlow loads (setdefault: an operator's own setting wins).
_QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # C++ INFO and WARNING (CUDA stubs, cpu_feature_guard)
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
    "ABSL_MIN_LOG_LEVEL": "2",
}
# Keras says this at the end of every fit() on a finite dataset: it reads as a failure.
_NOISE = (r"Your input ran out of data", r"Your dataset (iterator )?ran out of data")

# Code of this project: a WARNING or worse logged from it reaches the terminal.
_PROJECT_DIRS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), name) + os.sep
    for name in ("pipeline", "components", "models", "serving")
)
_DETAIL_FORMAT = "%(asctime)s %(levelname)s %(name)s %(filename)s:%(lineno)d] %(message)s"
_COMPONENT = re.compile(r"^Component (\S+) is (running|finished)\.$")
# A long step's progress from this project's code ("Trainer: step 501/1500, 2.56 steps/s,
# ETA 391 s; losses..."): shown up to the ";" at most once a minute per component.
_PROGRESS = re.compile(r"^(\w+): ([^;]*\bETA\b[^;]*)")
PROGRESS_EVERY_S = 60.0


def log_path(output_dir: str, run_id: str) -> str:
    return os.path.join(output_dir, LOGS_DIR, f"{run_id}.log")


def quiet_environment() -> None:
    """TF, gRPC and absl native logging down to errors, and Keras's end-of-data warning off;
    call before TensorFlow is imported."""
    for name, value in _QUIET_ENV.items():
        os.environ.setdefault(name, value)
    silence_keras_noise()


def silence_keras_noise() -> None:
    for pattern in _NOISE:
        warnings.filterwarnings("ignore", message=pattern)


class _Progress(logging.Handler):
    """TFX's `Component X is running/finished.` as one line each (in TFX's words, which
    scripts watch for), with the time and the elapsed time, and WARNING or worse from this
    project's code."""

    def __init__(self, stream: TextIO):
        super().__init__(logging.INFO)
        self.stream = stream
        self.started: dict[str, float] = {}
        self.last_progress: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self._line(record)
            if line:
                self.stream.write(line + "\n")
                self.stream.flush()
        except Exception:  # noqa: BLE001 - the terminal must never break a run
            self.handleError(record)

    def _line(self, record: logging.LogRecord) -> str | None:
        if record.levelno >= logging.WARNING:
            if record.pathname.startswith(_PROJECT_DIRS):
                return f"{record.levelname.lower()}: {record.getMessage()}"
            return None
        progress = _PROGRESS.match(record.getMessage())
        if progress and record.pathname.startswith(_PROJECT_DIRS):
            return self._progress_line(*progress.groups())
        match = _COMPONENT.match(record.getMessage())
        if not match:
            return None
        name, state = match.groups()
        if "resolver" in name.lower():  # a Resolver node: a query, not a stage
            return None
        now = time.monotonic()
        if state == "running":
            self.started[name] = now
            return f"{time.strftime('%H:%M:%S')} Component {name} is running."
        elapsed = now - self.started.pop(name, now)
        return f"{time.strftime('%H:%M:%S')} Component {name} is finished in {elapsed:.1f} s."

    def _progress_line(self, name: str, progress: str) -> str | None:
        now = time.monotonic()
        if now - self.last_progress.get(name, -PROGRESS_EVERY_S) < PROGRESS_EVERY_S:
            return None
        self.last_progress[name] = now
        return f"{time.strftime('%H:%M:%S')}   {name}: {progress}"


def _tee(read_fd: int, targets: list[int]) -> None:
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        for fd in targets:
            with contextlib.suppress(OSError):
                os.write(fd, chunk)
    os.close(read_fd)


@contextlib.contextmanager
def run_log(path: str, verbose: bool = False) -> Iterator[TextIO]:
    """Sends file descriptors 1 and 2 (Python, C++ and subprocess output alike) to `path` for
    the duration; with `verbose` they go on to the terminal too. Yields a stream on the
    terminal for the CLI's own lines. absl/Python logging is set to INFO, so the file has
    the details."""
    from absl import logging as absl_logging

    os.makedirs(os.path.dirname(path), exist_ok=True)
    log_file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed below
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding="utf-8")
    tee = None
    if verbose:
        read_fd, write_fd = os.pipe()
        tee = threading.Thread(
            target=_tee, args=(read_fd, [log_file.fileno(), saved[2]]), daemon=True
        )
        tee.start()
        target = write_fd
    else:
        target = log_file.fileno()
    for fd in (1, 2):
        os.dup2(target, fd)
    if verbose:
        os.close(target)
    root = logging.getLogger()
    # The details, on descriptor 2 (the file); when the root logger has no handler yet, the
    # first logging.info() would add one (basicConfig), but our progress handler stops that.
    details = None
    if not root.handlers:
        details = logging.StreamHandler(sys.stderr)
        details.setFormatter(logging.Formatter(_DETAIL_FORMAT))
        root.addHandler(details)
    progress = _Progress(terminal)
    absl_logging.set_verbosity(absl_logging.INFO)
    previous_level = root.level
    root.setLevel(logging.INFO)
    if not verbose:
        root.addHandler(progress)
    try:
        yield terminal
    finally:
        root.removeHandler(progress)
        if details is not None:
            root.removeHandler(details)
        root.setLevel(previous_level)
        sys.stdout.flush()
        sys.stderr.flush()
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
        if tee is not None:
            tee.join(timeout=5)
        terminal.close()
        log_file.close()


@contextlib.contextmanager
def muted_stderr() -> Iterator[None]:
    """Descriptor 2 into a temporary file for the block (TensorFlow's import banners); what
    it caught is written back only if the block raises."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            caught.seek(0)
            os.write(2, caught.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
