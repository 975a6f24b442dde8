"""Resolver strategies that make a scheduled run safe to repeat.

Wired in pipeline/resolvers.py: `AllSpansStrategy` feeds the Transform every span,
`LatestCreatedBeforeStrategy` its analyzer cache, and `LatestBlessedModelOfNameStrategy`
the Trainer's warm-start base and the Evaluator's baseline. `LatestTrainedModelOfNameStrategy`
(pipeline/pipeline.py) is the base of `--retrain continue`.

Repeating a run on unchanged input must change nothing, so every resolved input has to be
the same artifact as last time. "The latest blessed model" is not: the previous run may
have blessed one. "The latest blessed model created before <anchor>" is, as long as the
anchor (this run's data or candidate) is itself a cache hit.
"""

from __future__ import annotations

import json

from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.components.common.resolver import ResolverStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)
from tfx.types import standard_artifacts

ANCHOR_KEY = "created_before"
MODEL_NAME_PROPERTY = "model_name"
# The Trainer's custom config, as TFX records it on the execution (models/trainer_config.py).
CUSTOM_CONFIG_PROPERTY = "custom_config"
VOICE_NAME_KEY = "voice_name"


class LatestBlessedModelOfNameStrategy(LatestBlessedModelStrategy):
    """TFX's latest blessed Model, restricted to one served name and to models older than
    the newest artifact of the optional `created_before` channel.

    One pipeline trains several voices (`--model-name`); each is compared only with the
    last blessed model that was served under its own name. The anchor keeps the answer
    stable when a run is repeated: for the Evaluator it is the candidate model (its baseline
    is what was blessed before it was trained), for the Trainer's warm start it is this
    run's transformed data (the base is what was blessed before that data arrived).
    """

    def __init__(self, model_name: str):
        self._model_name = model_name

    def resolve_artifacts(self, store, input_dict):
        input_dict = dict(input_dict)
        anchor = input_dict.pop(ANCHOR_KEY, None)
        if anchor is not None and not anchor:
            # The anchor has not been produced (e.g. a stage before it failed): no answer
            # is safer than a baseline that ignores it.
            return {key: [] for key in (*input_dict, ANCHOR_KEY)}
        if anchor:
            for key, artifacts in input_dict.items():
                if artifacts and isinstance(artifacts[0], standard_artifacts.Model):
                    input_dict[key] = created_before(artifacts, anchor)
        result = super().resolve_artifacts(store, input_dict)
        if result is not None and anchor is not None:
            result[ANCHOR_KEY] = list(anchor)
        return result

    def _resolve(self, input_dict, model_channel_key, model_blessing_channel_key):
        input_dict = dict(input_dict)
        input_dict[model_blessing_channel_key] = [
            b
            for b in input_dict[model_blessing_channel_key]
            if b.has_custom_property(MODEL_NAME_PROPERTY)
            and b.get_string_custom_property(MODEL_NAME_PROPERTY) == self._model_name
        ]
        return super()._resolve(input_dict, model_channel_key, model_blessing_channel_key)


class LatestTrainedModelOfNameStrategy(ResolverStrategy):
    """The newest Model the Trainer produced for one served name, blessed or not: the voice
    that `--retrain continue` trains further.

    No anchor, on purpose: each continued run trains on from the voice the previous one
    produced, so repeating it trains more instead of being a cache hit. The name is the
    `voice_name` in the producing Trainer execution's custom config (Model artifacts carry
    no name; blessings do, but an unevaluated voice, e.g. `--until trainer`, has none).
    """

    def __init__(self, model_name: str):
        self._model_name = model_name

    def resolve_artifacts(self, store, input_dict):
        result = {}
        for key, artifacts in input_dict.items():
            named = [a for a in artifacts if trained_for(store, a.id) == self._model_name]
            result[key] = [max(named, key=lambda a: a.id)] if named else []
        return result


def trained_for(store, artifact_id: int) -> str | None:
    """The served name of the Trainer execution that output `artifact_id`, if it says."""
    events = store.get_events_by_artifact_ids([artifact_id])
    producers = [e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    for execution in store.get_executions_by_id(producers):
        value = execution.custom_properties.get(CUSTOM_CONFIG_PROPERTY)
        if value is None or not value.string_value:
            continue
        try:
            config = json.loads(value.string_value)
        except ValueError:
            continue
        if isinstance(config, dict) and config.get(VOICE_NAME_KEY):
            return config[VOICE_NAME_KEY]
    return None


def created_before(artifacts: list, anchor: list) -> list:
    """The artifacts registered in ML Metadata before the newest anchor artifact."""
    newest_anchor = max(artifact.id for artifact in anchor)
    return [artifact for artifact in artifacts if artifact.id < newest_anchor]


class LatestCreatedBeforeStrategy(ResolverStrategy):
    """For each channel, its newest artifact created before the newest `created_before` one.

    Transform's analyzer cache: the cache written by the run that last saw new spans, so
    that a repeated run resolves the same cache (a hit) and a run with a new span reuses
    the analysis of the old ones.
    """

    def resolve_artifacts(self, store, input_dict):
        del store
        input_dict = dict(input_dict)
        anchor = input_dict.pop(ANCHOR_KEY, [])
        result = {ANCHOR_KEY: list(anchor)}
        for key, artifacts in input_dict.items():
            older = created_before(artifacts, anchor) if anchor else []
            result[key] = [max(older, key=lambda a: a.id)] if older else []
        return result


def span_and_version(artifact) -> tuple[int, int]:
    """(span, version): ExampleGen drivers record them as custom properties, not properties."""
    values = []
    for name in ("span", "version"):
        if artifact.has_custom_property(name):
            values.append(artifact.get_int_custom_property(name))
        else:
            values.append(getattr(artifact, name, 0) or 0)
    return values[0], values[1]


class AllSpansStrategy(ResolverStrategy):
    """Every span of a channel, each at its latest version (ties: the newest artifact), in
    span order.

    The Transform and Trainer read the whole corpus, while AudioExampleGen ingests only the
    newest span: this is how the spans written by earlier runs come back in. (TFX's own
    all_spans op reads `span` as a property, which file-based ExampleGen drivers leave
    unset, so it would see every artifact as span 0.)
    """

    def resolve_artifacts(self, store, input_dict):
        del store
        return {
            key: latest_version_of_each_span(artifacts) for key, artifacts in input_dict.items()
        }


def latest_version_of_each_span(artifacts: list) -> list:
    newest: dict[int, tuple] = {}
    for artifact in artifacts:
        span, version = span_and_version(artifact)
        key = (version, artifact.id)
        if span not in newest or key > newest[span][0]:
            newest[span] = (key, artifact)
    return [newest[span][1] for span in sorted(newest)]
