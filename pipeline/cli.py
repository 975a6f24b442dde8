"""`tts-pipeline`: the command line for operators (build a demo corpus, run the pipeline)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from models.tflite.cli import add_export_tflite_parser
from pipeline.compile_cli import add_compile_parser
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


# TrainerConfig fields that other flags set; model_overrides is `--set model.FIELD=...`, and
# voice_name is --model-name.
_FLAGS = {"model": "--model", "preset": "--preset", "batch_size": "--batch-size"}
_NOT_SETTABLE = ("model_overrides", "voice_name")


def trainer_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Trainer's custom config from run's flags and `--set`, validated (a ValueError names
    the valid keys): --set wins over a flag's default, and contradicting a flag given
    explicitly is an error."""
    import dataclasses

    from models.trainer_config import TrainerConfig

    settings = parse_settings(args.settings or [])
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
    _check_writable(args.output, "output directory")
    if args.push_dir and "://" not in args.push_dir:
        _check_writable(args.push_dir, "push directory")


def _run(args: argparse.Namespace) -> int:
    from models.thresholds import parse_thresholds
    from pipeline.run_lock import RunInProgressError, exclusive_run

    # Before the heavy imports: a typo, a bad corpus or a held lock costs milliseconds, not
    # a pipeline start-up.
    try:
        trainer = trainer_settings(args)
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


def _run_locked(args: argparse.Namespace, trainer: dict) -> int:
    from absl import logging

    from pipeline import configs
    from pipeline.corpus_layout import UnusableCorpusError
    from pipeline.local_runner import run_pipeline

    logging.set_verbosity(logging.INFO)
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
    try:
        summary = run_pipeline(
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
        )
    except (UnusableCorpusError, ValueError, FileNotFoundError) as error:
        print(f"tts-pipeline run: {error}", file=sys.stderr)
        _maybe_print_summary(args.output)
        return 2
    except Exception as error:  # a stage failed: the summary says which
        print(f"tts-pipeline run: failed: {type(error).__name__}: {error}", file=sys.stderr)
        _maybe_print_summary(args.output)
        return 1
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
    return 0


def _maybe_print_summary(output_dir: str) -> None:
    from pipeline import configs

    path = os.path.join(output_dir, configs.RUN_SUMMARY_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            _print_summary(json.load(handle))
        print(f"run summary: {path}", file=sys.stderr)


def _synthesize(args: argparse.Namespace) -> int:
    if args.server:
        from serving.cli import run_synthesize

        return run_synthesize(args)
    if not args.model_dir:
        print("tts-pipeline synthesize: give --model-dir or --server", file=sys.stderr)
        return 2
    from pipeline.synthesize import synthesize, write_wav

    if not args.text.strip():
        print("tts-pipeline synthesize: the text is empty", file=sys.stderr)
        return 2
    try:
        waves, sample_rate = synthesize(args.model_dir, [args.text])
    except FileNotFoundError as error:
        print(f"tts-pipeline synthesize: {error}", file=sys.stderr)
        return 2
    write_wav(args.output, waves[0], sample_rate)
    print(f"{args.output}: {len(waves[0]) / sample_rate:.2f} s at {sample_rate} Hz")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tts-pipeline", description="A TFX pipeline from a speech corpus to a voice."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo-corpus", help="synthesise a reproducible LJSpeech-layout corpus offline"
    )
    demo.add_argument("out", help="output directory (created)")
    demo.add_argument("--sentences", type=int, default=200)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--id-prefix",
        default="DEMO-",
        help="utterance id prefix: give each batch (span-N/) of a growing corpus its own",
    )
    demo.set_defaults(func=_demo_corpus)

    run = commands.add_parser("run", help="run the pipeline with LocalDagRunner")
    run.add_argument(
        "--data",
        required=True,
        help="corpus directory: LJSpeech layout, or span-N/ subdirectories in that layout "
        "(a growing corpus: each run ingests the newest span and trains on all)",
    )
    run.add_argument(
        "--ingest-span",
        type=int,
        default=None,
        help="re-ingest this span instead of the newest (after fixing recordings in it)",
    )
    run.add_argument(
        "--retrain",
        choices=("warm-start", "scratch", "continue"),
        default=None,
        help="warm-start (default): from the voice blessed before this data (same model and "
        "preset); scratch; continue: the latest voice trained under --model-name, blessed or "
        "not, with its optimizer state and step count, for --train-steps more steps",
    )
    run.add_argument("--output", required=True, help="pipeline root, ML Metadata and summary")
    run.add_argument(
        "--until", default=None, help="stop after this stage (e.g. transform); default: all"
    )
    run.add_argument("--eval-fraction", type=float, default=0.1)
    from pipeline.configs import DEFAULT_MAX_QUARANTINED_SHARE  # pure Python: cheap

    run.add_argument("--max-duration-s", type=float, default=20.0)
    run.add_argument(
        "--max-quarantined-share",
        type=float,
        default=DEFAULT_MAX_QUARANTINED_SHARE,
        help="stop at AudioExampleGen when more than this share of the rows is quarantined "
        "(default %(default)s; 1 switches the check off)",
    )
    run.add_argument(
        "--schema", default=None, help="a saved schema.pbtxt to validate against (drift check)"
    )
    run.add_argument(
        "--beam-pipeline-args",
        default=None,
        help="Beam arguments as one string, e.g. '--runner=DataflowRunner --project=...'",
    )
    run.add_argument(
        "--model", choices=("mlp", "attention", "tacotron2"), default=None, help="default tacotron2"
    )
    run.add_argument("--preset", choices=("small", "base"), default=None, help="default small")
    run.add_argument(
        "--train-steps", type=int, default=200, help="steps this run trains (continue: more)"
    )
    run.add_argument("--batch-size", type=int, default=None, help="per replica")
    run.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Trainer setting (models/trainer_config.py), e.g. peak_learning_rate=5e-4, "
        "warmup_steps=100, griffin_lim_iterations=16, max_train_seconds=600; or model.FIELD "
        "for a field of the model's config, e.g. model.guided_attention_weight=0. Repeatable; "
        "VALUE is JSON when it parses, else a string",
    )
    run.add_argument(
        "--allow-anomalies", action="store_true", help="train even if the data has anomalies"
    )
    run.add_argument("--model-name", default=None, help="served name (default: the model)")
    run.add_argument("--push-dir", default=None, help="push base (default: OUTPUT/serving)")
    from models.thresholds import describe_defaults  # pure Python: cheap

    run.add_argument(
        "--thresholds",
        default=None,
        help="blessing thresholds as JSON {metric: value}, laid over the defaults; a metric "
        "is a ceiling or a floor by its kind, null switches one off. Defaults: "
        + describe_defaults(),
    )
    run.add_argument(
        "--baseline-tolerance",
        type=float,
        default=0.05,
        help="how much worse than the blessed baseline a candidate may be (0.05 = 5%%)",
    )
    run.add_argument("--no-cache", action="store_true", help="re-execute every component")
    run.set_defaults(func=_run)

    synth = commands.add_parser("synthesize", help="text to wav with an exported voice")
    synth.add_argument("text")
    synth.add_argument(
        "--model-dir",
        default=None,
        help="SavedModel dir, TF Serving base <base>/<name>, or a pipeline output dir",
    )
    synth.add_argument("-o", "--output", default="out.wav")
    add_client_arguments(synth)  # --server HOST:PORT --model-name ... (TF Serving over gRPC)
    synth.set_defaults(func=_synthesize)

    add_serve_parser(commands)
    add_compile_parser(commands)
    add_export_tflite_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
