"""What a grown corpus costs: a run that adds one span against rebuilding from nothing.

    .venv/bin/python benchmarks/incremental.py [--first 240] [--added 60] [--workdir DIR]

Three pipelines through Transform, times from the run summaries (ML Metadata):
  1. span-0 alone (the first scheduled run), then the same run repeated (all cache hits);
  2. span-1 added: AudioExampleGen ingests only span-1, Transform reads both spans and
     reuses span-0's analysis from the analyzer cache;
  3. the same recordings as one flat corpus in a fresh output directory: what a rebuild
     without spans costs (everything ingested, no analyzer cache).
With --ablate-analyzer-cache, steps 1-2 again in another output directory with the cache
resolved to nothing: Transform's time with and without tf.Transform's analyzer cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from components import resolver_strategies
from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline

STAGES = ("AudioExampleGen", "StatisticsGen", "Transform")


def _run(corpus: str, output: str) -> tuple[dict, float]:
    start = time.monotonic()
    summary = run_pipeline(corpus, output, until="transform")
    return summary["components"], time.monotonic() - start


def _row(label: str, components: dict, wall: float) -> None:
    cells = "".join(f"{components[s]['wall_s']:>8.1f} {components[s]['status']:<9}" for s in STAGES)
    examples = sum(components["AudioExampleGen"].get("examples", {}).values())
    print(f"{label:<26}{examples:>9} {cells}{wall:>9.1f}")


def _merge_flat(spans: list[str], flat: str) -> None:
    """The spans' recordings as one LJSpeech directory."""
    os.makedirs(os.path.join(flat, "wavs"))
    with open(os.path.join(flat, "metadata.csv"), "w", encoding="utf-8") as merged:
        for span in spans:
            with open(os.path.join(span, "metadata.csv"), encoding="utf-8") as part:
                merged.write(part.read())
            for name in os.listdir(os.path.join(span, "wavs")):
                shutil.copy(os.path.join(span, "wavs", name), os.path.join(flat, "wavs", name))


def _ablate_analyzer_cache(workdir: str, spans: list[str], grown: dict) -> None:
    """The grown run again, in a fresh output, with no analyzer cache resolved."""

    def resolve_nothing(self, store, inputs):
        return {key: [] for key in inputs}

    resolver_strategies.LatestCreatedBeforeStrategy.resolve_artifacts = resolve_nothing
    corpus = os.path.join(workdir, "ablation-corpus")
    output = os.path.join(workdir, "ablation-output")
    os.makedirs(corpus)
    os.symlink(spans[0], os.path.join(corpus, "span-0"))
    _row("span-0, no analyzer cache", *_run(corpus, output))
    os.symlink(spans[1], os.path.join(corpus, "span-1"))
    uncached, uncached_wall = _run(corpus, output)
    _row("span-1, no analyzer cache", uncached, uncached_wall)
    ratio = grown["Transform"]["wall_s"] / uncached["Transform"]["wall_s"]
    print(f"Transform, span added: with / without analyzer cache = {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=240, help="sentences in span-0")
    parser.add_argument("--added", type=int, default=60, help="sentences in span-1")
    parser.add_argument("--workdir", default="/tmp/tts-bench-incremental")
    parser.add_argument("--ablate-analyzer-cache", action="store_true")
    args = parser.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    corpus = os.path.join(args.workdir, "corpus")
    spans = [os.path.join(corpus, "span-0"), os.path.join(corpus, "span-1")]
    output = os.path.join(args.workdir, "output")
    first = build_demo_corpus(spans[0], sentences=args.first, seed=0)
    print(f"span-0: {first.utterances} utterances, {first.total_audio_seconds / 60:.1f} min")

    header = "".join(f"{s[:16]:>8} {'':<9}" for s in STAGES)
    print(f"{'run':<26}{'ingested':>9} {header}{'whole s':>9}")
    _row("span-0, first run", *_run(corpus, output))
    _row("span-0, repeated", *_run(corpus, output))

    added = build_demo_corpus(spans[1], sentences=args.added, seed=1, id_prefix="BATCH2-")
    print(f"span-1: {added.utterances} utterances, {added.total_audio_seconds / 60:.1f} min")
    grown, grown_wall = _run(corpus, output)
    _row("span-1 added", grown, grown_wall)

    flat = os.path.join(args.workdir, "flat")
    _merge_flat(spans, flat)
    rebuilt, rebuilt_wall = _run(flat, os.path.join(args.workdir, "flat-output"))
    _row("both as one corpus, fresh", rebuilt, rebuilt_wall)

    if args.ablate_analyzer_cache:
        _ablate_analyzer_cache(args.workdir, spans, grown)

    for stage in ("AudioExampleGen", "Transform"):
        ratio = grown[stage]["wall_s"] / rebuilt[stage]["wall_s"]
        print(f"{stage}: span added / rebuilt = {ratio:.2f}")
    print(f"whole run: span added / rebuilt = {grown_wall / rebuilt_wall:.2f}")


if __name__ == "__main__":
    main()
