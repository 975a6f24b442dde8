"""The voice card's facts from the artifacts the components receive: the corpus from
AudioExampleGen's examples (the Evaluator records it on its blessing), and the verdict and
corpus from a blessing (the Pusher and the TFLiteExporter build the card from it).

The card itself (fields, JSON, Markdown, writing it) is models/voice_card.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from tfx.components.evaluator import constants as evaluator_constants

from models import export, voice_card

# ModelBlessing custom properties the TTSEvaluator adds for the card (JSON strings), beside
# the stock `blessed` and `blessing_message`.
METRICS_PROPERTY = "metrics"
THRESHOLDS_PROPERTY = "thresholds"
CORPUS_PROPERTY = "corpus"
# Where the operator's card fields travel: the Pusher's custom_config["voice_card"] and the
# TFLiteExporter's `voice_card` parameter, both {"licence": ...}.
OPTIONS_KEY = "voice_card"


def _custom_properties(artifact) -> dict[str, Any]:
    return {
        name: artifact.get_custom_property(name)
        for name in artifact.mlmd_artifact.custom_properties
    }


def corpus_from_examples(examples: list | None) -> dict[str, Any]:
    """corpus_summary over every span AudioExampleGen wrote (its counts and seconds)."""
    return voice_card.corpus_summary([_custom_properties(a) for a in examples or []])


def _json_property(artifact, name: str) -> Any:
    if not artifact.has_custom_property(name):
        return None
    return json.loads(artifact.get_string_custom_property(name))


def evaluation_from_blessing(blessing) -> dict[str, Any] | None:
    """{blessed, message, metrics, thresholds} as the Evaluator recorded them; None without
    a blessing."""
    if blessing is None:
        return None
    blessed = None
    if blessing.has_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY):
        blessed = blessing.get_int_custom_property(
            evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
        ) == (evaluator_constants.BLESSED_VALUE)
    message_key = evaluator_constants.ARTIFACT_PROPERTY_BLESSING_MESSAGE_KEY
    return {
        "blessed": blessed,
        "message": blessing.get_string_custom_property(message_key)
        if blessing.has_custom_property(message_key)
        else None,
        "metrics": _json_property(blessing, METRICS_PROPERTY) or {},
        "thresholds": _json_property(blessing, THRESHOLDS_PROPERTY) or {},
    }


def card_for_model(
    saved_model_dir: str,
    blessing,
    name: str | None,
    version: str | None,
    options: dict[str, Any] | None,
    source_model: str,
    **card_fields: Any,
) -> dict[str, Any]:
    """The card of the voice at saved_model_dir, judged by `blessing` (may be None); `name`
    None: the served name the Trainer recorded in voice.json."""
    options = options or {}
    corpus = _json_property(blessing, CORPUS_PROPERTY) if blessing is not None else None
    try:
        voice_info = export.read_voice_info(saved_model_dir)
    except FileNotFoundError:
        path = os.path.join(saved_model_dir, "assets", export.VOICE_FILE)
        logging.warning("voice card: no %s; family, preset and steps stay unknown", path)
        voice_info = {}
    return voice_card.build_card(
        name=name or voice_card.voice_name(voice_info),
        version=version,
        voice_info=voice_info,
        evaluation=evaluation_from_blessing(blessing),
        corpus=corpus,
        licence=options.get("licence"),
        source_model=source_model,
        **card_fields,
    )


def model_name_of(blessing) -> str | None:
    """The served name the Evaluator recorded on the blessing, if it did."""
    if blessing is not None and blessing.has_custom_property("model_name"):
        return blessing.get_string_custom_property("model_name") or None
    return None
