"""AudioExampleGen on a corpus with hostile rows: a dangling symbolic link and a two-hour
recording are quarantined (not a crash, not gigabytes decoded); too large a quarantined
share stops the run, and the quarantine it names survives the failed execution."""

from __future__ import annotations

import json
import os
import re

import pytest

from pipeline import configs
from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline
from tests.corpus_factory import sparse_wav

GOOD = 4
INGEST = configs.IngestConfig(eval_fraction=0.3, max_duration_s=12.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    build_demo_corpus(str(root), sentences=GOOD, seed=3)
    (root / "wavs" / "BAD-link.wav").symlink_to(root / "elsewhere" / "BAD-link.wav")
    sparse_wav(root / "wavs" / "BAD-twohours.wav", 2 * 3600)  # 1.27 GB of samples, no disk
    with open(root / "metadata.csv", "a", encoding="utf-8") as handle:
        handle.write("BAD-link|The audio is a link to nowhere.\n")
        handle.write("BAD-twohours|A whole lecture.\n")
    return str(root)


@pytest.mark.e2e
def test_a_share_above_the_ceiling_stops_the_run_and_keeps_the_quarantine(corpus, tmp_path):
    output = tmp_path / "out"
    with pytest.raises(Exception, match=r"33\.3% of the rows quarantined") as info:
        run_pipeline(corpus, str(output), until="examplegen", ingest=INGEST)
    message = str(info.value)
    assert "above the ceiling of 20.0%" in message and "--max-quarantined-share" in message
    kept = re.search(r"details in (\S+\.jsonl)", message).group(1)
    assert kept.startswith(str(output)) and os.path.exists(kept)  # TFX deleted the artifact
    reasons = {r["id"]: r["reason"] for r in map(json.loads, open(kept, encoding="utf-8"))}
    assert reasons == {"BAD-link": "missing_file", "BAD-twohours": "too_long"}
    summary = json.loads((output / configs.RUN_SUMMARY_FILE).read_text())
    assert summary["components"]["AudioExampleGen"]["status"] == "failed"
    assert "33.3% of the rows quarantined" in summary["error"]


@pytest.mark.e2e
def test_under_the_ceiling_the_hostile_rows_are_quarantined_with_their_reasons(corpus, tmp_path):
    ingest = configs.IngestConfig(eval_fraction=0.3, max_duration_s=12.0, max_quarantined_share=0.5)
    summary = run_pipeline(corpus, str(tmp_path / "out"), until="examplegen", ingest=ingest)
    gen = summary["components"]["AudioExampleGen"]
    assert gen["status"] == "complete"
    assert gen["quarantined_by_reason"] == {"missing_file": 1, "too_long": 1}
    assert gen["quarantined_share"] == pytest.approx(2 / 6, abs=1e-3)
    records = [json.loads(line) for line in open(gen["quarantine_archive"], encoding="utf-8")]
    link = next(r for r in records if r["id"] == "BAD-link")
    assert "symbolic link" in link["detail"]
    long = next(r for r in records if r["id"] == "BAD-twohours")
    assert "7200.000 s > 12.0 s (from the header; not decoded)" in long["detail"]


def test_an_empty_quarantine_is_still_a_file_and_is_archived_beside_the_pipeline_root(tmp_path):
    """A clean corpus wrote no quarantine.jsonl (GFile creates no file it never wrote to)."""
    from components.audio_example_gen import executor

    uri = tmp_path / "root" / "AudioExampleGen" / "quarantine" / "7"
    uri.mkdir(parents=True)
    assert executor._finish_quarantine(str(uri))["quarantined"] == 0
    assert (uri / executor.QUARANTINE_FILE).read_text() == ""
    kept = executor.archive_quarantine(str(uri), "run-1")
    assert kept == str(tmp_path / "root" / "quarantine" / "run-1.jsonl")
    assert open(kept).read() == ""
