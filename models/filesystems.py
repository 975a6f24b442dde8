"""Paths that may be URIs (a corpus, a push directory, a served model base on s3://, hdfs://,
gs://): tensorflow-io's file systems registered on first use, and the few file calls that reach
a local path with the standard library and a URI through tf.io.gfile.

TensorFlow has local files, gs:// and ram:// built in; s3://, hdfs://, viewfs://, har://, az://,
oss:// and http(s):// exist only once `import tensorflow_io` has registered its plugins, in each
process (Beam workers too). Code that hands such a URI to tf.io.gfile or TFX's fileio calls
ensure_filesystems(uri) first. Standard library only at import: TensorFlow loads for a URI.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from typing import IO, NoReturn

# The schemes tensorflow-io 0.37.1's plugins add (tf.io.gfile.get_registered_schemes()).
TENSORFLOW_IO_SCHEMES = frozenset({"s3", "hdfs", "viewfs", "har", "az", "oss", "http", "https"})

_lock = threading.Lock()
_registered = False


def scheme(path: str) -> str:
    """`s3` for s3://bucket/key; "" for a local path."""
    return path.split("://", 1)[0].lower() if "://" in path else ""


def is_uri(path: str) -> bool:
    return "://" in path


def absolute(path: str) -> str:
    """Local paths made absolute; URIs kept as they are."""
    return path if is_uri(path) else os.path.abspath(path)


def ensure_filesystems(path: str) -> None:
    """Registers tensorflow-io's file systems in this process if `path`'s scheme needs them
    (once; thread-safe). Nothing happens, and TensorFlow does not load, for a local path or a
    scheme TensorFlow has built in. Raises ValueError when the scheme stays unknown."""
    global _registered
    wanted = scheme(path)
    if _registered or wanted not in TENSORFLOW_IO_SCHEMES:
        return
    with _lock:
        if _registered:
            return
        import tensorflow as tf

        if wanted not in tf.io.gfile.get_registered_schemes():
            import tensorflow_io  # noqa: F401 - its import registers the file system plugins

        if wanted not in tf.io.gfile.get_registered_schemes():
            raise ValueError(
                f"{path}: no file system for {wanted}:// (tensorflow-io did not register one; "
                "see the warnings of `import tensorflow_io`)"
            )
        _registered = True


def registered() -> bool:
    """Whether this process registered tensorflow-io's file systems (ensure_filesystems)."""
    return _registered


def exit_process(code: int) -> NoReturn:
    """sys.exit(code), except after tensorflow-io's file systems were used: then the exit
    Python would make (non-daemon threads joined, atexit handlers run, standard streams
    flushed) followed by os._exit(code), which skips C++ static destructors.

    tensorflow-io 0.37.1's S3 plugin destroys its AWS SDK client after the SDK's log system
    during those destructors and aborts the process: "pure virtual method called", exit
    status 134, after everything has succeeded (tensorflow/io issue 2039; the fix, PR 2120,
    is in no release). Only a program's entry point calls this, never library code.
    """
    if not _registered:
        sys.exit(code)
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon and thread.is_alive():
            thread.join()
    atexit._run_exitfuncs()  # logging's flush and close among them
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing more to write
            pass
    os._exit(code)


def _gfile(path: str):
    ensure_filesystems(path)
    import tensorflow as tf

    return tf.io.gfile


def exists(path: str) -> bool:
    return _gfile(path).exists(path) if is_uri(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    return _gfile(path).isdir(path) if is_uri(path) else os.path.isdir(path)


def isfile(path: str) -> bool:
    if not is_uri(path):
        return os.path.isfile(path)
    gfile = _gfile(path)
    return gfile.exists(path) and not gfile.isdir(path)


def listdir(path: str) -> list[str]:
    """Entry names (no trailing slash); FileNotFoundError when `path` is not a directory."""
    if not is_uri(path):
        return os.listdir(path)
    gfile = _gfile(path)
    if not gfile.isdir(path):
        raise FileNotFoundError(f"no such directory: {path!r}")
    return [name.rstrip("/") for name in gfile.listdir(path)]


def open_file(path: str, mode: str = "r", encoding: str = "utf-8") -> IO:
    """The built-in open for a local path (text in `encoding`), a GFile for a URI."""
    if not is_uri(path):
        return open(path, mode, encoding=None if "b" in mode else encoding)  # noqa: SIM115
    return _gfile(path).GFile(path, mode)


def write_text(path: str, text: str) -> None:
    """`text` into the file at `path` (UTF-8), replacing it; its directory must exist."""
    with open_file(path, "w") as handle:
        handle.write(text)


def walk_files(path: str) -> Iterator[tuple[str, int, int]]:
    """(path relative to `path`, size, mtime in ns) of every file under `path`, sorted by
    directory then name; FileNotFoundError for a file removed while it was listed."""
    if not is_uri(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                stat = os.stat(full)
                yield os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns
        return
    gfile = _gfile(path)
    import tensorflow as tf

    for root, dirs, files in gfile.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                stat = gfile.stat(full)
            except tf.errors.NotFoundError:
                raise FileNotFoundError(full) from None
            yield full[len(path) :].lstrip("/"), stat.length, stat.mtime_nsec
