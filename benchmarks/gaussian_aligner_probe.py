"""Probe for the next aligner: Grad-TTS-style alignment on the demo corpus, beside the current one.

    .venv/bin/python benchmarks/gaussian_aligner_probe.py \
        --transform-output OUT/pipeline_root/Transform [--steps 600] [--plot-dir /tmp/probe]

The current aligner (forward-sum over a learned query/key distance) collapses into a staircase
on the demo corpus (docs/figures/alignment-collapse-*): its learned query network can make any
monotonic alignment confident. Here each token instead predicts a mel mean from the encoder,
monotonic alignment search runs on the Gaussian log-likelihood of the reference frames under
those means (plus the beta-binomial prior), and an MSE "prior loss" trains the means on the
found path: a wrong path cannot be made confident without predicting the mel. Prints the loss
terms every 50 steps and writes the hard alignment of one held-out utterance every 200.
Research code: a FastSpeech subclass, not a registered family.
"""

from __future__ import annotations

import argparse
import glob
import os

import keras
import tensorflow_transform as tft
from keras import ops
from train_budget import plot_alignment  # the benchmark beside this one (same directory)

from models import data
from models.fastspeech import FastSpeech
from models.layers.alignment import beta_binomial_log_prior, monotonic_alignment_search
from models.layers.nar_blocks import sequence_mask
from models.registry import MEL, MEL_LENGTH, TOKEN_IDS, TOKEN_LENGTH
from models.schedules import WarmupInverseSqrt


class GaussianAlignedFastSpeech(FastSpeech):
    """FastSpeech whose durations come from token mel means, not the forward-sum aligner."""

    def build(self, batch_shape):
        super().build(batch_shape)
        c = self.model_config
        self.token_mel_mean = keras.layers.Dense(c.n_mels, name="token_mel_mean")
        self.token_mel_mean.build((None, None, c.hidden_dim))

    def call(self, batch, training=False):
        c = self.model_config
        token_ids, token_length = batch[TOKEN_IDS], ops.cast(batch[TOKEN_LENGTH], "int32")
        mel, mel_length = ops.cast(batch[MEL], "float32"), ops.cast(batch[MEL_LENGTH], "int32")
        max_tokens, max_frames = ops.shape(token_ids)[1], ops.shape(mel)[1]
        token_mask = sequence_mask(token_length, max_tokens)
        frame_mask = sequence_mask(mel_length, max_frames)
        encoded = self._encode(self._embed(token_ids, token_mask), token_mask, training)
        means = self.token_mel_mean(encoded)
        squared = (
            ops.sum(mel**2, -1)[:, :, None]
            + ops.sum(means**2, -1)[:, None, :]
            - 2.0 * ops.einsum("bfd,btd->bft", mel, means)
        )
        # Per-band average log-likelihood, so the prior keeps its weight whatever n_mels is.
        log_likelihood = -0.5 * squared / c.n_mels + beta_binomial_log_prior(
            token_length, mel_length, max_tokens, max_frames, c.alignment_prior_scaling
        )
        hard, durations = monotonic_alignment_search(log_likelihood, token_length, mel_length)
        frames = ops.einsum("bft,btd->bfd", hard, encoded)
        _, mel_out = self._decode(frames, frame_mask, training)
        log_duration = self.duration_predictor(
            ops.stop_gradient(encoded), padding_mask=token_mask, training=training
        )
        return {
            "mel": mel_out,
            "mel_length": mel_length,
            "durations": durations,
            "log_duration_pred": log_duration,
            "aligned_means": ops.einsum("bft,btd->bfd", hard, means),
            "soft_alignment": hard,  # what the benchmarks' alignment plot draws
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target = ops.cast(x[MEL], "float32")
        frame_mask = ops.cast(sequence_mask(x[MEL_LENGTH], ops.shape(target)[1]), "float32")
        token_mask = ops.cast(sequence_mask(x[TOKEN_LENGTH], ops.shape(x[TOKEN_IDS])[1]), "float32")
        mel_loss = self._mel_loss(y_pred["mel"], target, frame_mask)
        squared_error = ops.square(y_pred["aligned_means"] - target) * frame_mask[:, :, None]
        prior_loss = ops.sum(squared_error) / ops.maximum(ops.sum(frame_mask) * 80.0, 1.0)
        log_target = ops.log(ops.cast(y_pred["durations"], "float32") + 1.0)
        duration_loss = ops.sum(
            ops.square(y_pred["log_duration_pred"] - log_target) * token_mask
        ) / ops.maximum(ops.sum(token_mask), 1.0)
        self.mel_loss_tracker.update_state(mel_loss)
        self.forward_sum_loss_tracker.update_state(prior_loss)  # reported as forward_sum_loss
        self.duration_loss_tracker.update_state(duration_loss)
        return mel_loss + prior_loss + duration_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transform-output", required=True, help="a Transform's output dir")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--plot-dir", default="/tmp/gaussian-aligner-probe")
    args = parser.parse_args()
    os.makedirs(args.plot_dir, exist_ok=True)
    graph = sorted(glob.glob(os.path.join(args.transform_output, "transform_graph", "*")))[-1]
    examples = sorted(glob.glob(os.path.join(args.transform_output, "transformed_examples", "*")))
    spec = tft.TFTransformOutput(graph).transformed_feature_spec()
    train = glob.glob(os.path.join(examples[-1], "Split-train", "*"))
    held_out = glob.glob(os.path.join(examples[-1], "Split-eval", "*"))
    keras.utils.set_random_seed(0)
    model = GaussianAlignedFastSpeech(FastSpeech.presets["small"])
    model.compile(optimizer=keras.optimizers.Adam(WarmupInverseSqrt(1e-3, 200), clipnorm=1.0))
    batch = next(iter(data.make_dataset(held_out, spec, 8, shuffle=False, repeat=False)))

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            step = (epoch + 1) * 50
            print(step, {k: round(v, 3) for k, v in (logs or {}).items() if v}, flush=True)
            if step % 200 == 0:
                path = os.path.join(args.plot_dir, f"alignment-{step}.png")
                plot_alignment(self.model, batch, path)

    model.fit(
        data.make_dataset(train, spec, 8),
        epochs=max(1, args.steps // 50),
        steps_per_epoch=50,
        callbacks=[Report()],
        verbose=0,
    )


if __name__ == "__main__":
    main()
