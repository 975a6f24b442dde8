"""Data-path throughput: seconds of audio per wall second, per component, on a demo corpus.

    .venv/bin/python benchmarks/data_path.py [--sentences 360] [--workdir /tmp/tts-bench]

360 demo sentences are about 30 minutes of audio. Prints one line per component and the
run's total; the figures come from the run summary (ML Metadata execution times).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=360)
    parser.add_argument("--workdir", default="/tmp/tts-bench")
    parser.add_argument("--beam-pipeline-args", default=None)
    args = parser.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    corpus = os.path.join(args.workdir, "corpus")
    built = build_demo_corpus(corpus, sentences=args.sentences, seed=0)
    print(
        f"corpus: {built.utterances} utterances, {built.total_audio_seconds / 60:.1f} min audio,"
        f" built in {built.wall_seconds:.1f} s"
    )
    start, cpu_start = time.monotonic(), time.process_time()
    summary = run_pipeline(
        corpus,
        os.path.join(args.workdir, "output"),
        until="transform",
        beam_pipeline_args=args.beam_pipeline_args.split() if args.beam_pipeline_args else None,
        enable_cache=False,
    )
    total_wall = time.monotonic() - start
    total_cpu = time.process_time() - cpu_start
    audio_s = sum(summary["components"]["AudioExampleGen"]["audio_seconds"].values())
    print(f"{'component':<18} {'wall s':>8} {'audio s / wall s':>18}")
    for name, entry in summary["components"].items():
        print(f"{name:<18} {entry['wall_s']:>8.1f} {audio_s / entry['wall_s']:>18.1f}")
    print(f"{'whole run':<18} {total_wall:>8.1f} {audio_s / total_wall:>18.1f}")
    print(
        f"CPU {total_cpu:.1f} s in this process ({audio_s / total_cpu:.1f} audio s / CPU s);"
        f" load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
