"""The voice card: what a pushed voice or mobile bundle is, where it came from and how it was
judged (voice_card.json, with VOICE_CARD.md rendered from the same data), and the listing of a
push directory that `tts-pipeline voices` prints.

Standard library only at import (models.voice_files and models.filesystems are too): the CLI
reads cards without loading TensorFlow, which loads only to write a card to a URI.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from typing import Any

from models import filesystems as fs
from models import voice_files

CARD_FILE = "voice_card.json"
CARD_MARKDOWN_FILE = "VOICE_CARD.md"
CARD_FORMAT = 1
VOICE_FILE = "voice.json"  # the same name as models.export.VOICE_FILE (assets/voice.json)
DEFAULT_LICENCE = "unspecified"
# The text front end (models/text) normalises English only; voice.json may name another.
DEFAULT_LANGUAGE = "en"
SAVED_MODEL = "saved_model"  # `artifact`: a TF Serving version directory
TFLITE_BUNDLE = "tflite_bundle"  # `artifact`: a mobile bundle

# Every card has these keys (a value may be null where the pipeline did not know it, e.g. a
# version pushed by hand); validate_card names the missing ones.
REQUIRED_FIELDS = {
    "card_format": (),
    "name": (),
    "version": (),
    "artifact": (),
    "language": (),
    "family": (),
    "preset": (),
    "training": ("steps", "initialized_from"),
    "corpus": ("uri", "utterances", "audio_seconds", "audio_hours"),
    "evaluation": ("blessed", "message", "metrics", "thresholds"),
    "created": (),
    "licence": (),
    "pipeline_version": (),
    "source_model": (),
}
# The figures `voices` shows in its table, in this order, where a card has them.
HEADLINE_METRICS = ("content_margin_db", "intelligibility", "mcd_db")


def pipeline_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tts-pipeline")
    except metadata.PackageNotFoundError:
        return "unknown"


def utc_now() -> str:
    """`2026-11-30T23:20:43Z`: UTC, ISO 8601, to the second."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def _json_safe(value: Any) -> Any:
    """NaN and infinities as null: a card is strict JSON, which apps and jq can parse."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def corpus_summary(spans: list[dict[str, Any]], uri: str | None = None) -> dict[str, Any]:
    """The corpus a voice was trained on, from each span's AudioExampleGen figures
    (custom properties `num_examples_<split>`, `audio_seconds_<split>`, `input_base`, `span`).
    """
    utterances: dict[str, int] = {}
    seconds = 0.0
    has_seconds = False
    for props in spans:
        uri = uri or props.get("input_base")
        for key, value in props.items():
            if key.startswith("num_examples_"):
                split = key[len("num_examples_") :]
                utterances[split] = utterances.get(split, 0) + int(value)
            elif key.startswith("audio_seconds_"):
                seconds += float(value)
                has_seconds = True
    known = bool(utterances)
    return {
        "uri": uri,
        "spans": sorted(int(p["span"]) for p in spans if p.get("span") is not None),
        "utterances": sum(utterances.values()) if known else None,
        "utterances_by_split": utterances,
        "audio_seconds": round(seconds, 1) if has_seconds else None,
        "audio_hours": round(seconds / 3600, 3) if has_seconds else None,
    }


def empty_corpus() -> dict[str, Any]:
    return corpus_summary([])


def build_card(
    *,
    name: str,
    version: str | None,
    voice_info: dict[str, Any],
    evaluation: dict[str, Any] | None,
    corpus: dict[str, Any] | None,
    licence: str | None = None,
    source_model: str | None = None,
    artifact: str = SAVED_MODEL,
    created: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A card from the voice's own description (assets/voice.json), the Evaluator's verdict
    ({blessed, message, metrics, thresholds}) and the corpus (corpus_summary)."""
    training = voice_info.get("training") or {}
    evaluation = evaluation or {}
    card = {
        "card_format": CARD_FORMAT,
        "name": name,
        "version": version,
        "artifact": artifact,
        "language": voice_info.get("language") or DEFAULT_LANGUAGE,
        "family": voice_info.get("model"),
        "preset": voice_info.get("preset"),
        "sample_rate": voice_info.get("sample_rate"),
        "training": {
            "steps": training.get("total_steps"),
            "initialized_from": training.get("initialized_from"),
        },
        "corpus": {**empty_corpus(), **(corpus or {})},
        "evaluation": {
            "blessed": evaluation.get("blessed"),
            "message": evaluation.get("message"),
            "metrics": evaluation.get("metrics") or {},
            "thresholds": evaluation.get("thresholds") or {},
        },
        "created": created or utc_now(),
        "licence": licence or DEFAULT_LICENCE,
        "pipeline_version": pipeline_version(),
        "source_model": source_model,
        **(extra or {}),
    }
    card = _json_safe(card)
    validate_card(card)
    return card


def validate_card(card: dict[str, Any]) -> None:
    """Raises ValueError naming every required field the card lacks."""
    missing = [field for field in REQUIRED_FIELDS if field not in card]
    for field, keys in REQUIRED_FIELDS.items():
        section = card.get(field)
        if keys and not isinstance(section, dict):
            missing.extend(f"{field}.{key}" for key in keys if field in card)
        elif keys:
            missing.extend(f"{field}.{key}" for key in keys if key not in section)
    if missing:
        raise ValueError(f"voice card lacks {', '.join(missing)}")


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_markdown(card: dict[str, Any]) -> str:
    """VOICE_CARD.md: the card for a person."""
    corpus, evaluation, training = card["corpus"], card["evaluation"], card["training"]
    blessed = {True: "blessed", False: "not blessed", None: "not evaluated"}[evaluation["blessed"]]
    version = f" version {card['version']}" if card["version"] else ""
    lines = [
        f"# Voice card: {card['name']}{version}",
        "",
        f"- artifact: {card['artifact']}"
        + (f" ({card['tflite_variant']})" if card.get("tflite_variant") else ""),
        f"- language: {card['language']}",
        f"- model: {card['family']} / {card['preset']}",
        f"- training: {_figure(training['steps'])} steps, from {training['initialized_from']}",
        f"- corpus: {corpus['uri']}, {_figure(corpus['utterances'])} utterances, "
        f"{_figure(corpus['audio_hours'])} h of audio",
        f"- created: {card['created']} by tts-pipeline {card['pipeline_version']}",
        f"- licence: {card['licence']}",
        "",
        f"## Evaluation: {blessed}",
        "",
        str(evaluation["message"] or ""),
        "",
        "| metric | value | threshold |",
        "| --- | --- | --- |",
    ]
    for metric, value in sorted(evaluation["metrics"].items()):
        limit = evaluation["thresholds"].get(metric)
        lines.append(f"| {metric} | {_figure(value)} | {_figure(limit)} |")
    return "\n".join(lines) + "\n"


def card_files(card: dict[str, Any]) -> dict[str, str]:
    """{file name: text}: what goes beside a voice (validated first)."""
    validate_card(card)
    return {
        CARD_FILE: json.dumps(card, indent=2, allow_nan=False) + "\n",
        CARD_MARKDOWN_FILE: render_markdown(card),
    }


def write_card(directory: str, card: dict[str, Any]) -> None:
    """voice_card.json and VOICE_CARD.md into `directory`, local or a URI (s3://, gs://, ...:
    models/filesystems.py)."""
    for name, text in card_files(card).items():
        fs.write_text(os.path.join(directory, name), text)


def _read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in a local file; None when it is absent or unreadable (a listing
    shows what it can rather than stopping at one damaged version)."""
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_card(directory: str) -> dict[str, Any] | None:
    """The card in a local voice directory, or None when it has none (or it is unreadable)."""
    return _read_json(os.path.join(directory, CARD_FILE))


def voice_name(voice_info: dict[str, Any], fallback: str = "unnamed") -> str:
    """The served name the Trainer recorded (trainer_config.voice_name), else `fallback`."""
    return (voice_info.get("trainer_config") or {}).get("voice_name") or fallback


def bundle_card(saved_model_dir: str, voice_info: dict[str, Any], variant: str) -> dict[str, Any]:
    """The card of a mobile bundle exported from a local SavedModel: the voice's own card
    where it has one (a pushed version), else what voice.json says (no evaluation)."""
    card = read_card(saved_model_dir) or build_card(
        name=voice_name(voice_info),
        version=None,
        voice_info=voice_info,
        evaluation=None,
        corpus=None,
        source_model=os.path.abspath(saved_model_dir),
    )
    return {**card, "artifact": TFLITE_BUNDLE, "tflite_variant": variant, "created": utc_now()}


# --- The listing of a push directory (TF Serving layout <base>/<name>/<version>/) ----------


def _created_from_version(version_dir: str, version: str) -> str:
    """A pre-card version's date: the push time its number records (AtomicPusher numbers a
    version by the Unix time), else saved_model.pb's modification time."""
    seconds = int(version)
    if seconds < 1_000_000_000:  # not a timestamp: numbered by hand
        seconds = int(os.path.getmtime(os.path.join(version_dir, "saved_model.pb")))
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def _card_or_voice_info(version_dir: str, name: str, version: str) -> tuple[dict, bool]:
    """(card, True) where the version has one; else a card built from assets/voice.json,
    with what it offers (family, preset, steps) and no evaluation, and False."""
    card = read_card(version_dir)
    if card is not None:
        return card, True
    voice_info = _read_json(os.path.join(version_dir, "assets", VOICE_FILE)) or {}
    card = {
        "name": name,
        "version": version,
        "language": voice_info.get("language"),
        "family": voice_info.get("model"),
        "preset": voice_info.get("preset"),
        "training": {"steps": (voice_info.get("training") or {}).get("total_steps")},
        "created": _created_from_version(version_dir, version),
    }
    return card, False


def version_entry(version_dir: str, name: str, version: str) -> dict[str, Any]:
    """One line of the listing: the card's headline figures, and the card itself."""
    card, has_card = _card_or_voice_info(version_dir, name, version)
    evaluation = card.get("evaluation") or {}
    metrics = evaluation.get("metrics") or {}
    corpus = card.get("corpus") or {}
    return {
        "name": name,
        "version": version,
        "path": version_dir,
        "has_card": has_card,
        "family": card.get("family"),
        "preset": card.get("preset"),
        "steps": (card.get("training") or {}).get("steps"),
        "language": card.get("language"),
        "blessed": evaluation.get("blessed"),
        "metrics": {m: metrics[m] for m in HEADLINE_METRICS if metrics.get(m) is not None},
        "corpus_utterances": corpus.get("utterances"),
        "audio_hours": corpus.get("audio_hours"),
        "licence": card.get("licence"),
        "created": card.get("created"),
        "card": card if has_card else None,
    }


def list_voices(push_dir: str) -> list[dict[str, Any]]:
    """[{name, versions: [version_entry, newest first]}] by name, for a push base
    (<push_dir>/<name>/<version>/) or one model base (<push_dir>/<version>/, named after it).
    Raises FileNotFoundError when push_dir is not a directory."""
    if not os.path.isdir(push_dir):
        raise FileNotFoundError(f"no such directory: {push_dir!r}")
    push_dir = os.path.abspath(push_dir)
    if next(voice_files.saved_model_versions(push_dir), None) is not None:
        bases = [(os.path.basename(push_dir), push_dir)]
    else:
        bases = [
            (name, os.path.join(push_dir, name))
            for name in sorted(os.listdir(push_dir))
            if not name.startswith(".") and os.path.isdir(os.path.join(push_dir, name))
        ]
    voices = []
    for name, base in bases:
        versions = [
            version_entry(os.path.join(base, v), name, v)
            for v in voice_files.saved_model_versions(base)
        ]
        if versions:
            voices.append({"name": name, "versions": versions})
    return voices
