"""A killed Trainer's rerun (a new TFX execution) resumes from the last finished epoch."""

import types

import keras
import numpy as np
import pytest

from models.model import backup_dir
from models.trainer_config import TrainerConfig


def _fn_args(root, execution: int, steps: int = 300):
    return types.SimpleNamespace(
        train_files=[f"{root}/Transform/transformed_examples/7/Split-train/*"],
        eval_files=[f"{root}/Transform/transformed_examples/7/Split-eval/*"],
        transform_output=f"{root}/Transform/transform_graph/7",
        base_model=None,
        train_steps=steps,
        model_run_dir=f"{root}/Trainer/model_run/{execution}",
    )


def test_reruns_share_a_backup_and_other_jobs_do_not(tmp_path):
    config = TrainerConfig()
    killed, rerun = (
        backup_dir(_fn_args(tmp_path, 9), config),
        backup_dir(_fn_args(tmp_path, 12), config),
    )
    assert killed == rerun
    assert killed.startswith(f"{tmp_path}/Trainer/backup/")
    assert backup_dir(_fn_args(tmp_path, 12, steps=600), config) != killed
    assert backup_dir(_fn_args(tmp_path, 12), TrainerConfig(batch_size=4)) != killed


class _Killed(Exception):
    pass


class _KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Killed()


def _fit(directory, callbacks=()):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    callback = keras.callbacks.BackupAndRestore(directory)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[callback, *callbacks])
    return history, model


def test_the_rerun_resumes_where_the_killed_execution_stopped(tmp_path):
    config = TrainerConfig()
    with pytest.raises(_Killed):
        _fit(backup_dir(_fn_args(tmp_path, 9), config), [_KillAfterEpoch(2)])
    history, model = _fit(backup_dir(_fn_args(tmp_path, 12), config))
    assert len(history.history["loss"]) == 2  # epochs 4 and 5 only
    assert int(model.optimizer.iterations.numpy()) == 5
