"""A voice on disk: which SavedModel directory a path means (a SavedModel, a TF Serving model
base, a pipeline output and its run history) and the wav files synthesis writes.

Standard library only at import (numpy and soundfile load when a wav is written): the CLI,
serving and the TFLite export use it without loading TensorFlow or TFX, which loads only for a
URI (s3://, gs://, hdfs://: models/filesystems.py). The pipeline writes the run history
(pipeline/run_history.py); this module reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from models import filesystems as fs

if TYPE_CHECKING:
    import numpy as np

RUNS_DIR = "runs"
RUN_SUMMARY_FILE = "run_summary.json"  # the same name as pipeline.configs.RUN_SUMMARY_FILE


class NoBlessedVoiceError(FileNotFoundError):
    """An output directory whose runs never blessed (or pushed) a voice."""


def summaries(output_dir: str) -> list[dict[str, Any]]:
    """Every recorded run's summary, newest first; an output directory written before the
    history existed has only its latest summary."""
    found: list[tuple[str, dict]] = []
    runs = os.path.join(output_dir, RUNS_DIR)
    if fs.isdir(runs):
        for name in fs.listdir(runs):
            path = os.path.join(runs, name, RUN_SUMMARY_FILE)
            if fs.isfile(path):
                with fs.open_file(path) as handle:
                    found.append((name, json.load(handle)))
    if not found:
        latest = os.path.join(output_dir, RUN_SUMMARY_FILE)
        if fs.isfile(latest):
            with fs.open_file(latest) as handle:
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
        if voice and fs.exists(voice):
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


def saved_model_versions(model_base: str) -> Iterator[str]:
    """The names of a TF Serving model base's complete versions, newest first: a version is a
    numbered child directory (TF Serving's rule; hidden .partial- pushes and other entries are
    not versions) holding saved_model.pb; none when model_base is not a directory. Lazy: each
    saved_model.pb is looked for when its version's turn comes (file calls cost on a URI).

    serving/versions.py lists differently: every numbered directory, saved_model.pb or not
    yet, since the server judges a version complete by watching it stop changing."""
    if not fs.isdir(model_base):
        return
    for name in sorted((d for d in fs.listdir(model_base) if d.isdigit()), key=int, reverse=True):
        if fs.isfile(os.path.join(model_base, name, "saved_model.pb")):
            yield name


def resolve_saved_model_dir(model_dir: str, allow_unblessed: bool = False) -> str:
    """A SavedModel directory from what a user points at.

    `model_dir` itself if it holds saved_model.pb; a pipeline output directory (it has a
    run_summary.json or runs/): the newest voice one of its runs blessed (pushed, or trained
    and blessed), never an unblessed one (NoBlessedVoiceError says so) unless
    `allow_unblessed` and none is blessed; a TF Serving model base: its highest version.
    """
    if fs.exists(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    if fs.exists(os.path.join(model_dir, RUN_SUMMARY_FILE)) or fs.isdir(
        os.path.join(model_dir, RUNS_DIR)
    ):
        voice = latest_blessed_voice(model_dir, allow_unblessed)
        return resolve_saved_model_dir(voice)
    newest = next(saved_model_versions(model_dir), None)
    if newest is not None:
        return os.path.join(model_dir, newest)
    raise FileNotFoundError(
        f"no SavedModel in {model_dir!r}: expected saved_model.pb there or in a numbered "
        "version directory (TF Serving layout <base>/<name>/<version>/), or a pipeline output"
    )


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM, peak-normalised to -1 dBFS when louder (Griffin-Lim can overshoot)."""
    import numpy as np
    import soundfile as sf

    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    limit = 10 ** (-1 / 20)
    if peak > limit:
        audio = audio * (limit / peak)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sf.write(path, audio, sample_rate, subtype="PCM_16")
