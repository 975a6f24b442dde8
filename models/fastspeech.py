"""FastSpeech (Ren et al. 2019): feed-forward Transformer encoder and decoder, with durations
from monotonic alignment search on token mel means instead of an autoregressive teacher."""

from __future__ import annotations

import dataclasses

import keras

from models.layers.nar_blocks import FFTBlock
from models.nar_base import NARConfig, NonAutoregressiveTTS


@dataclasses.dataclass
class FastSpeechConfig(NARConfig):
    num_heads: int = 2
    conv_filters: int = 256  # FFT block conv net: hidden -> conv_filters -> hidden
    conv_kernel_size: int = 3
    attention_dropout: float = 0.1  # on attention probabilities; residual paths use `dropout`
    embedding_stddev: float = 1.0  # tokens at the scale of the sine position code


CONFIGS = {
    "small": FastSpeechConfig(
        hidden_dim=64,
        encoder_layers=2,
        decoder_layers=2,
        num_heads=2,
        conv_filters=256,
        duration_filters=64,
        # Dropping the frames' attention probabilities was a fifth of a CPU step (B 8, 500
        # frames: 0.116 s vs 0.093 s); the residual dropout is kept.
        attention_dropout=0.0,
    ),
    # The paper's sizes: 6 + 6 FFT blocks, hidden 384, 2 heads, conv 384 -> 1536 -> 384 with
    # kernel 3 in both layers; duration predictor 256 filters as in FastSpeech 2.
    "base": FastSpeechConfig(
        hidden_dim=384,
        encoder_layers=6,
        decoder_layers=6,
        num_heads=2,
        conv_filters=1536,
        conv_kernel_size=3,
        duration_filters=256,
    ),
}


@keras.saving.register_keras_serializable(package="tts")
class FastSpeech(NonAutoregressiveTTS):
    """FastSpeech: FFT blocks with sinusoidal positions on both the token and frame side."""

    config_class = FastSpeechConfig
    presets = CONFIGS
    use_positional_encoding = True

    def _make_block(self, stack: str, index: int) -> keras.layers.Layer:
        c = self.model_config
        return FFTBlock(
            c.hidden_dim,
            c.num_heads,
            c.conv_filters,
            c.conv_kernel_size,
            c.dropout,
            c.attention_dropout,
            name=f"{stack}_fft_{index}",
        )
