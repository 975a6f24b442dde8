"""Data-path throughput: seconds of audio per wall second, per component, on a demo corpus.

    .venv/bin/python benchmarks/data_path.py [--sentences 360] [--workdir /tmp/tts-bench]
    .venv/bin/python benchmarks/data_path.py --sentences 20 360   # fixed cost and marginal rate

360 demo sentences are about 32 minutes of audio. Prints one line per component and the
run's total; the figures come from the run summary (ML Metadata execution times). With two
or more sizes it also splits the run into a fixed cost (start-up, tf.Transform's tracing and
saving) and the marginal rate at which added audio goes through.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline


def run_once(sentences: int, workdir: str, beam_args: list[str] | None) -> dict:
    """One data path (AudioExampleGen -> Transform) on a fresh demo corpus; prints its table."""
    shutil.rmtree(workdir, ignore_errors=True)
    corpus = os.path.join(workdir, "corpus")
    built = build_demo_corpus(corpus, sentences=sentences, seed=0)
    print(
        f"corpus: {built.utterances} utterances, {built.total_audio_seconds / 60:.1f} min audio,"
        f" built in {built.wall_seconds:.1f} s"
    )
    start, cpu_start = time.monotonic(), time.process_time()
    summary = run_pipeline(
        corpus,
        os.path.join(workdir, "output"),
        until="transform",
        beam_pipeline_args=beam_args,
        enable_cache=False,
    )
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu_start
    audio_s = sum(summary["components"]["AudioExampleGen"]["audio_seconds"].values())
    print(f"{'component':<18} {'wall s':>8} {'audio s / wall s':>18}")
    for name, entry in summary["components"].items():
        print(f"{name:<18} {entry['wall_s']:>8.1f} {audio_s / entry['wall_s']:>18.1f}")
    print(f"{'whole run':<18} {wall:>8.1f} {audio_s / wall:>18.1f}")
    print(
        f"CPU {cpu:.1f} s in this process ({audio_s / cpu:.1f} audio s / CPU s);"
        f" load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return {"audio_s": audio_s, "wall_s": wall, "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sentences",
        type=int,
        nargs="+",
        default=[360],
        help="corpus sizes; two or more also print the fixed cost and the marginal rate",
    )
    parser.add_argument("--workdir", default="/tmp/tts-bench")
    parser.add_argument("--beam-pipeline-args", default=None)
    args = parser.parse_args()
    beam_args = args.beam_pipeline_args.split() if args.beam_pipeline_args else None
    runs = [run_once(n, os.path.join(args.workdir, f"s{n}"), beam_args) for n in args.sentences]
    if len(runs) >= 2:
        # A straight line through the smallest and largest corpus: the fixed cost of a run
        # (start-up, tracing, saving) and the rate at which each added second of audio goes.
        small, large = min(runs, key=lambda r: r["audio_s"]), max(runs, key=lambda r: r["audio_s"])
        added = large["audio_s"] - small["audio_s"]
        for key in ("wall_s", "cpu_s"):
            slope = (large[key] - small[key]) / added
            fixed = small[key] - slope * small["audio_s"]
            print(
                f"{key[:-2]}: fixed {fixed:.1f} s per run, marginal {1 / slope:.0f} audio s per"
                f" {key[:-2]} s"
            )


if __name__ == "__main__":
    main()
