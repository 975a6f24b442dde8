"""The Trainer's settings: model config overrides, `tts-pipeline run --set`, `--retrain`."""

from __future__ import annotations

import json

import pytest

from models.trainer_config import TrainerConfig, model_config_fields
from pipeline import configs
from pipeline.cli import build_parser, main, parse_settings, trainer_settings

RUN = ["run", "--data", "d", "--output", "o"]


def _settings(*argv: str) -> dict:
    return trainer_settings(build_parser().parse_args([*RUN, *argv]))


def test_model_overrides_round_trip_through_the_custom_config_json():
    config = TrainerConfig(
        model="mlp", model_overrides={"prior_loss_weight": 2, "duration_loss_weight": 0.5}
    )
    assert config.model_overrides == {"prior_loss_weight": 2.0, "duration_loss_weight": 0.5}
    again = TrainerConfig.from_custom_config(json.loads(config.to_json()))
    assert again == config
    tacotron2 = TrainerConfig(model_overrides={"guided_attention_weight": 0, "prenet_units": [8]})
    assert TrainerConfig.from_custom_config(json.loads(tacotron2.to_json())) == tacotron2


def test_an_unknown_model_field_names_the_fields_of_that_family():
    with pytest.raises(ValueError, match="unknown mlp model config fields.*prior_loss_weight"):
        TrainerConfig(model="mlp", model_overrides={"guided_attention_weight": 0.0})
    with pytest.raises(ValueError, match="unknown tacotron2 .*guided_attention_weight"):
        TrainerConfig(model_overrides={"prior_loss_weight": 5})
    assert "guided_attention_weight" in model_config_fields("tacotron2")
    assert "num_heads" in model_config_fields("attention")


def test_wrong_types_and_values_the_config_refuses_fail_early():
    with pytest.raises(ValueError, match="warmup_steps must be of type int"):
        TrainerConfig(warmup_steps=1.5)
    with pytest.raises(ValueError, match="warm_start must be of type bool"):
        TrainerConfig(warm_start="yes")
    with pytest.raises(ValueError, match="mel_loss must be 'mse' or 'l1'"):
        TrainerConfig(model_overrides={"mel_loss": "l3"})
    with pytest.raises(ValueError, match="hidden_dim must be of type int"):
        TrainerConfig(model="attention", model_overrides={"hidden_dim": "wide"})
    assert TrainerConfig(peak_learning_rate=1).peak_learning_rate == 1.0


def test_set_values_are_json_when_they_parse_else_strings():
    pairs = ["peak_learning_rate=5e-4", "warm_start=false", "mixed_precision=on", "a.b=[1, 2]"]
    assert parse_settings(pairs) == {
        "peak_learning_rate": 5e-4,
        "warm_start": False,
        "mixed_precision": "on",
        "a.b": [1, 2],
    }
    assert parse_settings(["seed=1", "seed=1"]) == {"seed": 1}
    for bad in (["seed"], ["=1"]):
        with pytest.raises(ValueError, match="expected KEY=VALUE"):
            parse_settings(bad)
    with pytest.raises(ValueError, match="given twice"):
        parse_settings(["seed=1", "seed=2"])


def test_set_reaches_trainer_and_model_fields_and_beats_flag_defaults():
    trainer = _settings(
        "--set",
        "warmup_steps=100",
        "--set",
        "max_train_seconds=600",
        "--set",
        "model=mlp",
        "--set",
        "model.prior_loss_weight=10",
        "--set",
        "warm_start=false",
    )
    assert trainer == {
        "model": "mlp",
        "warmup_steps": 100,
        "max_train_seconds": 600,
        "warm_start": False,
        "model_overrides": {"prior_loss_weight": 10},
    }
    config = TrainerConfig.from_custom_config(trainer)
    assert (config.preset, config.max_train_seconds, config.continue_training) == (
        "small",
        600.0,
        False,
    )
    assert _settings() == {}  # no flag given: the TrainerConfig defaults


def test_set_contradicting_an_explicit_flag_is_an_error_agreeing_is_not():
    with pytest.raises(ValueError, match="batch_size=8 contradicts --batch-size"):
        _settings("--batch-size", "4", "--set", "batch_size=8")
    assert _settings("--batch-size", "4", "--set", "batch_size=4") == {"batch_size": 4}
    with pytest.raises(ValueError, match="warm_start=true contradicts --retrain"):
        _settings("--retrain", "continue", "--set", "warm_start=true")


def test_unknown_keys_name_the_valid_ones_and_exit_2(capsys):
    with pytest.raises(ValueError, match="unknown keys \\['train_step'\\]; keys are model, "):
        _settings("--set", "train_step=3")
    with pytest.raises(ValueError, match="unknown tacotron2 model config fields \\['stop'\\]"):
        _settings("--set", "model.stop=8")
    assert main([*RUN, "--set", "warmup=1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "peak_learning_rate" in error


def test_retrain_continue_sets_continue_training():
    assert _settings("--retrain", "continue") == {"warm_start": False, "continue_training": True}
    assert configs.retrain_settings("scratch") == {"warm_start": False, "continue_training": False}
    assert configs.warm_start_setting("warm-start") is True
    with pytest.raises(ValueError, match="retrain_settings"):
        configs.warm_start_setting("continue")  # it would silently mean scratch there


def test_learning_rate_and_warm_up_come_from_the_recipe_unless_set():
    assert (
        TrainerConfig(model="mlp").peak_learning_rate,
        TrainerConfig(model="mlp").warmup_steps,
    ) == (3e-3, 100)
    assert TrainerConfig(model="tacotron2").peak_learning_rate == 1e-3
    assert TrainerConfig(model="mlp", preset="base").warmup_steps == 200
    given = TrainerConfig(model="mlp", peak_learning_rate=5e-4, warmup_steps=0)
    assert (given.peak_learning_rate, given.warmup_steps) == (5e-4, 0)
    # 0 is a learning rate (an untrained voice, in the e2e tests), not "use the recipe".
    assert TrainerConfig(model="mlp", peak_learning_rate=0.0).peak_learning_rate == 0.0
    # Resolved values travel: the Trainer reads back what the pipeline resolved.
    again = TrainerConfig.from_custom_config(json.loads(given.to_json()))
    assert again == given
