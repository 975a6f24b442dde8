"""The default gate through the real Evaluator: a barely trained voice is refused because it
does not speak (content and intelligibility floors), not merely because it is off in length
or MCD. A trained voice passing the same defaults is benchmark territory (2,500 steps):
benchmarks/time_to_intelligible.py and `make demo`."""

from __future__ import annotations

import pytest

from pipeline import configs
from pipeline.local_runner import run_pipeline
from tests.corpus_factory import INGEST
from tests.e2e.pushes import pushed_versions

pytestmark = pytest.mark.e2e

MODEL_NAME = "defaults-voice"
BARELY_TRAINED_STEPS = 30
SPEAKS_FLOORS = ("content_margin_db", "intelligibility")


@pytest.fixture(scope="module")
def barely_trained(first_run, tmp_path_factory):
    corpus, output, _ = first_run
    push_dir = str(tmp_path_factory.mktemp("push"))
    components = run_pipeline(
        corpus,
        output,
        until="pusher",
        ingest=INGEST,
        trainer={"model": configs.DEFAULT_MODEL, "preset": "small", "batch_size": 4},
        train_steps=BARELY_TRAINED_STEPS,
        evaluation=configs.EvaluationConfig(),  # the defaults, as a user's first run gets them
        model_name=MODEL_NAME,
        push_dir=push_dir,
    )["components"]
    return components, push_dir


def test_a_30_step_voice_is_refused_for_not_speaking(barely_trained):
    components, push_dir = barely_trained
    evaluator = components["Evaluator"]
    assert evaluator["blessed"] is False
    metrics, message = evaluator["metrics"], evaluator["blessing_message"]
    for floor in SPEAKS_FLOORS:
        assert floor in metrics, f"{floor} was not measured: {sorted(metrics)}"
    # At least one "it speaks" floor is among the reasons, with its figure.
    assert any(f"{floor} " in message and "below the floor" in message for floor in SPEAKS_FLOORS)
    assert metrics["intelligibility"] < 0.2 or metrics["content_margin_db"] < 1.0
    assert components["Pusher"]["pushed"] is False
    assert pushed_versions(push_dir, MODEL_NAME) == []
