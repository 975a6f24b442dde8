"""`tts-pipeline`: the command line for operators (build a demo corpus, run the pipeline)."""

from __future__ import annotations

import argparse
import json
import os
import sys

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
            figures.append(f"quarantined {entry['quarantined']} {entry['quarantined_by_reason']}")
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
            figures.append(
                f"{training['model']}/{training['preset']} {training['steps']} steps at "
                f"{training['steps_per_second']} steps/s, final loss {loss}, from "
                + training.get("initialized_from", "scratch")
            )
        if "tflite_status" in entry:
            variants = ", ".join(
                f"{name} {v['status']}" for name, v in entry.get("tflite_variants", {}).items()
            )
            shipped = entry.get("tflite_bundle_variant") or "nothing shipped"
            figures.append(f"TFLite {entry['tflite_status']}: {variants or '-'}; bundle {shipped}")
        wall = f"{entry['wall_s']:.1f} s" if "wall_s" in entry else ""
        print(f"  {name:<18} {entry['status']:<9} {wall:>8}  {'; '.join(figures)}")


def _run(args: argparse.Namespace) -> int:
    from absl import logging

    from pipeline import configs
    from pipeline.corpus_layout import UnusableCorpusError
    from pipeline.local_runner import run_pipeline
    from pipeline.run_lock import RunInProgressError

    logging.set_verbosity(logging.INFO)
    ingest = configs.IngestConfig(
        eval_fraction=args.eval_fraction, max_duration_s=args.max_duration_s, span=args.ingest_span
    )
    beam_args = args.beam_pipeline_args.split() if args.beam_pipeline_args else None
    trainer = {
        "model": args.model,
        "preset": args.preset,
        "warm_start": configs.warm_start_setting(args.retrain),
    }
    evaluation = configs.EvaluationConfig(baseline_tolerance=args.baseline_tolerance)
    if args.thresholds:
        evaluation.thresholds = json.loads(args.thresholds)
    if args.batch_size:
        trainer["batch_size"] = args.batch_size
    try:
        configs.resolve_stage(args.until)
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
    except RunInProgressError as error:
        print(f"tts-pipeline run: {error}", file=sys.stderr)
        return 3
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
        choices=("warm-start", "scratch"),
        default="warm-start",
        help="warm-start: from the voice blessed before this data (same model and preset)",
    )
    run.add_argument("--output", required=True, help="pipeline root, ML Metadata and summary")
    run.add_argument(
        "--until", default=None, help="stop after this stage (e.g. transform); default: all"
    )
    run.add_argument("--eval-fraction", type=float, default=0.1)
    run.add_argument("--max-duration-s", type=float, default=20.0)
    run.add_argument(
        "--schema", default=None, help="a saved schema.pbtxt to validate against (drift check)"
    )
    run.add_argument(
        "--beam-pipeline-args",
        default=None,
        help="Beam arguments as one string, e.g. '--runner=DataflowRunner --project=...'",
    )
    run.add_argument("--model", choices=("mlp", "attention", "tacotron2"), default="tacotron2")
    run.add_argument("--preset", choices=("small", "base"), default="small")
    run.add_argument("--train-steps", type=int, default=200)
    run.add_argument("--batch-size", type=int, default=None, help="per replica")
    run.add_argument(
        "--allow-anomalies", action="store_true", help="train even if the data has anomalies"
    )
    run.add_argument("--model-name", default=None, help="served name (default: the model)")
    run.add_argument("--push-dir", default=None, help="push base (default: OUTPUT/serving)")
    run.add_argument(
        "--thresholds",
        default=None,
        help="blessing ceilings as JSON {metric: max}; default: mcd_db 8, length_error 0.7, "
        "non_stopping_share 0.2",
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
