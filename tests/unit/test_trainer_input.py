"""Trainer input and settings: padded, length-bucketed batches; settings checked up front."""

import numpy as np
import pytest
import tensorflow as tf

from models import data, features, registry
from models.schedules import WarmupInverseSqrt
from models.trainer_config import TrainerConfig

N_MELS = features.AUDIO.n_mels
SPEC = {
    features.TOKEN_IDS: tf.io.VarLenFeature(tf.int64),
    features.MEL: tf.io.VarLenFeature(tf.float32),
}


def _write_examples(path, lengths):
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for i, (tokens, frames) in enumerate(lengths):
            mel = np.full((frames, N_MELS), float(i), np.float32)
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        features.TOKEN_IDS: tf.train.Feature(
                            int64_list=tf.train.Int64List(value=list(range(2, 2 + tokens)))
                        ),
                        features.MEL: tf.train.Feature(
                            float_list=tf.train.FloatList(value=mel.ravel())
                        ),
                    }
                )
            )
            writer.write(example.SerializeToString())


def test_batches_are_padded_with_true_lengths(tmp_path):
    path = str(tmp_path / "data.gz")
    lengths = [(5, 30), (9, 35), (3, 10), (7, 12)]
    _write_examples(path, lengths)
    dataset = data.make_dataset(
        path, SPEC, batch_size=2, shuffle=False, repeat=False, max_frames=60
    )
    seen = []
    for batch in dataset:
        tokens = batch[registry.TOKEN_IDS].numpy()
        mel = batch[registry.MEL].numpy()
        for row in range(tokens.shape[0]):
            n, f = int(batch[registry.TOKEN_LENGTH][row]), int(batch[registry.MEL_LENGTH][row])
            seen.append((n, f))
            assert (tokens[row, n:] == 0).all() and (tokens[row, :n] > 0).all()
            assert (mel[row, f:] == 0).all()
            assert mel.shape[2] == N_MELS
    assert sorted(seen) == sorted(lengths)


def test_similar_lengths_share_a_batch_and_long_ones_are_left_out(tmp_path):
    path = str(tmp_path / "data.gz")
    _write_examples(path, [(4, 10), (4, 95), (4, 12), (4, 90), (4, 500)])
    dataset = data.make_dataset(
        path, SPEC, batch_size=2, shuffle=False, repeat=False, max_frames=100
    )
    batches = [sorted(b[registry.MEL_LENGTH].numpy().tolist()) for b in dataset]
    assert sorted(batches) == [[10, 12], [90, 95]]


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no transformed examples"):
        data.make_dataset(str(tmp_path / "nothing*"), SPEC, batch_size=2)


def test_trainer_config_refuses_unknown_settings_and_models():
    assert TrainerConfig.from_custom_config({"model": "mlp"}).model == "mlp"
    with pytest.raises(ValueError, match="unknown trainer settings"):
        TrainerConfig.from_custom_config({"learning_rat": 1.0})
    with pytest.raises(ValueError, match="unknown model"):
        TrainerConfig.from_custom_config({"model": "wavenet"})
    with pytest.raises(ValueError, match="unknown preset"):
        TrainerConfig.from_custom_config({"preset": "huge"})


def test_schedule_warms_up_then_decays():
    schedule = WarmupInverseSqrt(peak=1e-3, warmup_steps=100)
    rates = [float(schedule(step)) for step in (0, 49, 99, 399, 9999)]
    assert rates[0] < rates[1] < rates[2]
    assert rates[2] == pytest.approx(1e-3, rel=1e-2)
    assert rates[3] == pytest.approx(5e-4, rel=2e-2)
    assert rates[4] < rates[3]
    assert WarmupInverseSqrt.from_config(schedule.get_config()).get_config() == (
        schedule.get_config()
    )
