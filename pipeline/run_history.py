"""Run history under an output directory: OUTPUT/runs/<run id>/ (summary, resolved config),
OUTPUT/run_summary.json (the latest run), and the voice a finished run blessed.

Standard library only, so `synthesize` and the CLI read it without loading TFX.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

RUNS_DIR = "runs"
RUN_SUMMARY_FILE = "run_summary.json"  # the same name as pipeline.configs.RUN_SUMMARY_FILE
RUN_CONFIG_FILE = "run_config.json"


class NoBlessedVoiceError(FileNotFoundError):
    """An output directory whose runs never blessed (or pushed) a voice."""


def new_run_id(output_dir: str) -> str:
    """`20261130T232043`: sortable, safe in a file name; unique under output_dir."""
    base = time.strftime("%Y%m%dT%H%M%S")
    run_id, n = base, 1
    while os.path.exists(run_dir(output_dir, run_id)):
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def run_dir(output_dir: str, run_id: str) -> str:
    return os.path.join(output_dir, RUNS_DIR, run_id)


def _write_json(value: Any, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def write_run_config(config: dict[str, Any], output_dir: str, run_id: str) -> str:
    path = os.path.join(run_dir(output_dir, run_id), RUN_CONFIG_FILE)
    _write_json(config, path)
    return path


def record_summary(summary: dict[str, Any], output_dir: str, run_id: str) -> str:
    """Writes runs/<run id>/run_summary.json and the latest pointer OUTPUT/run_summary.json
    (a copy, not a link: it survives a copied or synced output directory)."""
    summary = {**summary, "run_id": summary.get("run_id") or run_id}
    _write_json(summary, os.path.join(run_dir(output_dir, run_id), RUN_SUMMARY_FILE))
    latest = os.path.join(output_dir, RUN_SUMMARY_FILE)
    _write_json(summary, latest)
    return latest


def summaries(output_dir: str) -> list[dict[str, Any]]:
    """Every recorded run's summary, newest first; an output directory written before the
    history existed has only its latest summary."""
    found: list[tuple[str, dict]] = []
    runs = os.path.join(output_dir, RUNS_DIR)
    if os.path.isdir(runs):
        for name in os.listdir(runs):
            path = os.path.join(runs, name, RUN_SUMMARY_FILE)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    found.append((name, json.load(handle)))
    if not found:
        latest = os.path.join(output_dir, RUN_SUMMARY_FILE)
        if os.path.isfile(latest):
            with open(latest, encoding="utf-8") as handle:
                found.append(("", json.load(handle)))
    return [summary for _, summary in sorted(found, key=lambda item: item[0], reverse=True)]


def blessed_voice(summary: dict[str, Any]) -> str | None:
    """The voice this run pushed, else the one it trained if the Evaluator blessed it."""
    components = summary.get("components", {})
    pusher = components.get("Pusher", {})
    if pusher.get("pushed") and pusher.get("pushed_destination"):
        return pusher["pushed_destination"]
    if components.get("Evaluator", {}).get("blessed"):
        return components.get("Trainer", {}).get("serving_model_dir")
    return None


def latest_blessed_voice(output_dir: str, allow_unblessed: bool = False) -> str:
    """The newest voice a run under output_dir blessed and that is still on disk; raises
    NoBlessedVoiceError (naming the newest unblessed one, if any) otherwise, or with
    `allow_unblessed` returns that newest trained voice."""
    history = summaries(output_dir)
    unblessed = None
    for summary in history:
        voice = blessed_voice(summary)
        if voice and ("://" in voice or os.path.exists(voice)):
            return voice
        trained = summary.get("components", {}).get("Trainer", {}).get("serving_model_dir")
        unblessed = unblessed or trained
    if allow_unblessed and unblessed:
        return unblessed
    hint = (
        f"; the newest trained voice, {unblessed}, was not blessed (a run stopped by --until "
        "before the Evaluator, or refused: see the evaluation report); --allow-unblessed "
        "speaks with it anyway"
        if unblessed
        else ""
    )
    raise NoBlessedVoiceError(
        f"no blessed voice in {output_dir!r} ({len(history)} runs recorded){hint}"
    )
