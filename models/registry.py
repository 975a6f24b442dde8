"""One interface over the three acoustic model families: token ids in, 80-band log-mel out.

Every family module registers a keras.Model subclass that:
  * is built from a config dataclass (presets `small` for CPU tests, `base` for the
    published sizes), with `get_config()` / `from_config()` round-tripping;
  * takes a batch dict (see BATCH_KEYS) in `call(batch, training=...)` and returns a dict of
    outputs; `compute_loss(x=batch, y=None, y_pred=outputs)` gives the training loss, so
    `model.fit` works unchanged on the TensorFlow and JAX backends;
  * synthesises free-running with `infer(token_ids, token_length, max_frames=None)`,
    returning at least {"mel": [B, F, n_mels], "mel_length": [B]}.
"""

from __future__ import annotations

import importlib

# The padded batch every family trains on (built by the Trainer's tf.data input).
TOKEN_IDS = "token_ids"  # int32 [B, T], 0 = pad
TOKEN_LENGTH = "token_length"  # int32 [B], EOS included
MEL = "mel"  # float32 [B, F, n_mels], normalised log-mel, zero-padded
MEL_LENGTH = "mel_length"  # int32 [B]
BATCH_KEYS = (TOKEN_IDS, TOKEN_LENGTH, MEL, MEL_LENGTH)

FAMILIES = {
    "mlp": "models.mixer_tts:MixerTTS",
    "attention": "models.fastspeech:FastSpeech",
    "tacotron2": "models.tacotron2:Tacotron2",
}
PRESETS = ("small", "base")


def model_class(family: str):
    if family not in FAMILIES:
        raise ValueError(f"unknown model {family!r}; models are: {', '.join(FAMILIES)}")
    module_name, class_name = FAMILIES[family].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_model(family: str, preset: str = "small", **overrides):
    """A new, unbuilt model of `family` from its `preset` config with `overrides` applied."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets are: {', '.join(PRESETS)}")
    return model_class(family).from_preset(preset, **overrides)


def teacher_forced_views(outputs: dict) -> tuple:
    """(predicted mel [B, F, n_mels], alignment [B, steps or F, T]) from any family's call()."""
    mel = outputs["mel_after"] if "mel_after" in outputs else outputs["mel"]
    return mel, outputs["alignment"]
