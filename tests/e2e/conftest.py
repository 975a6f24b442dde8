"""One corpus and one pipeline output shared by the end-to-end tests (Beam start-up is slow)."""

from __future__ import annotations

import os
import shutil

import pytest

from pipeline import configs
from pipeline.local_runner import run_pipeline
from tests import corpus_factory
from tests.corpus_factory import GOOD, INGEST

FIRST_RUN_SUMMARY = "first_run_summary.json"  # beside the output: what the first run wrote


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """(corpus dir, output dir, summary) of a run through Transform on a corpus with bad rows."""
    root = tmp_path_factory.mktemp("data_path")
    corpus = str(root / "corpus")
    corpus_factory.build_corpus_with_broken_rows(corpus, sentences=GOOD)
    output = str(root / "output")
    summary = run_pipeline(corpus, output, until="transform", ingest=INGEST)
    # Later tests run more stages in the same output and rewrite its run_summary.json.
    shutil.copy(os.path.join(output, configs.RUN_SUMMARY_FILE), root / FIRST_RUN_SUMMARY)
    return corpus, output, summary
