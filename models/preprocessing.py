"""tf.Transform `preprocessing_fn`: raw text -> symbol ids, PCM16 audio -> normalised log-mel.

The text path is the same graph that serving uses: the exported model runs this transform
graph, pruned to the `text` input, on raw request text.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from models import features
from models.audio_frontend import log_mel_spectrogram, num_frames_tf
from models.text.tf_frontend import text_to_ids_tf

# A band whose log-mel barely varies (e.g. above a corpus' bandwidth) must not blow up.
_MIN_STD = 1e-3


def _as_vector(tensor) -> tf.Tensor:
    """A scalar feature as [batch], whether parsed dense ([batch, 1]) or sparse."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor)
    return tf.reshape(tensor, [-1])


def decode_pcm16(pcm: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """[batch] PCM16 byte strings -> zero-padded float32 [batch, samples] and lengths."""
    byte_lengths = tf.strings.length(pcm)
    padded = tf.io.decode_raw(
        pcm,
        tf.int16,
        little_endian=True,
        fixed_length=tf.maximum(tf.reduce_max(byte_lengths), 2),
    )
    audio = tf.cast(padded, tf.float32) / features.PCM16_SCALE
    return audio, byte_lengths // 2


def text_features(text: tf.Tensor) -> dict[str, tf.Tensor]:
    """The serving-time text path: raw strings -> ids (EOS appended) and lengths."""
    ids = text_to_ids_tf(text)
    return {
        features.TOKEN_IDS: ids.to_sparse(),
        features.TOKEN_LENGTH: tf.cast(ids.row_lengths(), tf.int64),
    }


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    text = _as_vector(inputs[features.TEXT])
    outputs = text_features(text)
    outputs[features.ID] = _as_vector(inputs[features.ID])
    outputs[features.TEXT] = text

    audio, sample_lengths = decode_pcm16(_as_vector(inputs[features.AUDIO_PCM16]))
    frames = tf.cast(num_frames_tf(sample_lengths), tf.int64)
    mel = tf.RaggedTensor.from_tensor(log_mel_spectrogram(audio), lengths=frames)

    # Dataset-level, per-band statistics over every real frame of every utterance.
    mean = tft.mean(mel.values, reduce_instance_dims=False)
    std = tf.maximum(tf.sqrt(tft.var(mel.values, reduce_instance_dims=False)), _MIN_STD)
    normalised = mel.with_values((mel.values - mean) / std)

    batch = tf.shape(frames)[0]
    n_mels = features.AUDIO.n_mels
    outputs[features.MEL] = tf.RaggedTensor.from_row_lengths(
        tf.reshape(normalised.values, [-1]), frames * n_mels
    ).to_sparse()
    outputs[features.MEL_FRAMES] = frames
    # The statistics ride along with every example (160 floats beside thousands of mel
    # values) so the Trainer, the evaluator and the export read them without analyzers.
    outputs[features.MEL_MEAN] = tf.tile(mean[tf.newaxis, :], [batch, 1])
    outputs[features.MEL_STD] = tf.tile(std[tf.newaxis, :], [batch, 1])
    return outputs


# Transform's own statistics, per stage: before, the raw descriptors StatisticsGen also reads
# (not the PCM bytes: one opaque blob per clip); after, the text and the lengths. The
# normalised mel is left out: frames x n_mels values per clip make one flat histogram of
# every band, which says nothing the per-band mel_mean/mel_std do not, and summarising it
# cost more than the transform itself.
PRE_TRANSFORM_STATISTICS = features.STATISTICS_FEATURES
POST_TRANSFORM_STATISTICS = (
    features.ID,
    features.TEXT,
    features.TOKEN_LENGTH,
    features.MEL_FRAMES,
)


def stats_options_updater_fn(stats_type, stats_options):
    """TFX Transform's hook for its pre-/post-transform statistics (stats_type is
    tfx.components.transform.stats_options_util.StatsType, read by name so models/ need not
    import TFX)."""
    pre = getattr(stats_type, "name", "") == "PRE_TRANSFORM"
    stats_options.feature_allowlist = list(
        PRE_TRANSFORM_STATISTICS if pre else POST_TRANSFORM_STATISTICS
    )
    return stats_options
