"""Which metadata pattern a corpus directory needs: one LJSpeech corpus, or a growing one.

A corpus that grows on a schedule is a directory of LJSpeech-layout batches, one per span:

    corpus/span-0/metadata.csv   corpus/span-0/wavs/<id>.wav
    corpus/span-1/metadata.csv   corpus/span-1/wavs/<id>.wav   <- recordings added later

AudioExampleGen ingests only the newest span (TFX's {SPAN} resolution), and the Transform
and Trainer read every span. A plain LJSpeech directory is the single span 0.
"""

from __future__ import annotations

import os
import re

from tfx.dsl.io import fileio  # local paths and gs://, s3://, hdfs:// alike

FLAT_PATTERN = "metadata.csv"
SPAN_PATTERN = "span-{SPAN}/metadata.csv"
LAYOUTS = {"flat": FLAT_PATTERN, "spans": SPAN_PATTERN}  # for orchestrators that compile ahead
_SPAN_DIR = re.compile(r"^span-(\d+)$")


class UnusableCorpusError(ValueError):
    """The corpus directory cannot feed a pipeline at all (not a per-row problem)."""


def span_numbers(data_root: str) -> list[int]:
    """The spans under `data_root` that have a metadata file, in ascending order."""
    spans = []
    for path in fileio.glob(os.path.join(data_root, "span-*", FLAT_PATTERN)):
        match = _SPAN_DIR.match(os.path.basename(os.path.dirname(path)))
        if match:
            spans.append(int(match.group(1)))
    return sorted(spans)


def metadata_pattern(data_root: str) -> str:
    """SPAN_PATTERN for a directory of span-N batches, FLAT_PATTERN for one LJSpeech corpus.

    Fails before any Beam start-up when the directory is neither, or both at once.
    """
    if not fileio.isdir(data_root):
        raise UnusableCorpusError(f"corpus directory {data_root!r} does not exist")
    flat = fileio.exists(os.path.join(data_root, FLAT_PATTERN))
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
