"""`tts-pipeline`: the command line for operators (build a demo corpus, run the pipeline)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from models.tflite.cli import add_export_tflite_parser
from models.voice_card import DEFAULT_LICENCE
from pipeline.compile_cli import add_compile_parser
from pipeline.configs import DEFAULT_MODEL, DEFAULT_MODEL_NAME
from pipeline.run_config import parse_settings
from pipeline.text_split import DEFAULT_MAX_CHARS
from pipeline.voices_cli import add_voices_parser
from serving.cli import add_client_arguments, add_serve_parser


def _demo_corpus(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipeline.demo_corpus import build_demo_corpus

    with tqdm(total=args.sentences, unit="utt", desc="demo corpus") as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        summary = build_demo_corpus(
            args.out,
            sentences=args.sentences,
            seed=args.seed,
            progress=progress,
            id_prefix=args.id_prefix,
        )
    print(
        f"demo corpus: {summary.utterances} utterances, "
        f"{summary.total_audio_seconds / 60:.1f} min of audio in {summary.wall_seconds:.1f} s "
        f"-> {os.path.abspath(args.out)}"
    )
    return 0


def _initialized_from(text: str) -> str:
    """`from scratch`, `from <base>`, or as is: `continued from <base> at step K`."""
    return text if text.startswith("continued") else f"from {text}"


def _print_summary(summary: dict) -> None:
    for name, entry in summary["components"].items():
        figures = []
        if entry.get("span") is not None:
            figures.append(f"span {entry['span']}")
        if "spans" in entry:
            figures.append(f"spans {entry['spans']}")
        if "examples" in entry:
            figures.append(f"examples {entry['examples']}")
        if "quarantined" in entry:
            share = f" ({entry['quarantined_share']:.1%})" if "quarantined_share" in entry else ""
            figures.append(
                f"quarantined {entry['quarantined']}{share} {entry['quarantined_by_reason']}"
            )
        if "anomaly_count" in entry:
            figures.append(f"anomalies {entry['anomaly_count']}")
        if "blessed" in entry:
            figures.append(
                ("BLESSED: " if entry["blessed"] else "NOT BLESSED: ")
                + str(entry.get("blessing_message"))
            )
        if "pushed" in entry:
            figures.append(
                f"pushed to {entry['pushed_destination']}" if entry["pushed"] else "not pushed"
            )
        if "training" in entry:
            training = entry["training"]
            loss = training["final"].get("loss")
            total = training.get("total_steps", training["steps"])
            steps = f"{training['steps']} steps" + (
                f" ({total} in all)" if total != training["steps"] else ""
            )
            figures.append(
                f"{training['model']}/{training['preset']} {steps} at "
                f"{training['steps_per_second']} steps/s, final loss {loss}, "
                + _initialized_from(training.get("initialized_from", "scratch"))
            )
        if "tflite_status" in entry:
            variants = ", ".join(
                f"{name} {v['status']}" for name, v in entry.get("tflite_variants", {}).items()
            )
            shipped = entry.get("tflite_bundle_variant") or "nothing shipped"
            figures.append(f"TFLite {entry['tflite_status']}: {variants or '-'}; bundle {shipped}")
        wall = f"{entry['wall_s']:.1f} s" if "wall_s" in entry else ""
        print(f"  {name:<18} {entry['status']:<9} {wall:>8}  {'; '.join(figures)}")


# TrainerConfig fields that other flags set; model_overrides is `--set model.FIELD=...`, and
# voice_name is --model-name.
_FLAGS = {"model": "--model", "preset": "--preset", "batch_size": "--batch-size"}
_NOT_SETTABLE = ("model_overrides", "voice_name")


def trainer_settings(args: argparse.Namespace, default_model: str | None = None) -> dict[str, Any]:
    """The Trainer's custom config from run's flags, `--set` and --config's `set`, validated (a
    ValueError names the valid keys): --set wins over a flag's default, and contradicting a
    flag given explicitly is an error. `default_model` (run's: attention) is the family when
    neither --model nor --set model= names one; None leaves TrainerConfig's."""
    import dataclasses

    from models.trainer_config import TrainerConfig

    settings = {**getattr(args, "config_settings", {}), **parse_settings(args.settings or [])}
    keys = [f.name for f in dataclasses.fields(TrainerConfig) if f.name not in _NOT_SETTABLE]
    overrides = {k[len("model.") :]: v for k, v in settings.items() if k.startswith("model.")}
    trainer = {k: v for k, v in settings.items() if not k.startswith("model.")}
    unknown = sorted(set(trainer) - set(keys))
    if unknown:
        raise ValueError(
            f"--set: unknown keys {unknown}; keys are {', '.join(keys)}, and model.FIELD for a "
            "field of the model's config"
        )
    from pipeline import configs  # imports TFX (seconds): after the check above

    explicit = {key: getattr(args, key) for key in _FLAGS}
    flags = dict(_FLAGS)
    if args.retrain is not None:
        explicit.update(configs.retrain_settings(args.retrain))
        flags.update(warm_start="--retrain", continue_training="--retrain")
    for key, value in explicit.items():
        if value is None:
            continue
        if key in trainer and trainer[key] != value:
            raise ValueError(
                f"--set {key}={json.dumps(trainer[key])} contradicts {flags[key]} (which sets "
                f"{key}={json.dumps(value)}): give one"
            )
        trainer[key] = value
    if default_model:
        trainer.setdefault("model", default_model)
    if overrides:
        trainer["model_overrides"] = overrides
    try:
        TrainerConfig.from_custom_config(trainer)
    except ValueError as error:
        raise ValueError(f"--set: {error}") from error
    return trainer


class UsageError(ValueError):
    """A `run` that cannot start: a bad flag, corpus or output; the CLI exits 2."""


def _check_writable(directory: str, what: str) -> None:
    """Creates `directory` and writes a probe file in it (os.access says yes to root on a
    read-only mount)."""
    import tempfile

    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-probe-"):
            pass
    except OSError as error:
        raise UsageError(
            f"{what} {directory!r} is not writable: {error.strerror or error}"
        ) from None


def check_run_arguments(args: argparse.Namespace) -> None:
    """What `run` can refuse in milliseconds, before TFX and TensorFlow load: the numbers,
    the stage, the corpus layout (local corpora), the schema file and a writable output.
    Standard library and pure-Python modules only; raises UsageError."""
    from pipeline import configs, corpus_layout

    missing = [
        flag for flag, value in (("--data", args.data), ("--output", args.output)) if not value
    ]
    if missing:
        raise UsageError(
            f"the following arguments are required: {', '.join(missing)} (on the command line "
            "or in --config)"
        )
    if args.train_steps < 1:
        raise UsageError(f"--train-steps must be at least 1, got {args.train_steps}")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0.0 < args.eval_fraction < 1.0:
        raise UsageError(f"--eval-fraction must be in (0, 1), got {args.eval_fraction}")
    if not args.max_duration_s > 0:
        raise UsageError(f"--max-duration-s must be positive, got {args.max_duration_s}")
    if not 0.0 <= args.max_quarantined_share <= 1.0:
        raise UsageError(
            f"--max-quarantined-share must be in [0, 1], got {args.max_quarantined_share}"
        )
    if args.ingest_span is not None and args.ingest_span < 0:
        raise UsageError(f"--ingest-span must be 0 or more, got {args.ingest_span}")
    if args.baseline_tolerance < 0:
        raise UsageError(f"--baseline-tolerance must be 0 or more, got {args.baseline_tolerance}")
    try:
        configs.resolve_stage(args.until)
    except ValueError as error:
        raise UsageError(f"--until: {error}") from None
    if "://" not in args.data:  # a URI is checked by run_pipeline, through TFX's fileio
        try:
            corpus_layout.check_corpus(os.path.abspath(args.data), args.ingest_span)
        except corpus_layout.UnusableCorpusError as error:
            raise UsageError(str(error)) from None
    if args.schema and not os.path.isfile(args.schema):
        raise UsageError(f"--schema {args.schema!r}: no such file")
    if "://" in args.output:
        # The pipeline root, ML Metadata's SQLite file, logs and run history live there, and
        # TFX's Beam stages write it through Beam's file systems, not tensorflow-io's.
        raise UsageError(
            f"--output {args.output!r}: the output directory must be a local path; the corpus "
            "(--data) and the pushed voices (--push-dir) may be on object storage"
        )
    _check_writable(args.output, "output directory")
    if args.push_dir and "://" not in args.push_dir:
        _check_writable(args.push_dir, "push directory")


def _run(args: argparse.Namespace) -> int:
    from models.thresholds import parse_thresholds
    from pipeline.run_lock import RunInProgressError, exclusive_run

    # Before the heavy imports: a typo, a bad corpus or a held lock costs milliseconds, not
    # a pipeline start-up.
    try:
        trainer = trainer_settings(args, default_model=DEFAULT_MODEL)
    except ValueError as error:
        print(f"tts-pipeline run: {error}", file=sys.stderr)
        return 2
    try:  # a bad name or JSON stops here, with the valid names, before any stage runs
        parse_thresholds(args.thresholds)
    except ValueError as error:
        print(f"tts-pipeline run: --thresholds: {error}", file=sys.stderr)
        return 2
    try:
        check_run_arguments(args)
    except UsageError as error:
        print(f"tts-pipeline run: {error}", file=sys.stderr)
        return 2
    try:
        with exclusive_run(args.output):  # run_pipeline takes it again (re-entrant)
            return _run_locked(args, trainer)
    except RunInProgressError as error:
        print(f"tts-pipeline run: {error}", file=sys.stderr)
        return 3


def resolved_run_config(args: argparse.Namespace, trainer: dict, run_id: str) -> dict[str, Any]:
    """What this run was asked to do, every flag and setting resolved: saved with the run
    (runs/<run id>/run_config.json), and loadable again with --config."""
    from pipeline.run_config import RECORD_ONLY

    flags = {
        key: value
        for key, value in sorted(vars(args).items())
        if key not in ("func", "command", "config", "settings", "config_settings", *RECORD_ONLY)
    }
    settings = {**getattr(args, "config_settings", {}), **parse_settings(args.settings or [])}
    return {
        **flags,
        "set": settings,
        "run_id": run_id,
        "tts_pipeline_version": _version(),
        "resolved": {"trainer": trainer, "model_name": args.model_name},
    }


def _run_locked(args: argparse.Namespace, trainer: dict) -> int:
    from pipeline import configs, run_history
    from pipeline.logs import log_path, run_log

    run_id = run_history.new_run_id(args.output)
    run_history.write_run_config(resolved_run_config(args, trainer, run_id), args.output, run_id)
    log = log_path(args.output, run_id)
    print(f"run {run_id}: full log {log}", file=sys.stderr, flush=True)
    outcome: tuple[int, str | None] = (0, None)
    summary = None
    with run_log(log, verbose=args.verbose):
        try:
            summary = _run_pipeline(args, trainer, run_id)
        except Exception as error:  # noqa: BLE001 - reported below, on the terminal
            from pipeline.corpus_layout import UnusableCorpusError

            if isinstance(error, UnusableCorpusError | ValueError | FileNotFoundError):
                outcome = (2, str(error))
            else:  # a stage failed: the summary says which
                outcome = (1, f"failed: {type(error).__name__}: {error}")
            import traceback

            traceback.print_exc()  # into the log
    code, message = outcome
    if message:
        print(f"tts-pipeline run: {message}", file=sys.stderr)
        _maybe_print_summary(args.output)
        print(f"full log: {log}", file=sys.stderr)
        return code
    print(f"run complete: {os.path.join(summary['output_dir'], configs.RUN_SUMMARY_FILE)}")
    _print_summary(summary)
    components = summary["components"]
    if components.get("Evaluator", {}).get("report"):
        print(f"evaluation report: {components['Evaluator']['report']}")
    if components.get("Pusher", {}).get("pushed"):
        print(f"pushed model: {components['Pusher']['pushed_destination']}")
    elif components.get("Trainer", {}).get("serving_model_dir"):
        print(f"trained model (not pushed): {components['Trainer']['serving_model_dir']}")
    if components.get("TFLiteExporter", {}).get("tflite_bundle_dir"):
        print(f"mobile bundle: {components['TFLiteExporter']['tflite_bundle_dir']}")
    print(f"run {run_id}: {run_history.run_dir(summary['output_dir'], run_id)}; log {log}")
    return 0


def _run_pipeline(args: argparse.Namespace, trainer: dict, run_id: str) -> dict:
    from pipeline import configs
    from pipeline.local_runner import run_pipeline

    ingest = configs.IngestConfig(
        eval_fraction=args.eval_fraction,
        max_duration_s=args.max_duration_s,
        max_quarantined_share=args.max_quarantined_share,
        span=args.ingest_span,
    )
    beam_args = args.beam_pipeline_args.split() if args.beam_pipeline_args else None
    evaluation = configs.EvaluationConfig(baseline_tolerance=args.baseline_tolerance)
    if args.thresholds:
        evaluation.thresholds = json.loads(args.thresholds)  # checked above; laid over defaults
    return run_pipeline(
        data_root=args.data,
        output_dir=args.output,
        until=args.until,
        ingest=ingest,
        schema_path=args.schema,
        trainer=trainer,
        train_steps=args.train_steps,
        allow_anomalies=args.allow_anomalies,
        evaluation=evaluation,
        model_name=args.model_name,
        push_dir=args.push_dir,
        beam_pipeline_args=beam_args,
        enable_cache=not args.no_cache,
        run_id=run_id,
        voice_licence=args.voice_licence,
    )


def _maybe_print_summary(output_dir: str) -> None:
    from pipeline import configs

    path = os.path.join(output_dir, configs.RUN_SUMMARY_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            _print_summary(json.load(handle))
        print(f"run summary: {path}", file=sys.stderr)


def read_text(args: argparse.Namespace) -> str:
    """The text to speak: the argument, `-` for standard input, or --text-file."""
    if args.text_file is not None:
        if args.text is not None:
            raise UsageError("give the text or --text-file, not both")
        if args.text_file == "-":
            return sys.stdin.read()
        try:
            with open(args.text_file, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--text-file {args.text_file!r}: {error}") from None
    if args.text is None:
        raise UsageError("give the text, - to read it from standard input, or --text-file")
    return sys.stdin.read() if args.text == "-" else args.text


def _synthesize(args: argparse.Namespace) -> int:
    from pipeline.text_split import split_text

    try:
        text = read_text(args)
    except UsageError as error:
        print(f"tts-pipeline synthesize: {error}", file=sys.stderr)
        return 2
    if not text.strip():
        print("tts-pipeline synthesize: the text is empty", file=sys.stderr)
        return 2
    if args.max_chars < 20:
        print("tts-pipeline synthesize: --max-chars must be at least 20", file=sys.stderr)
        return 2
    if args.server or args.rest:
        return _synthesize_remote(args, split_text(text, args.max_chars))
    if not args.model_dir:
        print("tts-pipeline synthesize: give --model-dir, --server or --rest", file=sys.stderr)
        return 2
    from models.voice_files import resolve_saved_model_dir, write_wav
    from pipeline.synthesize import synthesize_text

    try:
        resolve_saved_model_dir(args.model_dir, args.allow_unblessed)  # before TF loads
        if not args.verbose:
            from pipeline.logs import muted_stderr

            with muted_stderr():  # TensorFlow's import banners (CUDA factories, ...)
                import tensorflow  # noqa: F401
        audio, sample_rate, pieces = synthesize_text(
            args.model_dir, text, args.max_chars, allow_unblessed=args.allow_unblessed
        )
    except FileNotFoundError as error:
        print(f"tts-pipeline synthesize: {error}", file=sys.stderr)
        return 2
    write_wav(args.output, audio, sample_rate)
    split = f" ({pieces} pieces split at sentence ends)" if pieces > 1 else ""
    print(f"{args.output}: {len(audio) / sample_rate:.2f} s at {sample_rate} Hz{split}")
    return 0


def _synthesize_remote(args: argparse.Namespace, pieces: list[str]) -> int:
    """Over TF Serving's gRPC port (--server) or its REST port (--rest, no TensorFlow)."""
    from models.voice_files import write_wav
    from pipeline.synthesize import join_pieces
    from serving import client

    where = args.rest or args.server
    try:
        call = client.synthesize_rest if args.rest else client.synthesize  # same arguments
        result = call(
            where,
            args.model_name,
            pieces,
            version=args.model_version,
            version_label=args.version_label,
            timeout_s=args.timeout,
        )
    except client.SynthesisError as error:
        print(f"tts-pipeline synthesize: {where}: {error}", file=sys.stderr)
        return 2 if error.code.name in ("INVALID_ARGUMENT", "NOT_FOUND") else 1
    audio = join_pieces(result.waves, result.sample_rate)
    write_wav(args.output, audio, result.sample_rate)
    version = f" version {result.version}" if result.version else ""
    print(
        f"{args.output}: {len(audio) / result.sample_rate:.2f} s at {result.sample_rate} Hz "
        f"({result.model_name}{version} via {where})"
    )
    return 0


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help: `(default: X)` unless the help says it in words;
    `(default: none)` for an option that is simply not used unless given."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "%(default)" in text
            or "default" in text.lower()
            or "(required)" in text
            or action.required
            or action.nargs == 0  # switches (off unless given), --help, --version
            or action.default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        if action.default is None:
            return f"{text} (default: none)".strip()
        return f"{text} (default: %(default)s)".strip()

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None:  # argparse skips the default of an option with no help
            action.help = " "
        return super()._format_action(action)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tts-pipeline")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _stages_help() -> str:
    from pipeline import configs  # pure Python: cheap

    stages = ", ".join(stage.lower() for stage in configs.STAGES)
    aliases = ", ".join(f"{a}={s.lower()}" for a, s in configs.STAGE_ALIASES.items())
    return f"stop after this stage; default: all. Stages in order: {stages} (aliases: {aliases})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tts-pipeline",
        description="A TFX pipeline from a speech corpus to a voice.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tts-pipeline {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo-corpus",
        help="synthesise a reproducible LJSpeech-layout corpus offline",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("out", help="output directory (created)")
    demo.add_argument("--sentences", type=int, default=200, help="utterances to synthesise")
    demo.add_argument("--seed", type=int, default=0, help="same seed, byte-identical corpus")
    demo.add_argument(
        "--id-prefix",
        default="DEMO-",
        help="utterance id prefix: give each batch (span-N/) of a growing corpus its own",
    )
    demo.set_defaults(func=_demo_corpus)

    from pipeline import configs  # pure Python: cheap

    run = commands.add_parser(
        "run", help="run the pipeline with LocalDagRunner", formatter_class=HelpFormatter
    )
    run.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="run's flags and settings from a YAML or JSON file (keys: flag names, and `set:` "
        "a mapping of --set keys); flags on the command line win. Each run saves its "
        "resolved config as OUTPUT/runs/<run id>/run_config.json, loadable here",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream TensorFlow's, TFX's and Beam's logs to the terminal (they always go to "
        "OUTPUT/logs/<run id>.log); without it: one line per component, warnings, the summary",
    )
    run.add_argument(
        "--data",
        default=None,
        help="(required) corpus directory: LJSpeech layout, or span-N/ subdirectories in that "
        "layout "
        "(a growing corpus: each run ingests the newest span and trains on all)",
    )
    run.add_argument(
        "--ingest-span",
        type=int,
        default=None,
        help="re-ingest this span instead of the newest (after fixing recordings in it); "
        "default: the newest",
    )
    run.add_argument(
        "--retrain",
        choices=("warm-start", "scratch", "continue"),
        default=None,
        help="warm-start (default): from the voice blessed before this data (same model and "
        "preset); scratch; continue: the latest voice trained under --model-name, blessed or "
        "not, with its optimizer state and step count, for --train-steps more steps",
    )
    run.add_argument(
        "--output",
        default=None,
        help="(required) pipeline root, ML Metadata, run history (runs/), logs (logs/) and "
        "the latest run_summary.json",
    )
    run.add_argument("--until", default=None, metavar="STAGE", help=_stages_help())
    run.add_argument(
        "--eval-fraction", type=float, default=0.1, help="share of the rows held out for eval"
    )
    run.add_argument(
        "--max-duration-s",
        type=float,
        default=20.0,
        help="longer clips are quarantined (too_long)",
    )
    run.add_argument(
        "--max-quarantined-share",
        type=float,
        default=configs.DEFAULT_MAX_QUARANTINED_SHARE,
        help="stop at AudioExampleGen when more than this share of the rows is quarantined "
        "(default %(default)s; 1 switches the check off)",
    )
    run.add_argument(
        "--schema",
        default=None,
        help="a saved schema.pbtxt to validate against (drift check); default: the schema "
        "inferred from this data",
    )
    run.add_argument(
        "--beam-pipeline-args",
        default=None,
        help="Beam arguments as one string, e.g. '--runner=DataflowRunner --project=...'; "
        "default: DirectRunner in memory, one worker",
    )
    run.add_argument(
        "--model",
        choices=("mlp", "attention", "tacotron2"),
        default=None,
        help=f"model family (default: {configs.DEFAULT_MODEL}; tacotron2 needs a GPU budget)",
    )
    run.add_argument(
        "--preset", choices=("small", "base"), default=None, help="model size (default: small)"
    )
    run.add_argument(
        "--train-steps",
        type=int,
        default=configs.DEFAULT_TRAIN_STEPS,
        help="steps this run trains (continue: more)",
    )
    run.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="per replica (default: the Trainer's, models/trainer_config.py)",
    )
    run.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Trainer setting (models/trainer_config.py), e.g. peak_learning_rate=5e-4, "
        "warmup_steps=100, griffin_lim_iterations=16, max_train_seconds=600; or model.FIELD "
        "for a field of the model's config, e.g. model.guided_attention_weight=0. Repeatable; "
        "VALUE is JSON when it parses, else a string. Default: none",
    )
    run.add_argument(
        "--allow-anomalies", action="store_true", help="train even if the data has anomalies"
    )
    run.add_argument(
        "--model-name",
        default=configs.DEFAULT_MODEL_NAME,
        help="the voice's served name: pushed to PUSH_DIR/<model-name>/<version>/, as "
        "`serve` and serving/deploy/models.config serve it",
    )
    run.add_argument("--push-dir", default=None, help="push base (default: OUTPUT/serving)")
    run.add_argument(
        "--voice-licence",
        default=DEFAULT_LICENCE,
        metavar="LICENCE",
        help="the licence the voice card of every pushed voice and mobile bundle names, e.g. "
        "CC-BY-4.0 (the corpus's terms decide it)",
    )
    from models.thresholds import describe_defaults  # pure Python: cheap

    run.add_argument(
        "--thresholds",
        default=None,
        help="blessing thresholds as JSON {metric: value}, laid over the defaults; a metric "
        "is a ceiling or a floor by its kind, null switches one off. Defaults: "
        + describe_defaults().replace("%", "%%"),
    )
    run.add_argument(
        "--baseline-tolerance",
        type=float,
        default=0.05,
        help="how much worse than the blessed baseline a candidate may be (0.05 = 5%%)",
    )
    run.add_argument("--no-cache", action="store_true", help="re-execute every component")
    run.set_defaults(func=_run)

    synth = commands.add_parser(
        "synthesize",
        help="text to wav with an exported voice",
        formatter_class=HelpFormatter,
        description="Long text is split at sentence ends and spoken piece by piece.",
    )
    synth.add_argument(
        "text", nargs="?", default=None, help="the text; - reads it from standard input"
    )
    synth.add_argument(
        "--text-file", default=None, metavar="FILE", help="read the text from FILE (- : stdin)"
    )
    synth.add_argument(
        "--model-dir",
        default=None,
        help="SavedModel dir, TF Serving base <base>/<name> (its highest version), or a "
        "pipeline output dir (the newest voice its runs blessed; never an unblessed one)",
    )
    synth.add_argument(
        "--allow-unblessed",
        action="store_true",
        help="with a pipeline output dir whose runs blessed no voice: the newest trained one",
    )
    synth.add_argument("-o", "--output", default="out.wav", help="the wav file to write")
    synth.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help="longer text is split at sentence ends into pieces of at most this many characters",
    )
    synth.add_argument(
        "-v", "--verbose", action="store_true", help="show TensorFlow's own start-up logs"
    )
    add_client_arguments(synth)  # --server HOST:PORT --model-name ... (TF Serving over gRPC)
    synth.add_argument(
        "--rest",
        default=None,
        metavar="HOST:PORT",
        help="a TF Serving REST port (http://HOST:PORT): synthesize there, without loading "
        "TensorFlow",
    )
    synth.set_defaults(func=_synthesize, model_name=configs.DEFAULT_MODEL_NAME)

    serve = add_serve_parser(commands)
    serve.formatter_class = HelpFormatter
    serve.set_defaults(model_name=configs.DEFAULT_MODEL_NAME)
    compile_ = add_compile_parser(commands)
    compile_.formatter_class = HelpFormatter
    _default_voice_name(compile_)  # the Kubeflow pipeline pushes under the same name
    add_export_tflite_parser(commands).formatter_class = HelpFormatter
    add_voices_parser(commands).formatter_class = HelpFormatter
    return parser


def _default_voice_name(parser: argparse.ArgumentParser) -> None:
    """--model-name defaults to the one served name, `voice`, not the family's."""
    parser.set_defaults(model_name=DEFAULT_MODEL_NAME)
    for action in parser._actions:  # noqa: SLF001 - argparse has no public listing
        if action.dest == "model_name":
            action.help = "served name"


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return commands.choices[name]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses argv; for `run --config FILE`, the file's values become the defaults and argv is
    parsed again, so that flags on the command line win."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run" and args.config:
        from pipeline.run_config import ConfigFileError, defaults_from_file

        run = _subparser(parser, "run")
        try:
            defaults, settings = defaults_from_file(args.config, run)
        except (ConfigFileError, ValueError) as error:
            run.exit(2, f"tts-pipeline run: {error}\n")
        run.set_defaults(**defaults)
        args = parser.parse_args(argv)
        args.config_settings = settings
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command in ("run", "synthesize", "export-tflite"):
        from pipeline import logs

        if getattr(args, "verbose", False):
            logs.silence_keras_noise()  # it reads as a failure, verbose or not
        else:
            logs.quiet_environment()  # before TensorFlow loads
    return args.func(args)


def program() -> None:
    """The `tts-pipeline` program: main(), then an exit that a run on s3:// cannot turn into
    an abort at interpreter shutdown (models/filesystems.py, exit_process)."""
    from models.filesystems import exit_process

    exit_process(main())


if __name__ == "__main__":
    program()
