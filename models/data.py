"""tf.data input for the Trainer: transformed examples -> padded, length-bucketed batches."""

from __future__ import annotations

import os

import tensorflow as tf

from models import features, registry


def _parse_fn(feature_spec: dict, n_mels: int, keep_ids: bool):
    def parse(record: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_single_example(record, feature_spec)
        tokens = tf.cast(tf.sparse.to_dense(parsed[features.TOKEN_IDS]), tf.int32)
        mel = tf.reshape(tf.sparse.to_dense(parsed[features.MEL]), [-1, n_mels])
        batch = {
            registry.TOKEN_IDS: tokens,
            registry.TOKEN_LENGTH: tf.shape(tokens)[0],
            registry.MEL: mel,
            registry.MEL_LENGTH: tf.shape(mel)[0],
        }
        if keep_ids:
            batch[features.ID] = tf.reshape(parsed[features.ID], [])
            batch[features.TEXT] = tf.reshape(parsed[features.TEXT], [])
        return batch

    return parse


def bucket_boundaries(max_frames: int, buckets: int = 6) -> list[int]:
    """Evenly spaced mel-length boundaries up to max_frames: similar lengths batch together."""
    step = max(1, max_frames // (buckets + 1))
    return [step * (i + 1) for i in range(buckets)]


def split_file_patterns(artifacts: list, split: str) -> list[str]:
    """One glob per Examples artifact for `split`: Transform writes one artifact per span."""
    from tfx.types import artifact_utils  # the pipeline edge; models stay TFX-free otherwise

    return [os.path.join(uri, "*") for uri in artifact_utils.get_split_uris(artifacts, split)]


def make_dataset(
    file_pattern: list[str] | str,
    feature_spec: dict,
    batch_size: int,
    shuffle: bool = True,
    repeat: bool = True,
    max_frames: int = 1000,
    n_mels: int = features.AUDIO.n_mels,
    seed: int = 0,
    keep_ids: bool = False,
) -> tf.data.Dataset:
    """Batches of registry.BATCH_KEYS, zero-padded, bucketed by mel length.

    Utterances longer than max_frames are left out of training batches (they would set the
    padded size of a whole batch); evaluation passes a large max_frames.
    """
    files = (
        tf.io.gfile.glob(file_pattern)
        if isinstance(file_pattern, str)
        else [path for pattern in file_pattern for path in tf.io.gfile.glob(pattern)]
    )
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_pattern!r}")
    dataset = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
    dataset = dataset.map(
        _parse_fn(feature_spec, n_mels, keep_ids), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = dataset.filter(lambda batch: batch[registry.MEL_LENGTH] <= max_frames)
    if repeat:
        dataset = dataset.repeat()
    if shuffle:
        dataset = dataset.shuffle(256, seed=seed, reshuffle_each_iteration=True)
    boundaries = bucket_boundaries(max_frames)
    padded_shapes = {
        registry.TOKEN_IDS: [None],
        registry.TOKEN_LENGTH: [],
        registry.MEL: [None, n_mels],
        registry.MEL_LENGTH: [],
    }
    if keep_ids:
        padded_shapes.update({features.ID: [], features.TEXT: []})
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda batch: batch[registry.MEL_LENGTH],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padded_shapes=padded_shapes,
        drop_remainder=repeat,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
