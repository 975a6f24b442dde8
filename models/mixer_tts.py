"""Mixer-TTS (Tatanov et al. 2022): MLP-Mixer style encoder and decoder (depthwise-conv time
mixing, channel MLPs) over the shared non-autoregressive skeleton."""

from __future__ import annotations

import dataclasses

import keras

from models.layers.nar_blocks import MixerBlock
from models.nar_base import NARConfig, NonAutoregressiveTTS


@dataclasses.dataclass
class MixerTTSConfig(NARConfig):
    expansion_factor: int = 4
    # Block i of a stack mixes time with kernel first + i * step (the paper's growing kernels).
    encoder_kernel_size: int = 5
    decoder_kernel_size: int = 7
    kernel_size_step: int = 2


CONFIGS = {
    "small": MixerTTSConfig(
        hidden_dim=64,
        encoder_layers=2,
        decoder_layers=2,
        duration_filters=64,
    ),
    # The paper's / NeMo's mixer-tts.yaml sizes: hidden 384, 6 encoder blocks (kernels 11..21),
    # 9 decoder blocks (kernels 15..31), expansion 4, dropout 0.15, duration predictor 256.
    "base": MixerTTSConfig(
        hidden_dim=384,
        encoder_layers=6,
        decoder_layers=9,
        dropout=0.15,
        encoder_kernel_size=11,
        decoder_kernel_size=15,
        duration_filters=256,
        duration_dropout=0.15,
    ),
}


@keras.saving.register_keras_serializable(package="tts")
class MixerTTS(NonAutoregressiveTTS):
    """Mixer-TTS: Mixer blocks; the convolutions carry position, so no positional encoding.
    Each stack (encoder, decoder) ends with a LayerNorm, as in the reference."""

    config_class = MixerTTSConfig
    presets = CONFIGS
    use_positional_encoding = False

    def _make_block(self, stack: str, index: int) -> keras.layers.Layer:
        c = self.model_config
        first = c.encoder_kernel_size if stack == "encoder" else c.decoder_kernel_size
        layers = c.encoder_layers if stack == "encoder" else c.decoder_layers
        return MixerBlock(
            c.hidden_dim,
            first + index * c.kernel_size_step,
            c.expansion_factor,
            c.dropout,
            output_norm=index == layers - 1,  # pre-norm blocks: the stack ends with a norm
            name=f"{stack}_mixer_{index}",
        )
