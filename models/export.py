"""Export: one SavedModel whose `serving_default` takes raw text and returns audio.

Inside the graph: the text front end (the same function as the Transform graph's text
path), the acoustic model's free-running synthesis, de-normalisation with the training
set's mel statistics, and the Griffin-Lim vocoder. The symbol table, audio config and voice
description travel as assets, so the model directory is a self-contained voice.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from models import features, registry
from models.layers.nar_blocks import FrameBound
from models.preprocessing import text_features
from models.text.symbols import symbols_json
from models.vocoder import DEFAULT_ITERATIONS, DEFAULT_MOMENTUM, griffin_lim

SIGNATURE = "serving_default"
MEL_SIGNATURE = "synthesize_mel"
VOICE_FILE = "voice.json"
ASSET_FILES = ("symbols.json", "audio_config.json", VOICE_FILE)
MAX_TEXT_CHARS = 1000  # one request's text; longer input should be split at sentences


def vocode(
    log_mel: tf.Tensor,
    mel_length: tf.Tensor,
    max_frames: int,
    griffin_lim_iterations: int,
    griffin_lim_momentum: float = DEFAULT_MOMENTUM,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The served vocoder: Griffin-Lim over the longest utterance plus the k - 1 frames its
    last windows reach (zero magnitude; at most max_frames in all, as the TFLite vocoder
    runs), audio cut to the longest utterance's samples."""
    hop = features.AUDIO.hop_length
    frames = tf.shape(log_mel)[1]
    reach = tf.minimum(frames + features.AUDIO.win_length // hop - 1, max_frames)
    padded = tf.pad(log_mel, [[0, 0], [0, tf.maximum(reach - frames, 0)], [0, 0]])
    audio, audio_length = griffin_lim(
        padded, mel_length, n_iter=griffin_lim_iterations, momentum=griffin_lim_momentum
    )
    return audio[:, : frames * hop], audio_length


class Synthesizer(tf.Module):
    """Raw text -> (audio, audio_length, mel, mel_length); token ids -> mel for evaluation.

    Work and outputs follow the batch's longest utterance, not max_frames: mel is
    [B, max(mel_length), n_mels] and audio [B, max(mel_length) * hop]. The NAR families
    expand only to their longest predicted total (FrameBound); every family's mel is cut to
    the longest mel_length before Griffin-Lim runs.
    """

    def __init__(
        self,
        model,
        mel_mean: np.ndarray,
        mel_std: np.ndarray,
        max_frames: int,
        griffin_lim_iterations: int,
        asset_dir: str,
        max_text_chars: int = MAX_TEXT_CHARS,
        griffin_lim_momentum: float = DEFAULT_MOMENTUM,
    ):
        super().__init__()
        self.model = model
        # Keras 3 keeps some state (e.g. dropout seed generators) where tf.Module's tracking
        # does not look; listing every variable saves it with the graph that reads it.
        self.model_variables = [getattr(v, "value", v) for v in model.variables]
        self.mel_mean = tf.constant(np.asarray(mel_mean, np.float32))
        self.mel_std = tf.constant(np.asarray(mel_std, np.float32))
        self.max_frames = int(max_frames)
        self.griffin_lim_iterations = int(griffin_lim_iterations)
        self.griffin_lim_momentum = float(griffin_lim_momentum)
        self.max_text_chars = int(max_text_chars)
        self.assets = [tf.saved_model.Asset(os.path.join(asset_dir, f)) for f in ASSET_FILES]

    def _mel(self, token_ids: tf.Tensor, token_length: tf.Tensor):
        """[B, longest, n_mels] de-normalised log-mel (zero past each length), [B] lengths."""
        bound = self.max_frames
        if hasattr(self.model, "length_regulator"):  # the NAR families
            bound = FrameBound(self.max_frames)
        out = self.model.infer(token_ids, token_length, max_frames=bound)
        mel_length = tf.minimum(tf.cast(out["mel_length"], tf.int32), self.max_frames)
        longest = tf.maximum(tf.reduce_max(mel_length), 1)
        log_mel = tf.cast(out["mel"][:, :longest], tf.float32) * self.mel_std + self.mel_mean
        log_mel *= tf.sequence_mask(mel_length, tf.shape(log_mel)[1], tf.float32)[..., None]
        return log_mel, mel_length

    def _vocode(self, log_mel: tf.Tensor, mel_length: tf.Tensor):
        return vocode(
            log_mel,
            mel_length,
            self.max_frames,
            self.griffin_lim_iterations,
            self.griffin_lim_momentum,
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        # Refused inside the graph, so the real TF Serving answers INVALID_ARGUMENT too.
        # unicode_decode fails on invalid UTF-8; the assert keeps it from being pruned.
        characters = tf.strings.unicode_decode(text, "UTF-8", errors="strict")
        tf.debugging.assert_non_negative(
            characters.row_lengths(), message="text must be valid UTF-8"
        )
        tf.debugging.assert_less_equal(  # characters, not bytes: 600 x "é" is 600
            characters.row_lengths(),
            tf.constant(self.max_text_chars, tf.int64),
            message=f"text longer than {self.max_text_chars} characters; split it",
        )
        tokens = text_features(text)
        token_ids = tf.cast(tf.sparse.to_dense(tokens[features.TOKEN_IDS]), tf.int32)
        token_length = tf.cast(tokens[features.TOKEN_LENGTH], tf.int32)
        tf.debugging.assert_greater(
            token_length, 1, message="text is empty after normalisation (nothing to say)"
        )
        log_mel, mel_length = self._mel(token_ids, token_length)
        audio, audio_length = self._vocode(log_mel, mel_length)
        return {
            "audio": audio,
            "audio_length": audio_length,
            "mel": log_mel,
            "mel_length": mel_length,
        }

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None], tf.int32, name="token_length"),
        ]
    )
    def synthesize_mel(self, token_ids: tf.Tensor, token_length: tf.Tensor):
        log_mel, mel_length = self._mel(token_ids, token_length)
        return {"mel": log_mel, "mel_length": mel_length}


def write_assets(asset_dir: str, family: str, preset: str, mel_mean, mel_std, extra=None) -> None:
    os.makedirs(asset_dir, exist_ok=True)
    with open(os.path.join(asset_dir, "symbols.json"), "w", encoding="utf-8") as handle:
        handle.write(symbols_json())
    with open(os.path.join(asset_dir, "audio_config.json"), "w", encoding="utf-8") as handle:
        handle.write(features.AUDIO.to_json())
    voice = {
        "model": family,
        "preset": preset,
        "sample_rate": features.AUDIO.sample_rate,
        "mel_mean": [float(v) for v in mel_mean],
        "mel_std": [float(v) for v in mel_std],
        "signatures": {
            SIGNATURE: "text -> audio, audio_length, mel, mel_length",
            MEL_SIGNATURE: "token_ids, token_length -> mel, mel_length",
        },
        **(extra or {}),
    }
    with open(os.path.join(asset_dir, VOICE_FILE), "w", encoding="utf-8") as handle:
        json.dump(voice, handle, indent=2)


def read_voice_info(saved_model_dir: str) -> dict:
    """The voice description written beside the SavedModel (write_assets)."""
    path = os.path.join(saved_model_dir, "assets", VOICE_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"{saved_model_dir}: no assets/{VOICE_FILE} (not a tts-pipeline voice)"
        )
    with tf.io.gfile.GFile(path) as handle:
        return json.loads(handle.read())


def keras_model_file(saved_model_dir: str) -> str:
    """<Model artifact>/keras/model.keras: the Trainer saves the Keras model beside TFX's
    Format-Serving directory, for teacher forcing (evaluation) and warm starts."""
    return os.path.join(os.path.dirname(saved_model_dir.rstrip("/")), "keras", "model.keras")


def load_keras_voice(saved_model_dir: str, compile: bool = True):
    """The Keras model saved beside the SavedModel, with its family's layers registered."""
    import keras

    registry.model_class(read_voice_info(saved_model_dir)["model"])
    return keras.saving.load_model(keras_model_file(saved_model_dir), compile=compile)


def float32_copy(model, sample_batch):
    """The same voice with float32 layers and the same weights.

    A model trained under mixed_float16 keeps float16 compute in every layer it built, so its
    export would run other numerics than the float32 Evaluator judges, and float16 masks and
    softmaxes overflow. Serving, TFLite and the Evaluator all get this float32 twin instead.
    """
    import keras

    config = dict(model.get_config())
    config["dtype"] = "float32"
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        twin = type(model).from_config(config)
        twin(sample_batch, training=False)
    finally:
        keras.config.set_dtype_policy(previous)
    twin.set_weights(model.get_weights())
    # The optimizer state too, so `--retrain continue` goes on from the saved voice. Mixed
    # precision wrapped it in a LossScaleOptimizer; the twin gets the inner optimizer.
    trained = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    if trained is not None:
        optimizer = type(trained).from_config(trained.get_config())
        twin.compile(optimizer=optimizer)
        optimizer.build(twin.trainable_variables)
        for variable, value in zip(optimizer.variables, trained.variables, strict=True):
            variable.assign(value)
    return twin


def export_saved_model(
    model,
    export_dir: str,
    family: str,
    preset: str,
    mel_mean: np.ndarray,
    mel_std: np.ndarray,
    max_frames: int = 1500,
    griffin_lim_iterations: int = DEFAULT_ITERATIONS,
    extra_voice_info: dict | None = None,
    griffin_lim_momentum: float = DEFAULT_MOMENTUM,
) -> str:
    """Writes the SavedModel (DESIGN.md's serving contract) to export_dir; returns it.

    voice.json records max_frames and the vocoder's settings: the signatures' frame
    dimension is dynamic, and the TFLite export rebuilds the same Griffin-Lim from them.
    """
    if family not in registry.FAMILIES:
        raise ValueError(f"unknown model {family!r}")
    synthesis = {
        "max_frames": int(max_frames),
        "griffin_lim_iterations": int(griffin_lim_iterations),
        "griffin_lim_momentum": float(griffin_lim_momentum),
    }
    with tempfile.TemporaryDirectory() as asset_dir:
        write_assets(
            asset_dir, family, preset, mel_mean, mel_std, {**synthesis, **(extra_voice_info or {})}
        )
        module = Synthesizer(
            model,
            mel_mean,
            mel_std,
            max_frames,
            griffin_lim_iterations,
            asset_dir,
            griffin_lim_momentum=griffin_lim_momentum,
        )
        tf.saved_model.save(
            module,
            export_dir,
            signatures={
                SIGNATURE: module.serve.get_concrete_function(),
                MEL_SIGNATURE: module.synthesize_mel.get_concrete_function(),
            },
        )
    return export_dir
