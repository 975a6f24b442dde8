"""Keras callbacks for the Trainer: progress lines with rate and ETA, and TensorBoard speech
summaries (mel and alignment images, a Griffin-Lim audio sample) on a fixed eval batch."""

from __future__ import annotations

import io
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from models import registry
from models.features import AUDIO
from models.vocoder import griffin_lim

_LOG_EVERY_S = 15.0


class ProgressLogger(keras.callbacks.Callback):
    """One line every ~15 s: step, steps/s, ETA and the running losses."""

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = total_steps
        self.steps_done = 0
        self._start = None
        self._last = 0.0

    @property
    def steps_per_second(self) -> float:
        if not self._start or not self.steps_done:
            return 0.0
        return self.steps_done / (time.monotonic() - self._start)

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self._last = self._start

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done += 1
        now = time.monotonic()
        if now - self._last < _LOG_EVERY_S and self.steps_done != self.total_steps:
            return
        self._last = now
        rate = self.steps_per_second
        eta = (self.total_steps - self.steps_done) / rate if rate else float("nan")
        losses = ", ".join(f"{k} {float(v):.4f}" for k, v in sorted((logs or {}).items()))
        logging.info(
            "Trainer: step %d/%d, %.2f steps/s, ETA %.0f s; %s",
            self.steps_done,
            self.total_steps,
            rate,
            eta,
            losses,
        )


class WallClockBudget(keras.callbacks.Callback):
    """Stops training once `seconds` of wall clock have passed (a fixed CPU budget)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start > self.seconds:
            logging.info("Trainer: wall-clock budget of %.0f s reached", self.seconds)
            self.model.stop_training = True


def _plot_png(target: np.ndarray, predicted: np.ndarray, alignment: np.ndarray) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 8))
    for ax, image, title in (
        (axes[0], target.T, "target log-mel (normalised)"),
        (axes[1], predicted.T, "predicted log-mel, teacher-forced"),
        (axes[2], alignment.T, "alignment (tokens x decoder steps)"),
    ):
        shown = ax.imshow(image, origin="lower", aspect="auto", interpolation="none")
        ax.set_title(title)
        fig.colorbar(shown, ax=ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


class SpeechSummaries(keras.callbacks.Callback):
    """Each epoch: mel/alignment images and a free-running audio sample in TensorBoard."""

    def __init__(self, log_dir: str, batch: dict, mel_mean, mel_std, griffin_lim_iterations=16):
        super().__init__()
        self.writer = tf.summary.create_file_writer(f"{log_dir}/speech")
        self.batch = {k: v[:1] for k, v in batch.items()}
        self.mel_mean = np.asarray(mel_mean, np.float32)
        self.mel_std = np.asarray(mel_std, np.float32)
        self.griffin_lim_iterations = griffin_lim_iterations

    def on_epoch_end(self, epoch, logs=None):
        tokens = int(self.batch[registry.TOKEN_LENGTH][0])
        frames = int(self.batch[registry.MEL_LENGTH][0])
        outputs = self.model(self.batch, training=False)
        predicted, alignment = registry.teacher_forced_views(outputs)
        predicted = np.asarray(predicted, np.float32)[0, :frames]
        alignment = np.asarray(alignment, np.float32)[0, :, :tokens]
        target = np.asarray(self.batch[registry.MEL])[0, :frames]
        png = _plot_png(target, predicted, alignment)

        synthesis = self.model.infer(
            self.batch[registry.TOKEN_IDS], self.batch[registry.TOKEN_LENGTH], max_frames=2 * frames
        )
        mel = np.asarray(synthesis["mel"], np.float32) * self.mel_std + self.mel_mean
        audio, audio_length = griffin_lim(
            mel, np.asarray(synthesis["mel_length"]), n_iter=self.griffin_lim_iterations
        )
        audio = audio[:, : int(audio_length[0])]
        with self.writer.as_default(step=epoch):
            tf.summary.image("mel_and_alignment", tf.image.decode_png(png)[tf.newaxis], step=epoch)
            tf.summary.audio(
                "free_running_sample", audio[..., tf.newaxis], AUDIO.sample_rate, step=epoch
            )
        self.writer.flush()
