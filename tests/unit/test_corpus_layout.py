"""A corpus is one LJSpeech directory or span-N/ batches of them; anything else fails early."""

from __future__ import annotations

import json

import pytest

from pipeline import corpus_layout
from pipeline.local_runner import CorpusMismatchError, claim_output_for_corpus


def _batch(directory):
    directory.mkdir(parents=True)
    (directory / "metadata.csv").write_text("a|hello\n")


def test_flat_corpus_is_one_span(tmp_path):
    _batch(tmp_path / "corpus")
    assert corpus_layout.metadata_pattern(str(tmp_path / "corpus")) == "metadata.csv"


def test_span_directories_are_found_in_numeric_order(tmp_path):
    for span in (10, 2, 0):
        _batch(tmp_path / f"span-{span}")
    (tmp_path / "span-x").mkdir()  # not a span
    (tmp_path / "span-7").mkdir()  # no metadata yet: not a span
    assert corpus_layout.span_numbers(str(tmp_path)) == [0, 2, 10]
    assert corpus_layout.metadata_pattern(str(tmp_path)) == "span-{SPAN}/metadata.csv"


def test_both_layouts_at_once_are_refused(tmp_path):
    _batch(tmp_path / "span-1")
    (tmp_path / "metadata.csv").write_text("a|hello\n")
    with pytest.raises(corpus_layout.UnusableCorpusError, match="move the top-level batch"):
        corpus_layout.metadata_pattern(str(tmp_path))


def test_missing_or_empty_corpus_is_refused(tmp_path):
    with pytest.raises(corpus_layout.UnusableCorpusError, match="does not exist"):
        corpus_layout.metadata_pattern(str(tmp_path / "nowhere"))
    with pytest.raises(corpus_layout.UnusableCorpusError, match="no metadata.csv"):
        corpus_layout.metadata_pattern(str(tmp_path))


def test_an_output_directory_keeps_to_its_first_corpus(tmp_path):
    claim_output_for_corpus(str(tmp_path), "/data/a")
    claim_output_for_corpus(str(tmp_path), "/data/a")  # the same corpus again: fine
    with pytest.raises(CorpusMismatchError, match="holds the runs of corpus '/data/a'"):
        claim_output_for_corpus(str(tmp_path), "/data/b")
    assert json.loads((tmp_path / "corpus.json").read_text()) == {"data_root": "/data/a"}


def test_the_batch_to_ingest_needs_its_wavs_directory(tmp_path):
    _batch(tmp_path / "flat")
    with pytest.raises(corpus_layout.UnusableCorpusError, match="no wavs/ directory"):
        corpus_layout.check_corpus(str(tmp_path / "flat"))
    (tmp_path / "flat" / "wavs").mkdir()
    assert corpus_layout.check_corpus(str(tmp_path / "flat")) == "metadata.csv"


def test_the_newest_span_or_the_one_asked_for_is_checked(tmp_path):
    for span in (0, 1):
        _batch(tmp_path / f"span-{span}")
    (tmp_path / "span-0" / "wavs").mkdir()
    with pytest.raises(corpus_layout.UnusableCorpusError, match="span-1/metadata.csv"):
        corpus_layout.check_corpus(str(tmp_path))  # the newest, span 1, has no wavs/
    assert corpus_layout.check_corpus(str(tmp_path), span=0) == "span-{SPAN}/metadata.csv"
    with pytest.raises(corpus_layout.UnusableCorpusError, match="no span-5/metadata.csv"):
        corpus_layout.check_corpus(str(tmp_path), span=5)
