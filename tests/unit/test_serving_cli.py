"""`serve` takes tensorflow_model_server's flags; the client sends plain TF Serving requests."""

import argparse

import numpy as np
import pytest

from serving import cli, client, tensors


def _serve_args(*argv):
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    cli.add_serve_parser(commands)
    return parser.parse_args(["serve", *argv])


def test_tf_serving_flags_and_defaults():
    args = _serve_args(
        "--model_name=voice",
        "--model_base_path=/push/voice",
        "--rest_api_port=8501",
        "--enable_batching",
        "--batching_parameters_file=b.txt",
        "--file_system_poll_wait_seconds=2",
        "--enable_model_warmup=false",
    )
    options = cli.options_from_args(args)
    assert (options.port, options.rest_api_port, options.host) == (8500, 8501, "127.0.0.1")
    assert options.enable_batching and not options.enable_model_warmup
    assert options.file_system_poll_wait_seconds == 2 and options.rest_api_timeout_in_ms == 30000
    disabled = cli.options_from_args(_serve_args("--port=0", "--model_base_path=/x"))
    assert disabled.port is None and disabled.rest_api_port is None  # 0 disables, as in TF Serving
    remapped = cli.options_from_args(_serve_args("--remap_base_path=/models=/srv/push"))
    assert remapped.remap_base_path == [("/models", "/srv/push")]


def test_bad_flags_are_refused():
    with pytest.raises(SystemExit):
        _serve_args("--enable_batching=perhaps")


def test_serve_refuses_a_missing_model_with_exit_status_2(capsys):
    assert cli.main(["serve"]) == 2
    assert "--model_base_path or --model_config_file" in capsys.readouterr().err


def test_synthesize_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("text")
    cli.add_client_arguments(parser)
    args = parser.parse_args(["Hi", "--server", "127.0.0.1:8500", "--model-name", "voice"])
    assert (args.server, args.model_name, args.model_version, args.timeout) == (
        "127.0.0.1:8500",
        "voice",
        None,
        60.0,
    )


def test_client_request_is_a_plain_tf_serving_predict():
    request = client.predict_request("voice", ["Hello.", "Größe"], version_label="stable")
    assert request.model_spec.name == "voice" and request.model_spec.version_label == "stable"
    assert list(request.output_filter) == ["audio", "audio_length"]
    text = tensors.to_ndarray(request.inputs["text"])
    assert text.tolist() == [b"Hello.", "Größe".encode()]
    assert np.array(text).shape == (2,)
