"""Run history under an output directory: OUTPUT/runs/<run id>/ (summary, resolved config)
and OUTPUT/run_summary.json (the latest run). Reading it back, and the voice a finished run
blessed: models/voice_files.py (synthesis and serving need that without the pipeline).

Standard library only (voice_files too), so the CLI writes it without loading TFX.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from models.voice_files import RUN_SUMMARY_FILE, RUNS_DIR

RUN_CONFIG_FILE = "run_config.json"


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
