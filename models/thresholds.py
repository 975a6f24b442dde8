"""Blessing thresholds: which way each evaluator figure passes, the defaults, and the user's
JSON merged over them. Pure Python, so the command line checks --thresholds in milliseconds."""

from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping

# Every figure a threshold may name, and which way it passes: "max" is a ceiling (lower is
# better), "min" a floor (higher is better). The names are those of models/evaluation.summarize.
METRICS = {
    "mcd_db": "max",
    "mel_l1": "max",
    "length_error": "max",
    "non_stopping_share": "max",
    "alignment_focus_rate": "min",
    "alignment_diagonality": "min",
    "rtf": "max",
    "content_margin_db": "min",
    "content_accuracy": "min",
    "phone_error_rate": "max",
    "intelligibility": "min",
}
# Defaults. The two floors say "it speaks" and were calibrated on 20 espeak-ng utterances of the
# demo corpus (models/content.py, models/intelligibility.py; figures: ceiling / speech that
# carries its text / chance):
# - content_margin_db: Griffin-Lim resynthesis of the references 5.1 dB, the same text by
#   espeak at another rate and pitch 4.5, references smeared over 15 frames 1.8; babble (random
#   frames, shuffled speech of other utterances, the mean spectrum) and untrained attention and
#   mlp voices -0.5 to +0.1. 1 dB is a fifth of the ceiling's margin, well above the babble.
# - intelligibility (0 chance, 1 ceiling): espeak at another rate and pitch 0.63-0.73, smeared
#   over 15 frames 0.26; babble and untrained voices -0.03 to +0.01. 0.2: a fifth of the gap.
# The ceilings predate them: MCD and length say "close", not "speaks".
DEFAULT_THRESHOLDS = {
    "mcd_db": 8.0,
    "length_error": 0.7,
    "non_stopping_share": 0.2,
    "content_margin_db": 1.0,
    "intelligibility": 0.2,
}


def describe_defaults() -> str:
    """The default thresholds in words: "mcd_db <= 8, ..., content_margin_db >= 1, ..."."""
    signs = {"max": "<=", "min": ">="}
    return ", ".join(
        f"{name} {signs[METRICS[name]]} {limit:g}" for name, limit in DEFAULT_THRESHOLDS.items()
    )


# Merged with the defaults, switches every threshold off: {**ALL_OFF, "length_error": 0.7}
# keeps only that one.
ALL_OFF = types.MappingProxyType({metric: None for metric in METRICS})


def _valid_names() -> str:
    return ", ".join(f"{metric} ({direction})" for metric, direction in METRICS.items())


def direction(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown threshold metric {metric!r}; valid: {_valid_names()}")
    return METRICS[metric]


def merge_thresholds(given: Mapping[str, float | None] | None) -> dict[str, float | None]:
    """The defaults with `given` laid over them: a number overrides, None switches one off.

    Switched-off metrics stay in the result as None, so merging the result again gives it back
    unchanged (the component stores it; the executor parses it).
    """
    merged: dict[str, float | None] = dict(DEFAULT_THRESHOLDS)
    for metric, value in (given or {}).items():
        direction(metric)
        if value is None:
            merged[metric] = None
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"threshold {metric} must be a number or null, got {value!r}")
        elif not math.isfinite(value):
            raise ValueError(f"threshold {metric} must be finite, got {value!r}")
        else:
            merged[metric] = float(value)
    return merged


def parse_thresholds(text: str | None) -> dict[str, float]:
    """The thresholds in force, from JSON {"metric": value or null} merged with the defaults.

    The direction (ceiling or floor) comes from the metric (METRICS). Invalid JSON, another
    shape or an unknown metric is a ValueError that says which.
    """
    given = None
    if text:
        try:
            given = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"thresholds are not valid JSON ({error.msg} at column {error.colno}): {text!r}"
            ) from None
        if not isinstance(given, dict):
            raise ValueError(f'thresholds must be a JSON object {{"metric": value}}, got {text!r}')
    return {k: v for k, v in merge_thresholds(given).items() if v is not None}
