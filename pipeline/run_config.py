"""`tts-pipeline run --config run.yaml`: run's flags and Trainer/model settings from a YAML or
JSON file. Keys are the flags' names (`train-steps` or `train_steps`) and `set`, a mapping of
`--set` keys (`peak_learning_rate: 5e-4`, `model.guided_attention_weight: 0`); flags given
on the command line win. Paths are relative to the working directory, as on the command
line. The resolved config a run saves (runs/<run id>/run_config.json)
loads back the same way.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

# Keys a saved run_config.json carries beside the flags: written for the reader, ignored when
# the file is loaded back (the run resolves them again).
RECORD_ONLY = ("run_id", "tts_pipeline_version", "resolved")
# run's own arguments that make no sense in a file.
_NOT_IN_FILE = ("config", "help", "settings", "func", "command")


class ConfigFileError(ValueError):
    """An unreadable config file, or a key or value run does not take; names the file."""


def load_file(path: str) -> dict[str, Any]:
    """The file's top-level mapping; YAML unless it ends in .json (JSON is YAML too)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ConfigFileError(f"--config {path!r}: {error.strerror or error}") from None
    try:
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as error:  # yaml.YAMLError is not one; caught below
        raise ConfigFileError(f"--config {path!r}: not valid JSON: {_one_line(error)}") from None
    except Exception as error:  # noqa: BLE001 - yaml.YAMLError, without importing yaml here
        raise ConfigFileError(f"--config {path!r}: not valid YAML: {_one_line(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"--config {path!r}: expected a mapping of flags, got {data!r}")
    return data


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs as {KEY: VALUE}; VALUE is JSON when it parses (5e-4, 100,
    true, [64, 64]), else the string as given (on, l1)."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if key in settings and settings[key] != value:
            raise ValueError(f"--set {key} given twice: {settings[key]!r} and {value!r}")
        settings[key] = value
    return settings


def _settings(path: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):  # ["KEY=VALUE", ...] as on the command line
        return parse_settings([str(item) for item in value])
    raise ConfigFileError(f"--config {path!r}: `set` must be a mapping of KEY: VALUE")


def _coerce(path: str, key: str, action: argparse.Action, value: Any) -> Any:
    if value is None:
        return None
    if action.nargs == 0:  # store_true / store_false
        if not isinstance(value, bool):
            raise ConfigFileError(f"--config {path!r}: {key} must be true or false, got {value!r}")
        return value
    kind = action.type
    if kind is not None:
        try:
            value = kind(value)
        except (TypeError, ValueError, argparse.ArgumentTypeError) as error:
            raise ConfigFileError(f"--config {path!r}: {key}: {error}") from None
    elif isinstance(value, dict | list):  # --thresholds: a JSON object on the command line
        value = json.dumps(value)
    elif not isinstance(value, str):
        value = str(value)
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigFileError(f"--config {path!r}: {key} {value!r}: choose from {choices}")
    return value


def defaults_from_file(path: str, parser: argparse.ArgumentParser) -> tuple[dict, dict]:
    """(flag defaults keyed by dest, `set` settings) from the file at `path`, checked against
    `parser`'s options; an unknown key names the valid ones."""
    data = load_file(path)
    actions = {
        action.dest: action
        for action in parser._actions  # noqa: SLF001 - argparse has no public listing
        if action.option_strings and action.dest not in _NOT_IN_FILE
    }
    defaults: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).lstrip("-").replace("-", "_")
        if key == "set":
            settings = _settings(path, value)
        elif key in RECORD_ONLY:
            continue
        elif key in actions:
            defaults[key] = _coerce(path, str(raw_key), actions[key], value)
        else:
            valid = ", ".join(sorted(k.replace("_", "-") for k in actions) + ["set"])
            raise ConfigFileError(f"--config {path!r}: unknown key {raw_key!r}; keys are {valid}")
    return defaults, settings
