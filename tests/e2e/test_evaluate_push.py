"""TTSEvaluator + Resolver + stock Pusher: only a voice that is good enough, and not worse
than the blessed baseline of its name, reaches the push directory."""

from __future__ import annotations

import json
import os
import re

import pytest

from components.tts_evaluator.blessing import ALL_OFF
from models import voice_card
from pipeline import configs
from pipeline.cli import main
from pipeline.local_runner import run_pipeline
from tests.corpus_factory import INGEST
from tests.e2e.pushes import pushed_versions

pytestmark = pytest.mark.e2e

MODEL_NAME = "e2e-voice"
TRAINED_STEPS = 80
# Thresholds merge with the defaults; these runs test what is pushed, not whether 80 steps
# speak, so every default is switched off but the length: within a factor 2 of the real rate.
LENGTH_CEILING = {**ALL_OFF, "length_error": 0.7}


def _run(first_run, push_dir, trainer, steps, thresholds):
    corpus, output, _ = first_run
    return run_pipeline(
        corpus,
        output,
        until="pusher",  # the TFLite stage has its own end-to-end tests
        ingest=INGEST,
        trainer={"model": "attention", "preset": "small", "batch_size": 4, **trainer},
        train_steps=steps,
        evaluation=configs.EvaluationConfig(thresholds=thresholds, max_utterances=0),
        model_name=MODEL_NAME,
        push_dir=push_dir,
    )["components"]


def _versions(push_dir):
    return pushed_versions(push_dir, MODEL_NAME)


@pytest.fixture(scope="module")
def runs(first_run, tmp_path_factory):
    push_dir = str(tmp_path_factory.mktemp("push"))
    # Random weights under the default thresholds: the content floor refuses them whatever
    # length their random durations happen to give.
    untrained = _run(first_run, push_dir, {"peak_learning_rate": 0.0}, 1, {})
    after_untrained = _versions(push_dir)
    trained = _run(first_run, push_dir, {}, TRAINED_STEPS, LENGTH_CEILING)
    after_trained = _versions(push_dir)
    # Barely trained: no ceiling at all, so only the baseline comparison can refuse it.
    worse = _run(first_run, push_dir, {"seed": 1}, 3, dict(ALL_OFF))
    return {
        "push_dir": push_dir,
        "untrained": untrained,
        "trained": trained,
        "worse": worse,
        "versions": (after_untrained, after_trained, _versions(push_dir)),
    }


def test_random_weights_are_refused_and_not_pushed(runs):
    evaluator = runs["untrained"]["Evaluator"]
    assert evaluator["status"] == "complete"
    assert evaluator["blessed"] is False
    assert "content_margin_db" in evaluator["blessing_message"]
    assert evaluator["metrics"]["content_margin_db"] < 0.5
    assert runs["untrained"]["Pusher"]["pushed"] is False
    assert runs["versions"][0] == []


def test_trained_voice_is_blessed_and_pushed_in_serving_layout(runs):
    evaluator, pusher = runs["trained"]["Evaluator"], runs["trained"]["Pusher"]
    assert evaluator["blessed"] is True, evaluator["blessing_message"]
    assert evaluator["metrics"]["length_error"] < LENGTH_CEILING["length_error"]
    assert pusher["pushed"] is True
    (version,) = runs["versions"][1]
    assert version.isdigit()
    pushed = os.path.join(runs["push_dir"], MODEL_NAME, version)
    assert os.path.realpath(pusher["pushed_destination"]) == os.path.realpath(pushed)
    assert os.path.exists(os.path.join(pushed, "saved_model.pb"))
    assert os.path.exists(os.path.join(pushed, "assets", "voice.json"))


def test_the_pushed_version_carries_its_voice_card_and_voices_lists_it(runs, first_run, capsys):
    trained = runs["trained"]
    (version,) = runs["versions"][1]
    card = voice_card.read_card(os.path.join(runs["push_dir"], MODEL_NAME, version))
    assert (card["name"], card["version"]) == (MODEL_NAME, version)
    assert (card["family"], card["preset"]) == ("attention", "small")
    assert card["training"]["steps"] == trained["Trainer"]["training"]["total_steps"]
    assert card["evaluation"]["blessed"] is True
    assert card["evaluation"]["thresholds"] == {"length_error": LENGTH_CEILING["length_error"]}
    assert card["evaluation"]["metrics"]["length_error"] == pytest.approx(
        trained["Evaluator"]["metrics"]["length_error"]
    )
    assert card["corpus"]["uri"] == os.path.abspath(first_run[0])
    assert card["corpus"]["utterances"] > 0 and card["corpus"]["audio_seconds"] > 0
    assert card["licence"] == voice_card.DEFAULT_LICENCE
    assert main(["voices", runs["push_dir"], "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in listed["versions"]] == [version]
    assert listed["versions"][0]["blessed"] is True and listed["versions"][0]["has_card"]


def test_worse_candidate_than_blessed_baseline_is_refused_and_push_stays(runs):
    evaluator = runs["worse"]["Evaluator"]
    assert evaluator["blessed"] is False
    assert "worse than the blessed baseline" in evaluator["blessing_message"]
    assert evaluator["baseline_model"] == runs["trained"]["Trainer"]["outputs"]["model"][0]
    assert runs["worse"]["Pusher"]["pushed"] is False
    assert runs["versions"][2] == runs["versions"][1]


def test_report_references_files_that_exist(runs):
    report = runs["trained"]["Evaluator"]["report"]
    page = open(report, encoding="utf-8").read()
    assert "BLESSED" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(s.endswith(".png") for s in sources) and any(s.endswith(".wav") for s in sources)
    for source in sources:
        assert os.path.exists(os.path.join(os.path.dirname(report), source)), source
