"""`tts-pipeline voices PUSH_DIR`: the voices in a push directory, their versions (newest
first) and what their voice cards say. Reads files only: no TensorFlow, no TFX."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from models import voice_card

# Short column labels for voice_card.HEADLINE_METRICS.
_METRIC_LABELS = {"content_margin_db": "margin_dB", "intelligibility": "intell", "mcd_db": "MCD"}
_COLUMNS = ("name", "version", "model", "steps", "metrics", "blessed", "created", "licence")


def _blessed(entry: dict[str, Any]) -> str:
    if not entry["has_card"]:
        return "no card"
    return {True: "yes", False: "no", None: "-"}[entry["blessed"]]


def _row(entry: dict[str, Any]) -> dict[str, str]:
    metrics = " ".join(
        f"{_METRIC_LABELS.get(name, name)} {value:.3g}" for name, value in entry["metrics"].items()
    )
    return {
        "name": entry["name"],
        "version": entry["version"],
        "model": f"{entry['family'] or '?'}/{entry['preset'] or '?'}",
        "steps": "-" if entry["steps"] is None else str(entry["steps"]),
        "metrics": metrics or "-",
        "blessed": _blessed(entry),
        "created": entry["created"] or "-",
        "licence": entry["licence"] or "-",
    }


def format_table(voices: list[dict[str, Any]]) -> str:
    """One line per version, voices by name, versions newest first; columns aligned."""
    rows = [_row(entry) for voice in voices for entry in voice["versions"]]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in _COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in _COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in _COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def _voices(args: argparse.Namespace) -> int:
    if "://" in args.push_dir:
        print(
            f"tts-pipeline voices: {args.push_dir!r}: a local directory only (copy or mount it)",
            file=sys.stderr,
        )
        return 2
    try:
        voices = voice_card.list_voices(args.push_dir)
    except FileNotFoundError as error:
        print(f"tts-pipeline voices: {error}", file=sys.stderr)
        return 2
    if not voices:
        print(
            f"tts-pipeline voices: no pushed voices in {args.push_dir!r} (expected "
            "<name>/<version>/saved_model.pb, TF Serving's layout)",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(json.dumps(voices, indent=2))
    else:
        print(format_table(voices))
    return 0


def add_voices_parser(commands) -> argparse.ArgumentParser:
    voices = commands.add_parser(
        "voices",
        help="list the voices in a push directory: versions, model, metrics, blessing",
        description="Each voice under PUSH_DIR/<name>/<version>/ with what its voice card "
        "(voice_card.json) says; versions pushed before cards existed show what their "
        "assets/voice.json offers.",
    )
    voices.add_argument(
        "push_dir", help="a push base (PUSH_DIR/<name>/<version>/) or one voice's base"
    )
    voices.add_argument(
        "--json", action="store_true", help="every version and its whole card, as JSON"
    )
    voices.set_defaults(func=_voices)
    return voices
