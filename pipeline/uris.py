"""Paths that may be URIs: the corpus and the push directory can live on gs://, s3://, hdfs://."""

from __future__ import annotations

import os


def absolute(path: str) -> str:
    """Local paths made absolute; URIs kept as they are."""
    return path if "://" in path else os.path.abspath(path)
