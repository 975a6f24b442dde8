"""Every family trains in graph mode on batches whose lengths are unknown until run time.

That is what the Trainer feeds (padded, length-bucketed tf.data); static-shape tests miss
failures that only show when the time dimensions are None.
"""

import numpy as np
import pytest
import tensorflow as tf

from models import registry
from models.layers.alignment import monotonic_alignment_search


def _dataset(seed: int = 0) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)

    def utterances():
        for tokens, frames in ((5, 21), (8, 30), (6, 17), (7, 26)):
            yield {
                registry.TOKEN_IDS: rng.integers(2, 20, size=tokens).astype("int32"),
                registry.TOKEN_LENGTH: np.int32(tokens),
                registry.MEL: rng.normal(size=(frames, 80)).astype("float32"),
                registry.MEL_LENGTH: np.int32(frames),
            }

    signature = {
        registry.TOKEN_IDS: tf.TensorSpec([None], tf.int32),
        registry.TOKEN_LENGTH: tf.TensorSpec([], tf.int32),
        registry.MEL: tf.TensorSpec([None, 80], tf.float32),
        registry.MEL_LENGTH: tf.TensorSpec([], tf.int32),
    }
    return tf.data.Dataset.from_generator(utterances, output_signature=signature).padded_batch(2)


@pytest.mark.parametrize("family", sorted(registry.FAMILIES))
def test_fit_with_unknown_lengths(family):
    model = registry.build_model(family, "small")
    model.compile(optimizer="adam")
    history = model.fit(_dataset().repeat(), steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_alignment_search_traces_with_unknown_shapes():
    search = tf.function(
        monotonic_alignment_search,
        input_signature=[
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
        ],
    )
    log_attn = tf.math.log_softmax(tf.random.normal([2, 12, 5], seed=1), axis=-1)
    hard, durations = search(log_attn, tf.constant([5, 3]), tf.constant([12, 7]))
    assert durations.numpy().sum(axis=1).tolist() == [12, 7]
    assert (durations.numpy()[0] >= 1).all() and (durations.numpy()[1, :3] >= 1).all()
