"""A corpus that grows one span at a time: each run ingests only the new span, retrains on all
spans from the served voice, judges against it, and a repeated run changes nothing."""

from __future__ import annotations

import os

import pytest

from components.tts_evaluator import blessing
from pipeline import configs
from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline
from tests.e2e.pushes import pushed_versions

pytestmark = pytest.mark.e2e

MODEL_NAME = "growing-voice"
FIRST_SPAN, NEW_SPAN = 8, 4  # utterances
# No ceilings and a wide tolerance: these runs test what is compared, not voice quality.
EVALUATION = configs.EvaluationConfig(thresholds=dict(blessing.ALL_OFF), baseline_tolerance=100.0)
INGEST = configs.IngestConfig(eval_fraction=0.3)


def _run(corpus, output, push_dir):
    return run_pipeline(
        corpus,
        output,
        until="pusher",
        ingest=INGEST,
        trainer={"model": "mlp", "preset": "small", "batch_size": 4},
        train_steps=6,
        evaluation=EVALUATION,
        model_name=MODEL_NAME,
        push_dir=push_dir,
    )["components"]


def _versions(push_dir):
    return pushed_versions(push_dir, MODEL_NAME)


def _ingested(entry) -> int:
    return sum(entry["examples"].values())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    corpus, output, push_dir = (str(root / name) for name in ("corpus", "output", "push"))
    build_demo_corpus(os.path.join(corpus, "span-0"), sentences=FIRST_SPAN, seed=0)
    runs = {"first": _run(corpus, output, push_dir)}
    runs["first_versions"] = _versions(push_dir)
    runs["repeated"] = _run(corpus, output, push_dir)
    runs["repeated_versions"] = _versions(push_dir)

    build_demo_corpus(
        os.path.join(corpus, "span-1"), sentences=NEW_SPAN, seed=1, id_prefix="BATCH2-"
    )
    runs["grown"] = _run(corpus, output, push_dir)
    runs["grown_versions"] = _versions(push_dir)
    runs["grown_repeated"] = _run(corpus, output, push_dir)
    runs["grown_repeated_versions"] = _versions(push_dir)
    return runs


def test_first_run_ingests_span_0_trains_from_scratch_and_pushes(runs):
    first = runs["first"]
    assert first["AudioExampleGen"]["span"] == 0
    assert _ingested(first["AudioExampleGen"]) == FIRST_SPAN
    assert first["Transform"]["spans"] == [0]
    assert first["Trainer"]["training"]["initialized_from"] == "scratch"
    assert first["Evaluator"]["baseline_model"] is None
    assert first["Pusher"]["pushed"] is True
    assert len(runs["first_versions"]) == 1


def test_repeating_a_run_on_unchanged_input_changes_nothing(runs):
    for name in ("repeated", "grown_repeated"):
        statuses = {stage: entry["status"] for stage, entry in runs[name].items()}
        assert set(statuses.values()) == {"cached"}, (name, statuses)
    assert runs["repeated_versions"] == runs["first_versions"]
    assert runs["grown_repeated_versions"] == runs["grown_versions"]


def test_a_new_span_is_ingested_alone_and_the_model_retrains_on_all_spans(runs):
    grown = runs["grown"]
    assert grown["AudioExampleGen"]["status"] == "complete"
    assert grown["AudioExampleGen"]["span"] == 1
    assert _ingested(grown["AudioExampleGen"]) == NEW_SPAN  # only the new recordings
    assert grown["Transform"]["status"] == "complete"
    assert grown["Transform"]["spans"] == [0, 1]
    trainer = grown["Trainer"]
    assert trainer["status"] == "complete"
    first_train = runs["first"]["AudioExampleGen"]["examples"]["train"]
    new_train = grown["AudioExampleGen"]["examples"]["train"]
    assert trainer["training"]["train_examples"] == first_train + new_train


def test_the_retrain_starts_from_and_is_judged_against_the_pushed_voice(runs):
    first, grown = runs["first"], runs["grown"]
    served_model = first["Trainer"]["serving_model_dir"]
    assert grown["Trainer"]["training"]["initialized_from"] == served_model
    assert grown["Evaluator"]["baseline_model"] == os.path.dirname(served_model)
    assert "baseline" in grown["Evaluator"]["blessing_message"]
    assert grown["Pusher"]["pushed"] is True
    assert len(runs["grown_versions"]) == 2
