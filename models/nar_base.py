"""Shared skeleton of the non-autoregressive acoustic models (FastSpeech, Mixer-TTS): encoder,
alignment by monotonic search on token mel means, duration predictor, decoder, losses.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from models.layers.alignment import (
    beta_binomial_log_prior,
    gaussian_log_likelihood,
    monotonic_alignment_search,
)
from models.layers.nar_blocks import (
    DurationPredictor,
    LengthRegulator,
    Postnet,
    SinusoidalPositionalEncoding,
    apply_mask,
    sequence_mask,
)
from models.losses import per_replica
from models.registry import MEL, MEL_LENGTH, TOKEN_IDS, TOKEN_LENGTH
from models.text.symbols import SYMBOLS


@dataclasses.dataclass
class NARConfig:
    """Hyperparameters shared by the non-autoregressive families (read top to bottom)."""

    vocab_size: int = len(SYMBOLS)
    n_mels: int = 80
    hidden_dim: int = 64
    encoder_layers: int = 2
    decoder_layers: int = 2
    dropout: float = 0.1
    # Token embeddings start N(0, stddev); 0 keeps Keras's uniform(-0.05, 0.05). A family that
    # adds a sine position code (amplitude 1) starts its tokens at that scale, or the encoder's
    # input is mostly position and token identity must first grow out of it.
    embedding_stddev: float = 0.0
    # Duration predictor (on the detached encoder output).
    duration_filters: int = 64
    duration_kernel_size: int = 3
    duration_dropout: float = 0.1
    # Synthesis uses the mean duration the predictor's learned spread implies (True), or the
    # median its log-domain regression gives (False: speech ~20% short on a small voice).
    duration_mean_correction: bool = True
    # Alignment (Grad-TTS, Popov et al. 2021): each token predicts a mel mean from the encoder;
    # the durations are the monotonic path that best explains the reference under those means
    # and the beta-binomial prior (Badlani et al. 2021) that keeps early paths near the diagonal.
    use_alignment_prior: bool = True
    alignment_prior_scaling: float = 1.0
    # Each expanded frame also gets where it sits in its token (progress 0..1, log duration):
    # frames of one token are otherwise identical copies, and the decoder must infer the
    # position from its neighbours before it can shape a sound's onset, middle and end.
    token_position_features: bool = True
    # Optional residual conv postnet on the mel; 0 layers = none.
    postnet_layers: int = 0
    postnet_filters: int = 256
    postnet_kernel_size: int = 5
    # Losses.
    mel_loss: str = "l1"  # "l1" or "l2", masked by mel_length
    duration_loss_weight: float = 1.0
    # MSE of the token means on the found path: what makes the path mean something.
    prior_loss_weight: float = 1.0

    def __post_init__(self):
        if self.mel_loss not in ("l1", "l2"):
            raise ValueError(
                f"{type(self).__name__}.mel_loss must be 'l1' or 'l2', got {self.mel_loss!r}"
            )


class NonAutoregressiveTTS(keras.Model):
    """Token ids -> encoder -> (searched durations | predicted durations) -> decoder -> mel.

    Training (`call` with a target mel): monotonic alignment search finds the durations under
    which the tokens' predicted mel means best explain the reference; that hard alignment
    expands the encoder states to mel frames, and its durations are the duration predictor's
    target. `infer` uses the predicted durations.

    Why not a separately learned aligner (forward-sum loss): on the demo corpus its query
    network made any monotonic path confident, and it collapsed into a staircase where a few
    tokens took most frames (docs/figures/alignment-collapse-*). A path here is only likely if
    the tokens on it predict the frames it gives them.
    Subclasses set `config_class`, `presets` and `_make_block`.
    """

    config_class: type[NARConfig] = NARConfig
    presets: dict[str, NARConfig] = {}
    use_positional_encoding: bool = False

    def __init__(self, config: NARConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = self.config_class()
        elif isinstance(config, dict):
            config = self.config_class(**config)
        self.model_config = config
        c = config
        self.embedding = keras.layers.Embedding(
            c.vocab_size,
            c.hidden_dim,
            embeddings_initializer=(
                keras.initializers.RandomNormal(stddev=c.embedding_stddev)
                if c.embedding_stddev > 0
                else "uniform"
            ),
            name="embedding",
        )
        self.positional_encoding = SinusoidalPositionalEncoding(name="positional_encoding")
        self.encoder_blocks = [self._make_block("encoder", i) for i in range(c.encoder_layers)]
        self.decoder_blocks = [self._make_block("decoder", i) for i in range(c.decoder_layers)]
        self.token_mel_mean = keras.layers.Dense(c.n_mels, name="token_mel_mean")
        self.duration_predictor = DurationPredictor(
            c.duration_filters,
            c.duration_kernel_size,
            c.duration_dropout,
            name="duration_predictor",
        )
        self.length_regulator = LengthRegulator(name="length_regulator")
        self.token_position = (
            keras.layers.Dense(c.hidden_dim, name="token_position")
            if c.token_position_features
            else None
        )
        self.mel_projection = keras.layers.Dense(c.n_mels, name="mel_projection")
        self.postnet = (
            Postnet(
                c.postnet_layers,
                c.postnet_filters,
                c.postnet_kernel_size,
                c.dropout,
                name="postnet",
            )
            if c.postnet_layers > 0
            else None
        )
        self.mel_loss_tracker = keras.metrics.Mean(name="mel_loss")
        self.duration_loss_tracker = keras.metrics.Mean(name="duration_loss")
        self.prior_loss_tracker = keras.metrics.Mean(name="prior_loss")

    def _make_block(self, stack: str, index: int) -> keras.layers.Layer:
        """The encoder/decoder block: `stack` is "encoder" or "decoder"."""
        raise NotImplementedError

    @classmethod
    def from_preset(cls, preset: str = "small", **overrides) -> NonAutoregressiveTTS:
        if preset not in cls.presets:
            raise ValueError(
                f"{cls.__name__}: unknown preset {preset!r}; presets are {sorted(cls.presets)}"
            )
        fields = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown config fields {unknown}; fields are {sorted(fields)}"
            )
        return cls(dataclasses.replace(cls.presets[preset], **overrides))

    def build(self, batch_shape):
        c = self.model_config
        hidden = (None, None, c.hidden_dim)
        mel = (None, None, c.n_mels)
        self.embedding.build((None, None))
        for block in [*self.encoder_blocks, *self.decoder_blocks]:
            block.build(hidden)
        self.token_mel_mean.build(hidden)
        self.duration_predictor.build(hidden)
        self.mel_projection.build(hidden)
        if self.token_position is not None:
            self.token_position.build((None, None, 2))
        if self.postnet is not None:
            self.postnet.build(mel)
        self.built = True

    # --- the pieces shared by training, teacher forcing and inference ---

    def _embed(self, token_ids, token_mask):
        return apply_mask(self.embedding(token_ids), token_mask)

    def _encode(self, embedded, token_mask, training):
        x = embedded
        if self.use_positional_encoding:
            x = apply_mask(x + self.positional_encoding(x), token_mask)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=token_mask, training=training)
        return x

    def _expand(self, encoded, alignment, durations):
        """Encoder states [B, T, D] copied onto frames by a one-hot alignment [B, F, T], plus
        each frame's position in its token when the config asks for it."""
        alignment = ops.cast(alignment, encoded.dtype)
        frames = ops.einsum("bft,btd->bfd", alignment, encoded)
        if self.token_position is None:
            return frames
        alignment = ops.cast(alignment, "float32")
        durations = ops.cast(durations, "float32")
        starts = ops.cumsum(durations, axis=1) - durations
        frame_start = ops.einsum("bft,bt->bf", alignment, starts)
        frame_duration = ops.einsum("bft,bt->bf", alignment, durations)
        index = ops.cast(ops.arange(ops.shape(alignment)[1]), "float32")[None, :]
        progress = (index - frame_start + 0.5) / ops.maximum(frame_duration, 1.0)
        features = ops.stack([progress, ops.log(frame_duration + 1.0) / 3.0], axis=-1)
        real = ops.sum(alignment, axis=-1, keepdims=True)  # 0 on padded frames
        position = self.token_position(ops.cast(features * real, frames.dtype))
        return frames + position * ops.cast(real, frames.dtype)

    def _decode(self, frames, frame_mask, training):
        """Decoder stack on expanded states [B, F, D]: (mel before postnet, final mel)."""
        x = frames
        if self.use_positional_encoding:
            x = apply_mask(x + self.positional_encoding(x), frame_mask)
        for block in self.decoder_blocks:
            x = block(x, padding_mask=frame_mask, training=training)
        mel = apply_mask(self.mel_projection(x), frame_mask)
        if self.postnet is None:
            return mel, mel
        return mel, self.postnet(mel, padding_mask=frame_mask, training=training)

    def call(self, batch, training=False):
        """Teacher-forced pass with searched durations; needs the full batch (target mel too)."""
        c = self.model_config
        token_ids = batch[TOKEN_IDS]
        token_length = ops.cast(batch[TOKEN_LENGTH], "int32")
        mel = ops.cast(batch[MEL], self.compute_dtype)
        mel_length = ops.cast(batch[MEL_LENGTH], "int32")
        max_tokens, max_frames = ops.shape(token_ids)[1], ops.shape(mel)[1]
        token_mask = sequence_mask(token_length, max_tokens)
        frame_mask = sequence_mask(mel_length, max_frames)

        encoded = self._encode(self._embed(token_ids, token_mask), token_mask, training)
        means = ops.cast(self.token_mel_mean(encoded), "float32")
        log_likelihood = gaussian_log_likelihood(ops.cast(mel, "float32"), means)
        if c.use_alignment_prior:
            log_likelihood = log_likelihood + beta_binomial_log_prior(
                token_length, mel_length, max_tokens, max_frames, c.alignment_prior_scaling
            )
        hard, durations = monotonic_alignment_search(log_likelihood, token_length, mel_length)
        frames = self._expand(encoded, hard, durations)
        mel_before, mel_out = self._decode(frames, frame_mask, training)
        # Detached: the duration loss must not shape the encoder the decoder relies on.
        log_duration = self.duration_predictor(
            ops.stop_gradient(encoded), padding_mask=token_mask, training=training
        )
        return {
            "mel": mel_out,
            "mel_before_postnet": mel_before,
            "mel_length": mel_length,
            "durations": durations,
            "log_duration_pred": log_duration,
            "alignment": hard,  # [B, F, T], one token per frame
            "aligned_means": ops.einsum("bft,btd->bfd", hard, means),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        c = self.model_config
        if y_pred is None:
            y_pred = self(x, training=training)
        token_length = ops.cast(x[TOKEN_LENGTH], "int32")
        mel_length = ops.cast(x[MEL_LENGTH], "int32")
        target = ops.cast(x[MEL], "float32")
        frame_mask = ops.cast(sequence_mask(mel_length, ops.shape(target)[1]), "float32")
        token_mask = ops.cast(sequence_mask(token_length, ops.shape(x[TOKEN_IDS])[1]), "float32")

        mel_loss = self._mel_loss(y_pred["mel"], target, frame_mask)
        if self.postnet is not None:
            mel_loss = mel_loss + self._mel_loss(y_pred["mel_before_postnet"], target, frame_mask)
        # log(d + 1) as in FastSpeech 2 / FastPitch: finite for d = 0 (degenerate utterances).
        log_target = ops.log(ops.cast(y_pred["durations"], "float32") + 1.0)
        log_pred = ops.cast(y_pred["log_duration_pred"], "float32")
        duration_loss = ops.sum(ops.square(log_pred - log_target) * token_mask) / ops.maximum(
            ops.sum(token_mask), 1.0
        )
        duration_spread_loss = self.duration_predictor.spread_loss(log_pred, log_target, token_mask)
        prior_error = ops.square(y_pred["aligned_means"] - target) * frame_mask[:, :, None]
        prior_loss = ops.sum(prior_error) / ops.maximum(
            ops.sum(frame_mask) * ops.shape(target)[2], 1.0
        )

        total = (
            mel_loss
            + c.duration_loss_weight * (duration_loss + duration_spread_loss)
            + c.prior_loss_weight * prior_loss
        )
        for loss in self.losses:  # regularisers, if any
            total = total + ops.cast(ops.sum(loss), total.dtype)
        self.mel_loss_tracker.update_state(mel_loss)
        self.duration_loss_tracker.update_state(duration_loss)
        self.prior_loss_tracker.update_state(prior_loss)
        return per_replica(total)

    def _mel_loss(self, prediction, target, frame_mask):
        error = ops.cast(prediction, "float32") - target
        error = ops.abs(error) if self.model_config.mel_loss == "l1" else ops.square(error)
        total = ops.sum(error * frame_mask[:, :, None])
        return total / ops.maximum(ops.sum(frame_mask) * ops.shape(target)[2], 1.0)

    # --- synthesis ---

    def _synthesise(self, encoded, durations, token_mask, max_frames):
        durations = ops.cast(durations, "int32") * ops.cast(token_mask, "int32")
        _, alignment, mel_length = self.length_regulator(encoded, durations, max_frames=max_frames)
        frames = self._expand(encoded, alignment, durations)
        frame_mask = sequence_mask(mel_length, ops.shape(frames)[1])
        _, mel = self._decode(frames, frame_mask, training=False)
        return {"mel": mel, "mel_length": mel_length, "durations": durations}

    def _encode_tokens(self, token_ids, token_length):
        token_ids = ops.convert_to_tensor(token_ids, "int32")
        token_mask = sequence_mask(token_length, ops.shape(token_ids)[1])
        encoded = self._encode(self._embed(token_ids, token_mask), token_mask, training=False)
        return encoded, token_mask

    def infer(self, token_ids, token_length, max_frames: int | None = None) -> dict:
        """Free-running synthesis: {"mel" [B, F, n_mels], "mel_length" [B], "durations" [B, T]}.

        Durations are the predictor's mean frames per token (DurationPredictor.frames), at
        least 1 per real token. F is max_frames when given (static; longer utterances are cut),
        else the longest predicted total.
        """
        encoded, token_mask = self._encode_tokens(token_ids, token_length)
        log_duration = self.duration_predictor(encoded, padding_mask=token_mask, training=False)
        durations = self.duration_predictor.frames(
            log_duration, mean=self.model_config.duration_mean_correction
        )
        return self._synthesise(encoded, durations, token_mask, max_frames)

    def get_config(self) -> dict:
        return {**super().get_config(), "config": dataclasses.asdict(self.model_config)}

    @classmethod
    def from_config(cls, config: dict) -> NonAutoregressiveTTS:
        config = dict(config)
        return cls(config=cls.config_class(**config.pop("config")), **config)
