"""`tts-pipeline serve` (tensorflow_model_server's flags) and `synthesize --server` over gRPC."""

from __future__ import annotations

import argparse
import signal
import sys


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _remap(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise argparse.ArgumentTypeError(f"expected FROM=TO, got {text!r}")
    return old, new


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """tensorflow_model_server's flags, same names, defaults and meanings; local ones last."""

    def spellings(name: str) -> list[str]:
        """TF Serving's --rest_api_port, and --rest-api-port as well."""
        hyphenated = name.replace("_", "-")
        return [f"--{name}"] + ([f"--{hyphenated}"] if hyphenated != name else [])

    def flag(name: str, kind=str, default=None, help: str = "") -> None:  # noqa: A002
        if kind is bool:
            parser.add_argument(
                *spellings(name),
                type=_bool,
                nargs="?",
                const=True,
                default=default,
                metavar="true|false",
                help=help,
            )
        else:
            metavar = "N" if kind is int else "VALUE"
            parser.add_argument(
                *spellings(name), type=kind, default=default, metavar=metavar, help=help
            )

    flag("port", int, 8500, "gRPC port; 0 disables gRPC")
    flag("rest_api_port", int, 0, "HTTP/REST port; 0 (the default) disables REST")
    # "voice": the pipeline's default voice name (serving may not import pipeline/).
    flag("model_name", str, "voice", "name of the model (ignored with --model_config_file)")
    flag("model_base_path", str, None, "the model's base path: <base>/<version>/saved_model.pb")
    flag("model_config_file", str, None, "a models.config (ModelServerConfig text proto)")
    flag("model_config_file_poll_wait_seconds", int, 0, "re-read the config file; 0: never")
    flag("file_system_poll_wait_seconds", int, 1, "poll for new versions; 0: once at start")
    flag("rest_api_num_threads", int, None, "REST worker threads (default: 4 x CPUs)")
    flag("rest_api_timeout_in_ms", int, 30000, "timeout of a REST call")
    flag("rest_api_enable_cors_support", bool, False, "add CORS headers to REST responses")
    flag("grpc_max_threads", int, None, "gRPC worker threads (default: 4 x CPUs)")
    flag("grpc_channel_arguments", str, "", "gRPC server arguments, e.g. grpc.max_...=N,...")
    flag("enable_batching", bool, False, "batch requests on the server")
    flag("batching_parameters_file", str, None, "BatchingParameters text proto")
    flag("monitoring_config_file", str, None, "MonitoringConfig text proto (Prometheus)")
    flag("allow_version_labels_for_unavailable_models", bool, False, "labels may point ahead")
    flag("max_num_load_retries", int, 5, "retries of a version that fails to load")
    flag("load_retry_interval_micros", int, 60_000_000, "wait between load retries")
    flag("enable_model_warmup", bool, True, "run warmup requests before serving a version")
    flag("num_request_iterations_for_warmup", int, 0, "repeat each warmup request N times")
    flag("saved_model_tags", str, "serve", "comma-separated MetaGraphDef tags to load")
    # local additions (not tensorflow_model_server flags)
    flag("host", str, "127.0.0.1", "[local] address to bind both ports to (0.0.0.0: all)")
    flag("max_request_bytes", int, 4 * 1024 * 1024, "[local] request size limit, both ports")
    flag("max_text_chars", int, 1000, "[local] longest text one element may carry")
    flag("max_request_rows", int, 64, "[local] rows (texts) one request may carry")
    flag("max_concurrent_runs", int, None, "[local] graph runs at once without batching (CPUs)")
    flag("rest_api_max_connections", int, 512, "[local] open REST connections at most")
    flag("rest_api_idle_timeout_seconds", float, 30.0, "[local] REST header/body/idle timeout")
    parser.add_argument(
        *spellings("remap_base_path"),
        type=_remap,
        action="append",
        default=[],
        help="[local] FROM=TO: rewrite base_path prefixes (run a container's models.config "
        "on the host, e.g. /models=/srv/push)",
    )


def options_from_args(args: argparse.Namespace):
    from serving.server import ServerOptions

    options = ServerOptions(
        port=args.port or None,
        rest_api_port=args.rest_api_port or None,
        model_name=args.model_name,
        model_base_path=args.model_base_path,
        model_config_file=args.model_config_file,
        model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
        file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
        rest_api_timeout_in_ms=args.rest_api_timeout_in_ms,
        rest_api_enable_cors_support=args.rest_api_enable_cors_support,
        grpc_channel_arguments=args.grpc_channel_arguments,
        enable_batching=args.enable_batching,
        batching_parameters_file=args.batching_parameters_file,
        monitoring_config_file=args.monitoring_config_file,
        allow_version_labels_for_unavailable_models=args.allow_version_labels_for_unavailable_models,
        max_num_load_retries=args.max_num_load_retries,
        load_retry_interval_micros=args.load_retry_interval_micros,
        enable_model_warmup=args.enable_model_warmup,
        num_request_iterations_for_warmup=args.num_request_iterations_for_warmup,
        saved_model_tags=args.saved_model_tags,
        host=args.host,
        max_request_bytes=args.max_request_bytes,
        max_text_chars=args.max_text_chars,
        max_request_rows=args.max_request_rows,
        rest_api_max_connections=args.rest_api_max_connections,
        rest_api_idle_timeout_seconds=args.rest_api_idle_timeout_seconds,
        remap_base_path=list(args.remap_base_path),
    )
    if args.rest_api_num_threads:
        options.rest_api_num_threads = args.rest_api_num_threads
    if args.grpc_max_threads:
        options.grpc_max_threads = args.grpc_max_threads
    if args.max_concurrent_runs:
        options.max_concurrent_runs = args.max_concurrent_runs
    return options


def run_serve(args: argparse.Namespace) -> int:
    """Serves until Ctrl-C or SIGTERM; exit status 2 for a bad flag or config."""
    from absl import logging

    from serving.config import ConfigError
    from serving.server import ModelServer

    logging.set_verbosity(logging.INFO)
    try:
        server = ModelServer(options_from_args(args)).start()
    except (ConfigError, OSError, ValueError) as error:
        print(f"tts-pipeline serve: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
    ports = []
    if server.grpc_port:
        ports.append(f"gRPC {args.host}:{server.grpc_port}")
    if server.rest_port:
        ports.append(f"REST {args.host}:{server.rest_port}")
    print(f"serving {', '.join(server.manager.model_names())} on {', '.join(ports)}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `serve` to a subparsers object (pipeline/cli.py's `commands`)."""
    serve = subparsers.add_parser(
        "serve",
        help="serve pushed voices over TF Serving's gRPC and REST APIs (local server)",
        description="A local server that speaks tensorflow_model_server's wire API, with its "
        "flags. Binds 127.0.0.1 unless --host says otherwise.",
    )
    add_server_flags(serve)
    serve.set_defaults(func=run_serve)
    return serve


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds --server and friends to the `synthesize` parser."""
    parser.add_argument(
        "--server", default=None, help="HOST:PORT of a TF Serving gRPC port: synthesize there"
    )
    parser.add_argument("--model-name", default=None, help="served model name (with --server)")
    parser.add_argument("--model-version", type=int, default=None, help="a specific version")
    parser.add_argument("--version-label", default=None, help="a version label, e.g. stable")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (with --server)")


def synthesize_over_grpc(
    server: str,
    model_name: str,
    text: str,
    output: str,
    *,
    version: int | None = None,
    version_label: str | None = None,
    timeout_s: float = 60.0,
):
    """One text to one wav file via the server; returns the client's Synthesis."""
    from models.voice_files import write_wav
    from serving.client import synthesize

    result = synthesize(
        server,
        model_name,
        [text],
        version=version,
        version_label=version_label,
        timeout_s=timeout_s,
    )
    write_wav(output, result.waves[0], result.sample_rate)
    return result


def run_synthesize(args: argparse.Namespace) -> int:
    """`synthesize --server`: prints where the wav went; exit 2 on a refused request."""
    from serving.client import SynthesisError

    if not args.model_name:
        print("tts-pipeline synthesize: --server needs --model-name", file=sys.stderr)
        return 2
    if not args.text.strip():
        print("tts-pipeline synthesize: the text is empty", file=sys.stderr)
        return 2
    try:
        result = synthesize_over_grpc(
            args.server,
            args.model_name,
            args.text,
            args.output,
            version=args.model_version,
            version_label=args.version_label,
            timeout_s=args.timeout,
        )
    except SynthesisError as error:
        print(f"tts-pipeline synthesize: {args.server}: {error}", file=sys.stderr)
        return 2 if error.code.name in ("INVALID_ARGUMENT", "NOT_FOUND") else 1
    seconds = len(result.waves[0]) / result.sample_rate
    print(
        f"{args.output}: {seconds:.2f} s at {result.sample_rate} Hz "
        f"({result.model_name} version {result.version} via {args.server})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """`python -m serving.cli`: the same two commands without the rest of the pipeline CLI."""
    parser = argparse.ArgumentParser(prog="python -m serving.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(commands)
    synth = commands.add_parser("synthesize", help="text to wav via a TF Serving gRPC port")
    synth.add_argument("text")
    synth.add_argument("-o", "--output", default="out.wav")
    add_client_arguments(synth)
    synth.set_defaults(func=run_synthesize)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "synthesize" and not args.server:
        print("python -m serving.cli synthesize: --server is required", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
