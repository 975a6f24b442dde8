"""The Trainer's `run_fn`: build the chosen family, train on Transform output, export.

Same code on CPU and GPU: with GPUs visible it trains under MirroredStrategy over all of
them, in mixed precision and (by default) with XLA; on CPU none of that, and no flag needed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time

import keras
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from models import data, export, features, registry, warm_start
from models.schedules import make_optimizer
from models.trainer_config import TrainerConfig, model_config_fields
from models.training_callbacks import ProgressLogger, SpeechSummaries, WallClockBudget

TRAINING_SUMMARY_FILE = "training_summary.json"
EVAL_MAX_FRAMES = 100_000  # evaluation sees every utterance, however long


def keras_model_path(serving_model_dir: str) -> str:
    """<Model artifact>/keras/model.keras (its directory created), for saving."""
    path = export.keras_model_file(serving_model_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    return path


def _distribution(config: TrainerConfig):
    """(strategy, on_gpu): MirroredStrategy over the visible GPUs, else the default."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy(), True
    return tf.distribute.get_strategy(), False


def _auto(setting: str, on_gpu: bool) -> bool:
    return on_gpu if setting == "auto" else setting in ("on", "true", "1")


def read_mel_statistics(file_patterns: list[str], feature_spec: dict):
    """The per-band mean/std that Transform normalised with (they ride on every example)."""
    files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
    record = next(iter(tf.data.TFRecordDataset(files[:1], compression_type="GZIP")))
    parsed = tf.io.parse_single_example(
        record, {k: feature_spec[k] for k in (features.MEL_MEAN, features.MEL_STD)}
    )
    return parsed[features.MEL_MEAN].numpy(), parsed[features.MEL_STD].numpy()


def _count_examples(file_patterns: list[str]) -> int:
    files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
    return int(
        tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(0, lambda n, _: n + 1)
    )


def _current_fields(family: str, base: keras.Model) -> dict:
    """The base voice's model config, less fields this code's config no longer has."""
    fields = set(model_config_fields(family))
    saved = warm_start.base_model_config(base)
    dropped = sorted(set(saved) - fields)
    if dropped:
        logging.warning("Trainer: the continued voice's config fields %s are gone", dropped)
    return {name: value for name, value in saved.items() if name in fields}


def backup_dir(fn_args, config: TrainerConfig) -> str:
    """Where BackupAndRestore keeps a training job's last epoch, shared by its re-executions.

    TFX gives every execution its own model_run_dir, so a backup kept there is never seen again
    after a kill: the rerun is a new execution. The job is named by what it trains on and how
    (examples, transform graph, base model, settings, steps) instead, under the Trainer's
    directory; Keras deletes the backup when training ends.
    """
    job = json.dumps(
        {
            "train": sorted(fn_args.train_files),
            "eval": sorted(fn_args.eval_files),
            "transform": fn_args.transform_output,
            "base": fn_args.base_model or "",
            "config": config.to_json(),
            "steps": int(fn_args.train_steps),
        },
        sort_keys=True,
    )
    trainer_dir = os.path.dirname(os.path.dirname(fn_args.model_run_dir.rstrip("/")))
    digest = hashlib.sha256(job.encode()).hexdigest()[:16]
    return os.path.join(trainer_dir, "backup", digest)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    config = TrainerConfig.from_custom_config(fn_args.custom_config)
    keras.utils.set_random_seed(config.seed)
    strategy, on_gpu = _distribution(config)
    mixed = _auto(config.mixed_precision, on_gpu)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")

    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    spec = tf_transform_output.transformed_feature_spec()
    global_batch = config.batch_size * strategy.num_replicas_in_sync
    train_examples = _count_examples(fn_args.train_files)
    train_ds = data.make_dataset(
        fn_args.train_files,
        spec,
        min(global_batch, max(1, train_examples)),
        max_frames=config.max_train_frames,
        seed=config.seed,
    )
    eval_ds = data.make_dataset(
        fn_args.eval_files,
        spec,
        global_batch,
        shuffle=False,
        repeat=False,
        max_frames=EVAL_MAX_FRAMES,
    )
    train_steps = int(fn_args.train_steps)
    steps_per_epoch = max(1, min(config.steps_per_epoch, train_steps))
    epochs = math.ceil(train_steps / steps_per_epoch)

    sample_batch = next(iter(eval_ds), None)
    if sample_batch is None:
        raise ValueError(f"no eval examples in {fn_args.eval_files}: the Trainer needs some")
    base, model_config = None, dict(config.model_overrides)
    if config.continue_training:
        base = warm_start.load_continuation_base(fn_args.base_model, config.model, config.preset)
        # The continued voice keeps its architecture whatever the preset says today; this
        # run's overrides (loss weights, say) go on top.
        model_config = {**_current_fields(config.model, base), **config.model_overrides}
    with strategy.scope():
        model = registry.build_model(config.model, config.preset, **model_config)
        model(sample_batch, training=False)  # weights exist before fit, so restores can land
        warm_started = bool(
            base is None
            and config.warm_start
            and fn_args.base_model
            and warm_start.load_base_weights(model, fn_args.base_model, config.model, config.preset)
        )
        optimizer = make_optimizer(config)
        model.compile(optimizer=optimizer, jit_compile=_auto(config.jit_compile, on_gpu))
        # Weights, Adam moments and the step counter: the schedule goes on, no new warm-up.
        start_step = warm_start.continue_from(model, base) if base is not None else 0
    if base is not None:
        initialized_from = f"continued from {fn_args.base_model} at step {start_step}"
    else:
        initialized_from = fn_args.base_model if warm_started else "scratch"
    resolved = {
        "trainer": json.loads(config.to_json()),
        "model": json.loads(json.dumps(model.get_config()["config"])),
        "train_steps": train_steps,
    }

    logging.info(
        "Trainer: %s/%s, %d train examples, batch %d on %d replica(s), %s, %d steps",
        config.model,
        config.preset,
        train_examples,
        global_batch,
        strategy.num_replicas_in_sync,
        "mixed_float16" if mixed else "float32",
        train_steps,
    )
    mel_mean, mel_std = read_mel_statistics(fn_args.train_files, spec)
    progress = ProgressLogger(total_steps=epochs * steps_per_epoch)
    callbacks = [
        # Resumes from the last finished epoch when a killed Trainer is started again.
        keras.callbacks.BackupAndRestore(backup_dir(fn_args, config)),
        keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
        SpeechSummaries(fn_args.model_run_dir, sample_batch, mel_mean, mel_std),
        progress,
    ]
    if config.max_train_seconds > 0:
        callbacks.append(WallClockBudget(config.max_train_seconds))
    started = time.monotonic()
    history = model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        callbacks=callbacks,
        verbose=0,
    )
    train_wall_s = time.monotonic() - started

    total_steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    keras.mixed_precision.set_global_policy("float32")
    if mixed:
        model = export.float32_copy(model, sample_batch)
    # The Keras model too, beside the serving export: the evaluator needs teacher forcing.
    model.save(keras_model_path(fn_args.serving_model_dir))
    export.export_saved_model(
        model,
        fn_args.serving_model_dir,
        family=config.model,
        preset=config.preset,
        mel_mean=mel_mean,
        mel_std=mel_std,
        max_frames=config.max_synthesis_frames,
        griffin_lim_iterations=config.griffin_lim_iterations,
        extra_voice_info={
            "trainer_config": resolved["trainer"],
            "model_config": resolved["model"],
            "training": {"initialized_from": initialized_from, "total_steps": total_steps},
        },
    )
    summary = {
        "model": config.model,
        "preset": config.preset,
        "parameters": int(model.count_params()),
        "train_examples": train_examples,
        "initialized_from": initialized_from,
        "steps": progress.steps_done,
        "total_steps": total_steps,  # with the steps of the voice this run continued
        "steps_per_second": round(progress.steps_per_second, 3),
        "train_wall_s": round(train_wall_s, 1),
        "replicas": strategy.num_replicas_in_sync,
        "mixed_precision": mixed,
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "final": {k: float(vals[-1]) for k, vals in history.history.items()},
        "config": resolved,
    }
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, TRAINING_SUMMARY_FILE), "w") as f:
        f.write(json.dumps(summary, indent=2))
    logging.info("Trainer: done, final %s", summary["final"])
