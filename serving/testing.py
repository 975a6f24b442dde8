"""Small untrained voices in TF Serving's layout, for the serving tests and benchmark."""

from __future__ import annotations

import os
import shutil

SMALL_EXPORT = {"max_frames": 400, "griffin_lim_iterations": 4}


def export_voice(export_dir: str, seed: int = 0, family: str = "attention") -> str:
    """Exports an untrained `small` model (a few seconds); the seed tells versions apart."""
    from models.testing import export_untrained_voice

    return export_untrained_voice(export_dir, family, seed, **SMALL_EXPORT)


def push_like_pusher(source: str, destination: str, before_saved_model=None) -> None:
    """Copies a SavedModel the way TFX's Pusher does: everything else first, saved_model.pb last.

    `before_saved_model()` runs in between, while the version directory is half written.
    """
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("saved_model.pb"))
    if before_saved_model is not None:
        before_saved_model()
    shutil.copy2(
        os.path.join(source, "saved_model.pb"), os.path.join(destination, "saved_model.pb")
    )
