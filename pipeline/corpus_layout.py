"""Which metadata pattern a corpus directory needs: one LJSpeech corpus, or a growing one.

A corpus that grows on a schedule is a directory of LJSpeech-layout batches, one per span:

    corpus/span-0/metadata.csv   corpus/span-0/wavs/<id>.wav
    corpus/span-1/metadata.csv   corpus/span-1/wavs/<id>.wav   <- recordings added later

AudioExampleGen ingests only the newest span (TFX's {SPAN} resolution), and the Transform
and Trainer read every span. A plain LJSpeech directory is the single span 0.

Local paths are checked with the standard library, so the CLI refuses a bad corpus before
TFX is imported; a URI (gs://, s3://, hdfs://) goes through TFX's fileio, with tensorflow-io's
file systems registered first (models/filesystems.py).
"""

from __future__ import annotations

import glob
import os
import re

from models.filesystems import ensure_filesystems

FLAT_PATTERN = "metadata.csv"
SPAN_PATTERN = "span-{SPAN}/metadata.csv"
LAYOUTS = {"flat": FLAT_PATTERN, "spans": SPAN_PATTERN}  # for orchestrators that compile ahead
AUDIO_DIR = "wavs"  # components/audio_example_gen/corpus.py's AUDIO_DIR, without its imports
_SPAN_DIR = re.compile(r"^span-(\d+)$")


class UnusableCorpusError(ValueError):
    """The corpus directory cannot feed a pipeline at all (not a per-row problem)."""


class _LocalFs:
    """The three fileio calls used here, for a local path."""

    glob = staticmethod(glob.glob)
    exists = staticmethod(os.path.exists)
    isdir = staticmethod(os.path.isdir)


def _fs(path: str):
    if "://" not in path:
        return _LocalFs
    ensure_filesystems(path)  # s3://, hdfs://: tensorflow-io's plugins
    from tfx.dsl.io import fileio  # gs://, s3://, hdfs://: TFX's filesystem layer

    return fileio


def span_numbers(data_root: str) -> list[int]:
    """The spans under `data_root` that have a metadata file, in ascending order."""
    spans = []
    for path in _fs(data_root).glob(os.path.join(data_root, "span-*", FLAT_PATTERN)):
        match = _SPAN_DIR.match(os.path.basename(os.path.dirname(path)))
        if match:
            spans.append(int(match.group(1)))
    return sorted(spans)


def metadata_pattern(data_root: str) -> str:
    """SPAN_PATTERN for a directory of span-N batches, FLAT_PATTERN for one LJSpeech corpus.

    Fails before any Beam start-up when the directory is neither, or both at once.
    """
    fs = _fs(data_root)
    if not fs.isdir(data_root):
        raise UnusableCorpusError(f"corpus directory {data_root!r} does not exist")
    flat = fs.exists(os.path.join(data_root, FLAT_PATTERN))
    spans = span_numbers(data_root)
    if flat and spans:
        raise UnusableCorpusError(
            f"corpus {data_root!r} has both metadata.csv and span directories "
            f"(span-{spans[0]}/...): move the top-level batch into span-0/ so that every "
            "batch is a span"
        )
    if spans:
        return SPAN_PATTERN
    if flat:
        return FLAT_PATTERN
    raise UnusableCorpusError(
        f"unusable corpus {data_root!r}: no metadata.csv (LJSpeech layout: metadata.csv "
        "with 'id|text|normalized_text' lines and wavs/<id>.wav; a growing corpus keeps "
        "one such batch per span-N/ directory)"
    )


def check_corpus(data_root: str, span: int | None = None) -> str:
    """metadata_pattern(), plus: the batch to ingest (the newest span, or `span`) exists and
    has its wavs/ directory. Returns the pattern; raises UnusableCorpusError."""
    pattern = metadata_pattern(data_root)
    if pattern == SPAN_PATTERN:
        spans = span_numbers(data_root)
        if span is not None and span not in spans:
            raise UnusableCorpusError(
                f"--ingest-span {span}: corpus {data_root!r} has no span-{span}/metadata.csv "
                f"(spans: {', '.join(map(str, spans))})"
            )
        batch = os.path.join(data_root, f"span-{spans[-1] if span is None else span}")
    else:
        if span not in (None, 0):
            raise UnusableCorpusError(
                f"--ingest-span {span}: corpus {data_root!r} is one batch (span 0), not span-N/"
            )
        batch = data_root
    audio_dir = os.path.join(batch, AUDIO_DIR)
    if not _fs(audio_dir).isdir(audio_dir):
        raise UnusableCorpusError(
            f"unusable corpus {data_root!r}: no {AUDIO_DIR}/ directory beside "
            f"{os.path.join(batch, FLAT_PATTERN)} (the audio of row <id> is {AUDIO_DIR}/<id>.wav)"
        )
    return pattern
