"""Tacotron 2 (Shen et al. 2018, NVIDIA hparams) in backend-agnostic Keras 3: config, presets,
model, losses; its blocks live in models/layers/tacotron2_blocks.py."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from models.layers.nar_blocks import sequence_mask
from models.layers.tacotron2_blocks import (
    Tacotron2Decoder,
    Tacotron2Encoder,
    Tacotron2Postnet,
    offset_seed,
)
from models.losses import per_replica
from models.text.symbols import SYMBOLS


@dataclasses.dataclass(frozen=True)
class Tacotron2Config:
    """Every hyperparameter, read top to bottom (defaults: the paper / NVIDIA `base`)."""

    vocab_size: int = len(SYMBOLS)
    n_mels: int = 80
    # Encoder
    embedding_dim: int = 512
    encoder_conv_layers: int = 3
    encoder_conv_filters: int = 512
    encoder_kernel_size: int = 5
    encoder_dropout: float = 0.5
    encoder_lstm_units: int = 256  # per direction
    # Attention: "location" (location-sensitive, the paper's) or "dynamic_convolution"
    # (Battenberg et al. 2020: location-relative, static + dynamic filters of the previous
    # alignment and a causal beta-binomial prior; `location_*` size its static filters).
    attention: str = "location"
    attention_dim: int = 128
    location_filters: int = 32
    location_kernel_size: int = 31
    dynamic_filters: int = 8
    prior_length: int = 11  # moves of 0..10 tokens per decoder step
    prior_alpha: float = 0.1
    prior_beta: float = 0.9
    # Decoder
    reduction_factor: int = 1  # frames per decoder step
    prenet_units: tuple[int, ...] = (256, 256)
    prenet_dropout: float = 0.5  # always on, also at inference; 0.0 turns it off
    attention_rnn_units: int = 1024
    decoder_rnn_units: int = 1024
    zoneout: float = 0.1
    gate_threshold: float = 0.5
    max_decoder_steps: int = 1000
    # Free-running only: the attention peak may move at most this many tokens back / forward
    # per decoder step (Tacotron2Decoder._attention_window); forward 0 leaves it free. Off by
    # default: with the small recipe at 1,071 steps, forward 3 made the voice no more
    # intelligible (0.02 vs 0.01) and three times too long (its attention crawls).
    attention_window_backward: int = 1
    attention_window_forward: int = 0
    # Postnet
    postnet_layers: int = 5
    postnet_filters: int = 512
    postnet_kernel_size: int = 5
    postnet_dropout: float = 0.5
    # Loss
    mel_loss: str = "mse"  # "mse" or "l1"
    gate_pos_weight: float = 1.0
    guided_attention: bool = False
    guided_attention_weight: float = 1.0
    guided_attention_sigma: float = 0.2
    seed: int | None = None  # seeds every dropout / zoneout draw; None: random

    def __post_init__(self):
        if self.reduction_factor < 1:
            raise ValueError(
                f"Tacotron2Config.reduction_factor must be >= 1, got {self.reduction_factor}"
            )
        if self.attention not in ("location", "dynamic_convolution"):
            raise ValueError(
                "Tacotron2Config.attention must be 'location' or 'dynamic_convolution', "
                f"got {self.attention!r}"
            )
        if self.mel_loss not in ("mse", "l1"):
            raise ValueError(
                f"Tacotron2Config.mel_loss must be 'mse' or 'l1', got {self.mel_loss!r}"
            )
        if not 0.0 <= self.prenet_dropout < 1.0:
            raise ValueError(
                f"Tacotron2Config.prenet_dropout must be in [0, 1), got {self.prenet_dropout}"
            )
        object.__setattr__(self, "prenet_units", tuple(self.prenet_units))  # JSON gives lists

    @classmethod
    def from_dict(cls, values: dict) -> Tacotron2Config:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown Tacotron2Config fields: {', '.join(sorted(unknown))}")
        return cls(**values)


CONFIGS = {
    "small": Tacotron2Config(
        embedding_dim=64,
        encoder_conv_layers=2,
        encoder_conv_filters=64,
        encoder_lstm_units=32,
        attention_dim=32,
        location_filters=8,
        prenet_units=(64, 64),
        attention_rnn_units=128,
        decoder_rnn_units=128,
        max_decoder_steps=250,
        postnet_layers=3,
        postnet_filters=64,
        # The CPU-budget recipe (benchmarks/time_to_intelligible.py, 400-sentence demo corpus,
        # 2 cores, ~1 step/s): 3 frames per step, a guided-attention pull of 10 and a stop
        # target weighted 10. With location-sensitive attention it aligned teacher-forced
        # (diagonality 0.96 after 399 steps), but free-running no held-out utterance stopped
        # (length ratio 5.2), and at r = 5 none reached its last token after 1,562 steps: its
        # content-based energies lose the text on the voice's own blurry frames. Dynamic
        # convolution attention only sees where it attended and how far to move on: at 374-433
        # steps 56-100 % of the utterances stop, and from 592 steps every one reads to its end
        # and stops (length ratio 0.92-0.95). Intelligible it is not yet (0.02 at 815 steps).
        attention="dynamic_convolution",
        location_kernel_size=21,  # the paper's 21-tap static and dynamic filters
        reduction_factor=3,
        guided_attention=True,
        guided_attention_weight=10.0,
        gate_pos_weight=10.0,
    ),
    "base": Tacotron2Config(),
}


@keras.saving.register_keras_serializable(package="tts")
class Tacotron2(keras.Model):
    """Token ids -> mel frames; see models/registry.py for the batch and method contract."""

    def __init__(self, config: Tacotron2Config | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = Tacotron2Config.from_dict(config)
        self.model_config = config = config or Tacotron2Config()
        seed = config.seed
        self.encoder = Tacotron2Encoder(
            config.vocab_size,
            config.embedding_dim,
            config.encoder_conv_layers,
            config.encoder_conv_filters,
            config.encoder_kernel_size,
            config.encoder_dropout,
            config.encoder_lstm_units,
            seed=offset_seed(seed, 100),
            name="encoder",
        )
        self.decoder = Tacotron2Decoder(
            config.n_mels,
            config.reduction_factor,
            config.prenet_units,
            config.prenet_dropout,
            config.attention_rnn_units,
            config.decoder_rnn_units,
            config.attention_dim,
            config.location_filters,
            config.location_kernel_size,
            config.zoneout,
            seed=offset_seed(seed, 200),
            attention_window_backward=config.attention_window_backward,
            attention_window_forward=config.attention_window_forward,
            attention=config.attention,
            dynamic_filters=config.dynamic_filters,
            prior_length=config.prior_length,
            prior_alpha=config.prior_alpha,
            prior_beta=config.prior_beta,
            name="decoder",
        )
        self.postnet = Tacotron2Postnet(
            config.n_mels,
            config.postnet_layers,
            config.postnet_filters,
            config.postnet_kernel_size,
            config.postnet_dropout,
            seed=offset_seed(seed, 300),
            name="postnet",
        )
        self.mel_loss_tracker = keras.metrics.Mean(name="mel_loss")
        self.postnet_mel_loss_tracker = keras.metrics.Mean(name="postnet_mel_loss")
        self.gate_loss_tracker = keras.metrics.Mean(name="gate_loss")
        self.guided_attention_loss_tracker = (
            keras.metrics.Mean(name="guided_attention_loss") if config.guided_attention else None
        )
        self.build()

    @classmethod
    def from_preset(cls, preset: str = "small", **overrides) -> Tacotron2:
        """A new model from a CONFIGS preset with config fields overridden by keyword."""
        if preset not in CONFIGS:
            raise ValueError(
                f"unknown Tacotron2 preset {preset!r}; presets are: {', '.join(CONFIGS)}"
            )
        fields = {**dataclasses.asdict(CONFIGS[preset]), **overrides}
        return cls(Tacotron2Config.from_dict(fields))

    def build(self, input_shape=None):
        # Every shape follows from the config, so the model is built at construction.
        self.encoder.build()
        self.decoder.build((None, None, self.encoder.output_dim))
        self.postnet.build()
        self.built = True

    def call(self, inputs: dict, training: bool = False) -> dict:
        """Teacher-forced pass over a padded batch (models/registry.py BATCH_KEYS)."""
        r, n_mels = self.model_config.reduction_factor, self.model_config.n_mels
        token_ids = ops.cast(inputs["token_ids"], "int32")
        mel = ops.cast(inputs["mel"], self.compute_dtype)
        batch, tokens, frames = ops.shape(token_ids)[0], ops.shape(token_ids)[1], ops.shape(mel)[1]
        token_mask = sequence_mask(inputs["token_length"], tokens)
        frame_mask = sequence_mask(inputs["mel_length"], frames)
        memory = self.encoder(token_ids, token_mask, training=training)

        steps = (frames + r - 1) // r
        if r > 1:  # pad the frames to a whole number of r-groups
            mel = ops.concatenate([mel, ops.zeros((batch, r - 1, n_mels), mel.dtype)], axis=1)
            mel = mel[:, : steps * r]
        # Prenet input at step s: the last frame of r-group s - 1 (the go frame at s = 0).
        last_frames = ops.reshape(mel, (batch, steps, r, n_mels))[:, :, -1, :]
        decoder_inputs = ops.concatenate(
            [ops.zeros((batch, 1, n_mels), mel.dtype), last_frames[:, :-1]], axis=1
        )
        mel_before, gate, alignment = self.decoder(
            memory, token_mask, decoder_inputs, training=training
        )
        keep = ops.cast(frame_mask, mel_before.dtype)[..., None]
        mel_before = mel_before[:, :frames] * keep
        mel_after = mel_before + self.postnet(mel_before, frame_mask, training=training)
        return {
            "mel_before": mel_before,
            "mel_after": mel_after,
            "gate": gate[:, :frames],
            "alignment": alignment,
        }

    def infer(self, token_ids, token_length, max_frames: int | None = None) -> dict:
        """Free-running synthesis (encoder and postnet in inference mode, prenet dropout on).

        Output buffers have a fixed size: mel is [B, max_frames or max_decoder_steps * r,
        n_mels], zero past each mel_length; alignment [B, steps, T], zero past each stop.
        """
        r = self.model_config.reduction_factor
        max_steps = (
            self.model_config.max_decoder_steps if max_frames is None else math.ceil(max_frames / r)
        )
        max_frames = max_steps * r if max_frames is None else int(max_frames)
        token_ids = ops.cast(token_ids, "int32")
        token_mask = sequence_mask(token_length, ops.shape(token_ids)[1])
        memory = self.encoder(token_ids, token_mask, training=False)
        out = self.decoder.infer(memory, token_mask, max_steps, self.model_config.gate_threshold)
        mel_length = ops.minimum(out["mel_length"], max_frames)
        frame_mask = sequence_mask(mel_length, max_frames)
        mel_before = (
            out["mel"][:, :max_frames] * ops.cast(frame_mask, self.compute_dtype)[..., None]
        )
        mel = mel_before + self.postnet(mel_before, frame_mask, training=False)
        step_mask = sequence_mask((mel_length + r - 1) // r, max_steps)
        return {
            "mel": mel,
            "mel_before": mel_before,
            "mel_length": mel_length,
            "alignment": out["alignment"] * ops.cast(step_mask, self.compute_dtype)[..., None],
            "stopped": out["stopped"],
            "decoder_steps": out["decoder_steps"],
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Masked mel loss before and after the postnet, gate BCE, optional guided attention."""
        config = self.model_config
        if y_pred is None:
            y_pred = self(x, training=training)
        mel = ops.cast(x["mel"], "float32")
        frames = ops.shape(mel)[1]
        mel_length = ops.cast(x["mel_length"], "int32")
        frame_mask = ops.cast(sequence_mask(mel_length, frames), "float32")
        num_frames = ops.maximum(ops.sum(frame_mask), 1.0)

        def mel_loss(pred):
            error = ops.cast(pred, "float32") - mel
            error = ops.square(error) if config.mel_loss == "mse" else ops.abs(error)
            return ops.sum(error * frame_mask[..., None]) / (num_frames * config.n_mels)

        mel_before_loss = mel_loss(y_pred["mel_before"])
        mel_after_loss = mel_loss(y_pred["mel_after"])
        # Stop target: 1 at the last real frame, 0 before; frames after it are not scored.
        logits = ops.cast(y_pred["gate"], "float32")
        target = ops.cast(
            ops.arange(frames, dtype="int32")[None, :] == (mel_length - 1)[:, None], "float32"
        )
        positive = config.gate_pos_weight * target * ops.softplus(-logits)  # -log(sigmoid)
        negative = (1.0 - target) * ops.softplus(logits)  # -log(1 - sigmoid)
        gate_loss = ops.sum((positive + negative) * frame_mask) / num_frames
        total = mel_before_loss + mel_after_loss + gate_loss
        self.mel_loss_tracker.update_state(mel_before_loss)
        self.postnet_mel_loss_tracker.update_state(mel_after_loss)
        self.gate_loss_tracker.update_state(gate_loss)
        if config.guided_attention:
            r = config.reduction_factor
            guided = guided_attention_loss(
                y_pred["alignment"],
                x["token_length"],
                (mel_length + r - 1) // r,
                config.guided_attention_sigma,
            )
            self.guided_attention_loss_tracker.update_state(guided)
            total = total + config.guided_attention_weight * guided
        if self.losses:
            total = total + ops.sum(self.losses)
        return per_replica(total)

    def get_config(self):
        return {**super().get_config(), "config": dataclasses.asdict(self.model_config)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config=Tacotron2Config.from_dict(config.pop("config")), **config)


def guided_attention_loss(alignment, token_length, step_length, sigma: float = 0.2):
    """Tachibana et al. 2018: mean of A[n, t] * (1 - exp(-(n/N - t/T)^2 / (2 sigma^2)))
    over each item's real decoder steps N and tokens T."""
    alignment = ops.cast(alignment, "float32")
    steps, tokens = ops.shape(alignment)[1], ops.shape(alignment)[2]
    n = ops.cast(ops.arange(steps, dtype="int32"), "float32")[None, :, None]
    t = ops.cast(ops.arange(tokens, dtype="int32"), "float32")[None, None, :]
    big_n = ops.cast(ops.maximum(step_length, 1), "float32")[:, None, None]
    big_t = ops.cast(ops.maximum(token_length, 1), "float32")[:, None, None]
    penalty = 1.0 - ops.exp(-ops.square(n / big_n - t / big_t) / (2.0 * sigma**2))
    valid = ops.logical_and(
        sequence_mask(step_length, steps)[:, :, None],
        sequence_mask(token_length, tokens)[:, None, :],
    )
    valid = ops.cast(valid, "float32")
    return ops.sum(alignment * penalty * valid) / ops.maximum(ops.sum(valid), 1.0)


def alignment_score(
    alignment,
    token_length,
    mel_length,
    reduction_factor: int = 1,
    band: float = 0.2,
) -> dict[str, float]:
    """How well attention aligns (numpy, for tests and evaluation), averaged over the batch.

    focus_rate: mean over real decoder steps of the largest attention weight (1 = sharp).
    diagonality: mean attention mass within `band` of the diagonal, positions normalised by
    each item's token count and decoder steps (1 = on the diagonal, ~2 * band if uniform).
    """
    alignment = np.asarray(alignment, np.float64)
    focus, diagonal = [], []
    lengths = zip(alignment, np.asarray(token_length), np.asarray(mel_length), strict=True)
    for a, t_len, f_len in lengths:
        n_len = max(1, math.ceil(int(f_len) / reduction_factor))
        t_len = max(1, int(t_len))
        a = a[:n_len, :t_len]
        n_pos = (np.arange(n_len) + 0.5) / n_len
        t_pos = (np.arange(t_len) + 0.5) / t_len
        near = np.abs(n_pos[:, None] - t_pos[None, :]) <= band
        focus.append(a.max(axis=1).mean())
        diagonal.append((a * near).sum(axis=1).mean())
    return {"focus_rate": float(np.mean(focus)), "diagonality": float(np.mean(diagonal))}
