"""`--retrain continue`: a voice trains on with its weights, Adam moments and step counters, and
the pipeline finds the latest voice trained under the served name, blessed or not."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from components.resolver_strategies import LatestTrainedModelOfNameStrategy
from models import export, registry, warm_start
from models.schedules import WarmupInverseSqrt

BATCH = {
    "token_ids": np.ones((2, 8), np.int32),
    "token_length": np.array([8, 6], np.int32),
    "mel": np.random.default_rng(0).normal(size=(2, 20, 80)).astype(np.float32),
    "mel_length": np.array([20, 16], np.int32),
}
K, N = 3, 2  # steps before saving, steps after continuing
PEAK, WARMUP = 1e-3, 100


def _compiled(family: str, **config):
    model = registry.build_model(family, "small", **config)
    model(BATCH)
    schedule = WarmupInverseSqrt(PEAK, WARMUP)
    optimizer = keras.optimizers.Adam(learning_rate=schedule, clipnorm=1.0)
    # Eager and without XLA: tracing a train step costs more than the few steps here.
    model.compile(optimizer=optimizer, run_eagerly=True, jit_compile=False)
    return model


def _with_optimizer_state(model):
    """As if trained: the optimizer built, so the saved file carries its variables."""
    model.optimizer.build(model.trainable_variables)
    return model


def _fit(model, steps: int) -> None:
    dataset = tf.data.Dataset.from_tensors(BATCH).repeat()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)


def _saved_voice(root: str, model, family: str, preset: str = "small") -> str:
    """The Trainer's layout: Format-Serving/assets/voice.json beside keras/model.keras."""
    serving_dir = os.path.join(root, "model", "Format-Serving")
    os.makedirs(os.path.join(serving_dir, "assets"))
    with open(os.path.join(serving_dir, "assets", "voice.json"), "w") as handle:
        json.dump({"model": family, "preset": preset}, handle)
    path = export.keras_model_file(serving_dir)
    os.makedirs(os.path.dirname(path))
    model.save(path)
    return serving_dir


def _arrays(variables) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.mark.parametrize("family", ["mlp", "tacotron2"])
def test_a_continued_voice_trains_on_from_its_step_weights_and_moments(tmp_path, family):
    keras.utils.set_random_seed(0)
    trained = _compiled(family)
    _fit(trained, K)
    serving_dir = _saved_voice(str(tmp_path), trained, family)

    base = warm_start.load_continuation_base(serving_dir, family, "small")
    assert int(base.optimizer.iterations) == K  # the .keras file holds the optimizer state
    keras.utils.set_random_seed(1)  # a fresh model with other weights
    model = _compiled(family, **warm_start.base_model_config(base))
    assert int(warm_start.continue_from(model, base)) == K

    for ours, theirs in zip(_arrays(model.weights), _arrays(trained.weights), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    moments = _arrays(model.optimizer.variables)
    for ours, theirs in zip(moments, _arrays(trained.optimizer.variables), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert sum(float(np.abs(m).sum()) for m in moments[1:]) > 0  # moments, not fresh zeros

    _fit(model, N)
    assert int(model.optimizer.iterations) == K + N
    # The schedule goes on from step K + N: no second warm-up.
    expected = float(WarmupInverseSqrt(PEAK, WARMUP)(K + N))
    assert float(model.optimizer.learning_rate) == pytest.approx(expected)


def test_continuing_needs_a_voice_of_the_same_family_and_preset(tmp_path):
    with pytest.raises(ValueError, match="nothing to continue"):
        warm_start.load_continuation_base(None, "mlp", "small")
    model = _with_optimizer_state(_compiled("mlp"))
    serving_dir = _saved_voice(str(tmp_path), model, "mlp", preset="base")
    with pytest.raises(ValueError, match="is mlp/base, not mlp/small"):
        warm_start.load_continuation_base(serving_dir, "mlp", "small")


def test_a_changed_layer_size_cannot_continue_and_warm_start_falls_back(tmp_path):
    keras.utils.set_random_seed(0)
    trained = _with_optimizer_state(_compiled("mlp"))
    serving_dir = _saved_voice(str(tmp_path), trained, "mlp")
    base = warm_start.load_continuation_base(serving_dir, "mlp", "small")
    wider = _compiled("mlp", hidden_dim=32)
    with pytest.raises(ValueError, match="has shape"):
        warm_start.continue_from(wider, base)
    # Warm start only seeds: a voice of other layer sizes means from scratch, not a crash.
    assert warm_start.load_base_weights(wider, serving_dir, "mlp", "small") is False


def _store_with_trained_models(names: list[str | None]):
    """An in-memory ML Metadata store where a Trainer execution outputs one Model per name
    (None: a custom config without voice_name, as written before it existed)."""
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    store = metadata_store.MetadataStore(config)
    model_type = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Model"))
    trainer_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    artifacts = []
    for name in names:
        [artifact_id] = store.put_artifacts([metadata_store_pb2.Artifact(type_id=model_type)])
        execution = metadata_store_pb2.Execution(type_id=trainer_type)
        custom = {"model": "mlp"} if name is None else {"model": "mlp", "voice_name": name}
        execution.custom_properties["custom_config"].string_value = json.dumps(custom)
        [execution_id] = store.put_executions([execution])
        store.put_events(
            [
                metadata_store_pb2.Event(
                    artifact_id=artifact_id,
                    execution_id=execution_id,
                    type=metadata_store_pb2.Event.OUTPUT,
                )
            ]
        )
        artifact = standard_artifacts.Model()
        artifact.id = artifact_id
        artifacts.append(artifact)
    return store, artifacts


def test_the_voice_to_continue_is_the_latest_trained_under_the_name_blessed_or_not():
    store, models = _store_with_trained_models(["voice", "voice", "other", None])
    strategy = LatestTrainedModelOfNameStrategy(model_name="voice")
    resolved = strategy.resolve_artifacts(store, {"model": models})
    assert [m.id for m in resolved["model"]] == [models[1].id]
    nothing = LatestTrainedModelOfNameStrategy(model_name="new").resolve_artifacts(
        store, {"model": models}
    )
    assert nothing == {"model": []}
