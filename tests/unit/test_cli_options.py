"""The CLI's surface: --version, defaults in every help, --until's stages, one default voice
name and family, serve's hyphenated spellings, `run --config`, and synthesize's text input."""

from __future__ import annotations

import argparse
import io
import json
import os
import warnings

import pytest

from pipeline import cli, configs
from pipeline.text_split import split_text


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("tts-pipeline ")


@pytest.mark.parametrize("command", ["run", "synthesize", "demo-corpus"])
def test_help_shows_every_options_default(command):
    parser = _subparsers(cli.build_parser())[command]
    text = "".join(parser.format_help().split())  # wrapping may break a line at a hyphen
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0:  # positionals, flags, -h
            continue
        described = cli.HelpFormatter("x")._get_help_string(action) % {"default": action.default}
        assert "default" in described.lower() or "(required)" in described, described
        assert "".join(described.split()) in text


def test_until_lists_its_stages():
    text = " ".join(_subparsers(cli.build_parser())["run"].format_help().split())
    for stage in configs.STAGES:
        assert stage.lower() in text


def test_one_default_family_and_voice_name_everywhere():
    commands = _subparsers(cli.build_parser())
    run = commands["run"].parse_args(["--data", "c", "--output", "o"])
    assert cli.trainer_settings(run, default_model=configs.DEFAULT_MODEL)["model"] == "mlp"
    assert run.model_name == "voice" == configs.DEFAULT_MODEL_NAME
    assert commands["synthesize"].parse_args(["Hi."]).model_name == "voice"
    assert commands["serve"].parse_args([]).model_name == "voice"
    with open("serving/deploy/models.config", encoding="utf-8") as handle:
        assert 'name: "voice"' in handle.read()


def test_serve_takes_hyphenated_spellings_too():
    serve = _subparsers(cli.build_parser())["serve"]
    args = serve.parse_args(["--rest-api-port", "8501", "--model-base-path", "/m", "--port=0"])
    assert (args.rest_api_port, args.model_base_path, args.port) == (8501, "/m", 0)
    args = serve.parse_args(["--rest_api_port=8502", "--enable-batching"])
    assert (args.rest_api_port, args.enable_batching) == (8502, True)


def test_run_config_file_yaml_and_json_with_flags_winning(tmp_path):
    (tmp_path / "run.yaml").write_text(
        "data: corpus\noutput: out\ntrain-steps: 50\nmodel: mlp\nallow_anomalies: true\n"
        "thresholds: {mcd_db: 9}\nset:\n  warmup_steps: 10\n  model.prior_loss_weight: 2\n"
    )
    args = cli.parse_args(["run", "--config", str(tmp_path / "run.yaml"), "--train-steps", "7"])
    assert (args.data, args.output, args.train_steps, args.model) == ("corpus", "out", 7, "mlp")
    assert args.allow_anomalies is True and json.loads(args.thresholds) == {"mcd_db": 9}
    trainer = cli.trainer_settings(args, default_model=configs.DEFAULT_MODEL)
    assert trainer["model"] == "mlp" and trainer["warmup_steps"] == 10
    assert trainer["model_overrides"] == {"prior_loss_weight": 2}
    # --set on the command line beats the file's `set`.
    args = cli.parse_args(
        ["run", "--config", str(tmp_path / "run.yaml"), "--set", "warmup_steps=20"]
    )
    assert cli.trainer_settings(args)["warmup_steps"] == 20

    (tmp_path / "run.json").write_text(json.dumps({"data": "c", "output": "o", "until": "trainer"}))
    args = cli.parse_args(["run", "--config", str(tmp_path / "run.json")])
    assert (args.data, args.until, args.model_name) == ("c", "trainer", "voice")


@pytest.mark.parametrize(
    "content, message",
    [
        ("trainsteps: 5\n", "unknown key 'trainsteps'; keys are"),
        ("model: wavenet\n", "model 'wavenet': choose from"),
        ("train-steps: many\n", "train-steps"),
        ("- a\n- b\n", "expected a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "run.yaml"
    path.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--config", str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_synthesize_reads_stdin_and_text_files(tmp_path, monkeypatch):
    synth = _subparsers(cli.build_parser())["synthesize"]
    monkeypatch.setattr("sys.stdin", io.StringIO("From standard input."))
    assert cli.read_text(synth.parse_args(["-"])) == "From standard input."
    (tmp_path / "t.txt").write_text("From a file.\n", encoding="utf-8")
    assert cli.read_text(synth.parse_args(["--text-file", str(tmp_path / "t.txt")])) == (
        "From a file.\n"
    )
    for argv, message in (([], "give the text"), (["x", "--text-file", "f"], "not both")):
        with pytest.raises(cli.UsageError, match=message):
            cli.read_text(synth.parse_args(argv))


def test_long_text_splits_at_sentence_ends():
    assert split_text("Short one. Another!") == ["Short one. Another!"]
    sentences = [f"Sentence number {i} is here; it says a little more." for i in range(12)]
    pieces = split_text(" ".join(sentences), max_chars=120)
    assert len(pieces) > 1 and all(len(p) <= 120 for p in pieces)
    assert " ".join(pieces) == " ".join(sentences)
    assert all(p.endswith((".", ";")) for p in pieces)
    long_sentence = "word " * 100
    assert all(len(p) <= 50 for p in split_text(long_sentence, max_chars=50))


def test_quiet_environment_hides_native_logs_and_keras_end_of_data_warning(monkeypatch):
    from pipeline import logs

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logs.quiet_environment()
        warnings.warn("Your input ran out of data; interrupting training.", stacklevel=1)
        warnings.warn("something else", stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
