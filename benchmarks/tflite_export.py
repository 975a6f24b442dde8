"""TFLite export figures per family and variant: file sizes, parity with the SavedModel, and
latency / real-time factor under LiteRT with 1 and 2 threads.

    .venv/bin/python benchmarks/tflite_export.py [--families mlp attention tacotron2]
        [--preset small] [--max-frames 1500] [--griffin-lim-iterations 12] [--repeats 3]
        [--model-dir SAVED_MODEL ...] [--workdir /tmp/tts-tflite-bench]

Without --model-dir each family is built untrained (tacotron2's gate bias set so that it never
stops: every utterance runs the decoder to max_frames, the worst case) and exported as the
Trainer would; --model-dir adds trained voices (a SavedModel, Model artifact or run output).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import numpy as np

from models.export import export_saved_model
from models.registry import build_model
from models.tflite.export import export_tflite
from models.vocoder import DEFAULT_ITERATIONS


def untrained_model(family: str, preset: str):
    """A built model of random weights; tacotron2's gate never fires (it runs to max_frames)."""
    model = build_model(family, preset)
    model(
        {
            "token_ids": np.ones((1, 8), np.int32),
            "token_length": np.array([8], np.int32),
            "mel": np.zeros((1, 20, 80), np.float32),
            "mel_length": np.array([20], np.int32),
        }
    )
    if family == "tacotron2":
        bias = model.decoder.gate_layer.bias
        bias.assign(np.full(bias.shape, -6.0, np.float32))
    return model


def untrained_voice(family: str, preset: str, directory: str, max_frames: int, iterations: int):
    model = untrained_model(family, preset)
    mean, std = np.full(80, -4.0, np.float32), np.full(80, 2.0, np.float32)
    return export_saved_model(
        model, directory, family, preset, mean, std, max_frames, griffin_lim_iterations=iterations
    )


def rows(label: str, report: dict) -> list[str]:
    out = []
    for name, entry in report["variants"].items():
        files = entry.get("files", {})
        worst = entry.get("parity", {}).get("worst") or {}
        speed = {s["threads"]: s for s in entry.get("speed") or [] if s}
        sizes = " / ".join(f"{files[k]['bytes'] / 1e6:.2f}" for k in ("acoustic", "vocoder"))
        out.append(
            f"| {label} | {name} | {entry['status']} | {sizes} | {worst.get('mel_l1')} | "
            f"{worst.get('mcd_db')} | {worst.get('length_frames')} | "
            f"{worst.get('vocoder_snr_db')} | {worst.get('audio_snr_db')} | "
            + " | ".join(
                f"{speed[t]['rtf']} ({speed[t]['latency_ms']:.0f} ms)" if t in speed else "-"
                for t in (1, 2)
            )
            + " |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="*", default=["mlp", "attention", "tacotron2"])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--max-frames", type=int, default=1500)
    parser.add_argument("--griffin-lim-iterations", type=int, default=DEFAULT_ITERATIONS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", nargs="*", default=[])
    parser.add_argument("--workdir", default="/tmp/tts-tflite-bench")
    args = parser.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    voices = []
    for family in args.families:
        directory = os.path.join(args.workdir, f"{family}-{args.preset}", "saved_model")
        untrained_voice(
            family, args.preset, directory, args.max_frames, args.griffin_lim_iterations
        )
        voices.append((f"{family}/{args.preset} (untrained)", directory))
    voices += [(f"trained: {path}", path) for path in args.model_dir]

    table = [
        "| voice | variant | status | MB acoustic / vocoder | mel L1 | MCD dB | length diff "
        "| vocoder SNR dB | audio SNR dB | RTF 1 thread (latency) | RTF 2 threads (latency) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    reports = {}
    for number, (label, directory) in enumerate(voices):
        started = time.monotonic()
        report = export_tflite(
            directory,
            os.path.join(args.workdir, f"tflite-{number}"),
            quantize="all",
            timing_repeats=args.repeats,
            progress=print,
        )
        print(f"{label}: exported and measured in {time.monotonic() - started:.0f} s")
        reports[label] = report
        table += rows(label, report)
    with open(os.path.join(args.workdir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(reports, handle, indent=2)
    print("\n".join(table))
    print(f"reports: {args.workdir}/tflite-*/report.md")


if __name__ == "__main__":
    main()
