"""Resolution that keeps a repeated run a cache hit: all spans, and blessed models by anchor."""

from __future__ import annotations

from tfx.components.evaluator import constants as evaluator_constants
from tfx.types import standard_artifacts

from components.resolver_strategies import (
    ANCHOR_KEY,
    AllSpansStrategy,
    LatestBlessedModelOfNameStrategy,
    LatestCreatedBeforeStrategy,
    latest_version_of_each_span,
)


def _artifact(kind, artifact_id: int, **custom):
    artifact = kind()
    artifact.id = artifact_id
    for name, value in custom.items():
        if isinstance(value, int):
            artifact.set_int_custom_property(name, value)
        else:
            artifact.set_string_custom_property(name, value)
    return artifact


def _examples(artifact_id: int, span: int, version: int | None = None):
    custom = {"span": span} if version is None else {"span": span, "version": version}
    return _artifact(standard_artifacts.Examples, artifact_id, **custom)


def _blessing(artifact_id: int, model_id: int, blessed: int = 1, name: str = "voice"):
    return _artifact(
        standard_artifacts.ModelBlessing,
        artifact_id,
        **{
            evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY: model_id,
            evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY: blessed,
            "model_name": name,
        },
    )


def _resolve(inputs, name="voice"):
    return LatestBlessedModelOfNameStrategy(model_name=name).resolve_artifacts(None, inputs)


def test_all_spans_keeps_the_newest_version_of_each_span_in_span_order():
    artifacts = [_examples(5, 1), _examples(2, 0), _examples(9, 1), _examples(7, 2, version=1)]
    artifacts.append(_examples(8, 2, version=0))  # newer id, older version: loses
    assert [a.id for a in latest_version_of_each_span(artifacts)] == [2, 9, 7]
    resolved = AllSpansStrategy().resolve_artifacts(None, {"examples": artifacts})
    assert [a.id for a in resolved["examples"]] == [2, 9, 7]


def test_latest_blessed_model_of_the_served_name():
    models = [_artifact(standard_artifacts.Model, i) for i in (10, 20, 30)]
    blessings = [_blessing(11, 10), _blessing(21, 20, name="other"), _blessing(31, 30, blessed=0)]
    resolved = _resolve({"model": models, "model_blessing": blessings})
    assert [m.id for m in resolved["model"]] == [10]
    assert [b.id for b in resolved["model_blessing"]] == [11]


def test_anchor_excludes_models_created_after_it_and_comes_back_unchanged():
    models = [_artifact(standard_artifacts.Model, i) for i in (10, 20, 40)]
    blessings = [_blessing(11, 10), _blessing(21, 20), _blessing(41, 40)]
    anchor = [_examples(35, 0), _examples(36, 1)]
    resolved = _resolve({"model": models, "model_blessing": blessings, ANCHOR_KEY: anchor})
    # Model 40 was blessed after this data arrived (e.g. by the previous repeat of this run).
    assert [m.id for m in resolved["model"]] == [20]
    assert resolved[ANCHOR_KEY] == anchor


def test_no_blessed_model_before_the_anchor_resolves_nothing():
    models = [_artifact(standard_artifacts.Model, 40)]
    inputs = {"model": models, "model_blessing": [_blessing(41, 40)]}
    anchor = [_artifact(standard_artifacts.Model, 40)]  # the candidate is its own anchor
    resolved = _resolve({**inputs, ANCHOR_KEY: anchor})
    assert resolved["model"] == [] and resolved["model_blessing"] == []


def test_an_anchor_that_was_not_produced_resolves_nothing():
    models = [_artifact(standard_artifacts.Model, 10)]
    resolved = _resolve({"model": models, "model_blessing": [_blessing(11, 10)], ANCHOR_KEY: []})
    assert resolved == {"model": [], "model_blessing": [], ANCHOR_KEY: []}


def test_analyzer_cache_is_the_newest_written_before_the_newest_span():
    caches = [_artifact(standard_artifacts.TransformCache, i) for i in (12, 30, 52)]
    strategy = LatestCreatedBeforeStrategy()
    # Spans 0 (id 2) and 1 (id 40): the cache written when span 0 was new (30) serves.
    spans = [_examples(2, 0), _examples(40, 1)]
    resolved = strategy.resolve_artifacts(None, {"cache": caches, ANCHOR_KEY: spans})
    assert [c.id for c in resolved["cache"]] == [30]
    assert resolved[ANCHOR_KEY] == spans
    # Only span 0, older than every cache: nothing, as on the run that first read it.
    only_first = {"cache": caches, ANCHOR_KEY: [_examples(2, 0)]}
    assert strategy.resolve_artifacts(None, only_first)["cache"] == []
