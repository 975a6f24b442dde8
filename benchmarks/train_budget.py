"""Each model family trained for the same CPU budget on the demo corpus, then held-out metrics.

    .venv/bin/python benchmarks/train_budget.py [--budget-s 600] [--families mlp tacotron2]

Prints per family: parameters, steps, steps/s, held-out teacher-forced mel L1 (natural-log
mel), free-running MCD and length ratio, and for tacotron2 the alignment diagonality/focus
and the share that never stopped. Writes each family's eval alignment plot beside the run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np
import tensorflow_transform as tft

from models import data, export, registry
from models.evaluation import evaluate_model, summarize
from models.model import read_mel_statistics
from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline


def plot_alignment(model, batch: dict, path: str) -> None:
    """The teacher-forced alignment of the batch's first utterance, tokens x frames, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch = {k: v[:1] for k, v in batch.items() if k in registry.BATCH_KEYS}
    _, alignment = registry.teacher_forced_views(model(batch, training=False))
    image = np.asarray(alignment)[0][:, : int(batch["token_length"][0])]
    image = image[image.sum(axis=1) > 0]  # real decoder steps (or frames) only
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.imshow(image.T, origin="lower", aspect="auto", interpolation="none")
    ax.set_xlabel("decoder step / frame")
    ax.set_ylabel("token")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--budget-s", type=float, default=600)
    parser.add_argument("--families", nargs="+", default=list(registry.FAMILIES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workdir", default="/tmp/tts-train-budget")
    args = parser.parse_args()

    corpus = os.path.join(args.workdir, "corpus")
    if not os.path.exists(os.path.join(corpus, "metadata.csv")):
        build_demo_corpus(corpus, sentences=args.sentences, seed=0)
    results = {}
    for family in args.families:
        output = os.path.join(args.workdir, "output")
        summary = run_pipeline(
            corpus,
            output,
            until="trainer",
            trainer={
                "model": family,
                "preset": "small",
                "batch_size": args.batch_size,
                "max_train_seconds": args.budget_s,
            },
            train_steps=1_000_000,
        )
        trainer = summary["components"]["Trainer"]
        transform = summary["components"]["Transform"]["outputs"]
        tft_output = tft.TFTransformOutput(transform["transform_graph"][0])
        spec = tft_output.transformed_feature_spec()
        examples = transform["transformed_examples"][0]
        eval_files = glob.glob(os.path.join(examples, "Split-eval", "*.gz"))
        train_files = glob.glob(os.path.join(examples, "Split-train", "*.gz"))
        mean, std = read_mel_statistics(train_files, spec)
        model = export.load_keras_voice(trainer["serving_model_dir"])
        dataset = data.make_dataset(
            eval_files, spec, 8, shuffle=False, repeat=False, max_frames=100_000, keep_ids=True
        )
        metrics = summarize(evaluate_model(model, dataset, mean, std))
        plot = os.path.join(args.workdir, f"alignment-{family}.png")
        plot_alignment(model, next(iter(dataset)), plot)
        training = trainer["training"]
        results[family] = {
            "parameters": training["parameters"],
            "steps": training["steps"],
            "steps_per_second": training["steps_per_second"],
            "train_wall_s": training["train_wall_s"],
            **{k: round(v, 4) for k, v in metrics.items()},
            "alignment_plot": plot,
        }
        print(json.dumps({family: results[family]}, indent=2), flush=True)
    with open(os.path.join(args.workdir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
