"""`tts-pipeline export-tflite`: a SavedModel voice to a LiteRT mobile bundle, outside a run."""

from __future__ import annotations

import argparse
import os
import sys

from models.tflite import DEFAULT_MAX_TOKENS

QUANTIZE_CHOICES = ("none", "float16", "dynamic", "all")


def _variants(value: str) -> str | list[str]:
    """--quantize: one choice as given, or a comma-separated list of variants."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if len(names) > 1 and all(n in QUANTIZE_CHOICES[:-1] for n in names):
        return names
    if len(names) == 1 and names[0] in QUANTIZE_CHOICES:
        return names[0]
    raise argparse.ArgumentTypeError(
        f"{value!r}: choose from {', '.join(QUANTIZE_CHOICES)}, or a comma-separated list"
    )


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number of rounds, at least 1")
    return number


def add_export_tflite_parser(subparsers) -> argparse.ArgumentParser:
    """Adds the export-tflite command to the `tts-pipeline` subparsers (imports no TensorFlow:
    the export itself is imported when the command runs)."""
    parser = subparsers.add_parser(
        "export-tflite",
        help="export a voice as builtin-ops LiteRT models plus a mobile bundle",
        description=(
            "Converts the acoustic model and the vocoder of a SavedModel voice to TFLite "
            "(builtin ops only), checks parity with the SavedModel and writes OUT/bundle, "
            "OUT/variants/<variant>/ and OUT/report.json. Exit status 1 when the variant "
            "fails parity (nothing is written to OUT/bundle then)."
        ),
    )
    parser.add_argument(
        "--model-dir",
        required=True,
        help="SavedModel dir, TFX Model artifact, TF Serving base or pipeline output dir",
    )
    parser.add_argument("--out", required=True, help="output directory (created)")
    parser.add_argument(
        "--quantize",
        type=_variants,
        default="none",
        help="none: float32; float16; dynamic: dynamic-range int8 weights; all: the three "
        "(the bundle is then the first passing of float16, none, dynamic); or a list such as "
        "float16,none (the bundle: the first passing in that order). One progress line per "
        "variant goes to stderr",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help="symbols per acoustic call (longer text is split at sentence ends by the runner)",
    )
    parser.add_argument(
        "--sentences", default=None, help="a text file of eval sentences, one per line"
    )
    parser.add_argument(
        "--griffin-lim-iterations",
        type=_positive,
        default=None,
        help="vocoder rounds the phone runs (default: the voice's own). Vocoder time scales "
        "with them; benchmarks/vocoder_rounds.py prints what fewer rounds cost in quality",
    )
    parser.set_defaults(func=run_export_tflite)
    return parser


def _figures(entry: dict) -> str:
    worst = entry.get("parity", {}).get("worst") or {}
    files = entry.get("files", {})
    sizes = ", ".join(f"{k} {v['bytes'] / 1e6:.2f} MB" for k, v in files.items())
    speeds = ", ".join(
        f"RTF {s['rtf']} ({s['threads']} thr)" for s in entry.get("speed") or [] if s
    )
    parity = ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in worst.items()
    )
    return "; ".join(part for part in (sizes, parity, speeds) if part)


def run_export_tflite(args: argparse.Namespace) -> int:
    from absl import logging

    from models.tflite.export import REPORT_MARKDOWN, export_tflite

    logging.set_verbosity(logging.INFO)
    sentences = None
    if args.sentences:
        with open(args.sentences, encoding="utf-8") as handle:
            sentences = [line.strip() for line in handle if line.strip()]
    quantize = args.quantize
    preference = ("float16", "none", "dynamic") if quantize == "all" else None
    try:
        report = export_tflite(
            args.model_dir,
            args.out,
            quantize=quantize,
            max_tokens=args.max_tokens,
            sentences=sentences,
            bundle_preference=preference,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            griffin_lim_iterations=args.griffin_lim_iterations,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"tts-pipeline export-tflite: {error}", file=sys.stderr)
        return 2
    for name, entry in report["variants"].items():
        reasons = "; ".join(entry["reasons"])
        suffix = f"  [{reasons}]" if reasons else ""
        print(f"  {name:<13} {entry['status']:<7} {_figures(entry)}{suffix}")
    bundle = report["bundle"]
    if bundle["shipped"]:
        print(f"bundle ({bundle['variant']}): {bundle['path']}")
    else:
        print(f"tts-pipeline export-tflite: no bundle: {bundle['reason']}", file=sys.stderr)
    print(f"report: {os.path.join(args.out, REPORT_MARKDOWN)}")
    return 0 if bundle["shipped"] else 1
