"""Paths that may be URIs: the corpus and the push directory can live on gs://, s3://, hdfs://
(models/filesystems.py registers tensorflow-io's file systems for the schemes that need it)."""

from __future__ import annotations

from models.filesystems import absolute, ensure_filesystems

__all__ = ["absolute", "ensure_filesystems"]
