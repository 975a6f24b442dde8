"""A quiet run still shows long work's progress: rate and ETA, at most once a minute."""

import io
import logging
import os

from pipeline import logs

TRAINER_LINE = "Trainer: step %d/1500, 2.56 steps/s, ETA %d s; loss 0.86, mel_loss 0.31"


def _record(message: str, args: tuple, path: str) -> logging.LogRecord:
    return logging.LogRecord("absl", logging.INFO, path, 50, message, args, None)


def test_progress_lines_reach_the_terminal_throttled_and_without_losses():
    terminal = io.StringIO()
    handler = logs._Progress(terminal)
    ours = os.path.join(os.path.dirname(logs.__file__), "..", "models", "training_callbacks.py")
    ours = os.path.abspath(ours)
    handler.emit(_record(TRAINER_LINE, (50, 570), ours))
    handler.emit(_record(TRAINER_LINE, (100, 550), ours))  # within the minute: not shown
    handler.emit(_record(TRAINER_LINE, (150, 530), "/elsewhere/tfx/trainer.py"))  # not ours
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("Trainer: step 50/1500, 2.56 steps/s, ETA 570 s")
    handler.last_progress["Trainer"] -= logs.PROGRESS_EVERY_S  # a minute later
    handler.emit(_record(TRAINER_LINE, (200, 500), ours))
    assert terminal.getvalue().splitlines()[-1].endswith("step 200/1500, 2.56 steps/s, ETA 500 s")
