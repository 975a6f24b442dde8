"""Version directories under a model's base path: which exist, which are complete, which to serve.

A version is a child directory whose name is a number (TF Serving's rule). It counts as
complete when it holds saved_model.pb and nothing under it (names, sizes, mtimes) changed
between two scans a poll cycle apart, so a version still being copied is never loaded.
A base path may be a URI (s3://, gs://, hdfs://): it is then listed through tf.io.gfile.
"""

from __future__ import annotations

import os
import re

from tensorflow_serving.config import file_system_storage_path_source_pb2

from models import filesystems as fs

VersionPolicy = (
    file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy
)  # noqa: E501

_VERSION_DIR = re.compile(r"^[0-9]+$")
Fingerprint = tuple[tuple[str, int, int], ...]


def version_dirs(base_path: str) -> dict[int, str]:
    """{version: path} for numbered child directories; raises FileNotFoundError if no base."""
    found: dict[int, str] = {}
    if fs.is_uri(base_path):
        for name in sorted(fs.listdir(base_path)):
            path = os.path.join(base_path, name)
            if _VERSION_DIR.match(name) and fs.isdir(path):
                found.setdefault(int(name), path)
        return found
    for entry in sorted(os.scandir(base_path), key=lambda e: e.name):
        if _VERSION_DIR.match(entry.name) and entry.is_dir():
            found.setdefault(int(entry.name), entry.path)
    return found


def fingerprint(path: str) -> Fingerprint | None:
    """Every file's (relative path, size, mtime); None while saved_model.pb is missing."""
    if not fs.isfile(os.path.join(path, "saved_model.pb")):
        return None
    try:
        return tuple(fs.walk_files(path))
    except FileNotFoundError:  # removed while we looked: not stable
        return None


class CompletenessTracker:
    """Remembers each version dir's fingerprint between scans; stable + saved_model.pb = done."""

    def __init__(self) -> None:
        self._previous: dict[tuple[str, int], Fingerprint | None] = {}

    def scan(self, model_name: str, dirs: dict[int, str]) -> dict[int, tuple[str, Fingerprint]]:
        """{version: (path, fingerprint)} of the complete versions among `dirs`."""
        complete: dict[int, tuple[str, Fingerprint]] = {}
        seen = set()
        for version, path in dirs.items():
            key = (model_name, version)
            seen.add(key)
            current = fingerprint(path)
            if current is not None and self._previous.get(key) == current:
                complete[version] = (path, current)
            self._previous[key] = current
        for key in [k for k in self._previous if k[0] == model_name and k not in seen]:
            del self._previous[key]
        return complete

    def forget(self, model_name: str) -> None:
        for key in [k for k in self._previous if k[0] == model_name]:
            del self._previous[key]


def aspired_versions(policy: VersionPolicy, versions) -> set[int]:
    """The versions a policy serves among those available: latest N (default 1), all, specific."""
    versions = sorted(versions, reverse=True)
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(versions)
    if choice == "specific":
        return set(versions) & set(policy.specific.versions)
    count = max(policy.latest.num_versions, 1) if choice == "latest" else 1
    return set(versions[:count])
