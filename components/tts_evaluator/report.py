"""The evaluation's files: metrics.json, per_utterance.csv, and an HTML report with mel and
alignment plots and playable audio (wavs beside the page)."""

from __future__ import annotations

import csv
import html
import json
import os

import numpy as np
import soundfile as sf

from models.features import AUDIO

METRICS_FILE = "metrics.json"
UTTERANCES_FILE = "per_utterance.csv"
REPORT_FILE = "report.html"
SAMPLES_DIR = "samples"


def _plot(path: str, reference: np.ndarray, synthesized: np.ndarray, alignment: np.ndarray):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 7.5))
    panels = (
        (reference.T, "reference log-mel", "frame"),
        (synthesized.T, "synthesised log-mel (free-running)", "frame"),
        (alignment.T, "alignment, teacher-forced (token x decoder step)", "decoder step"),
    )
    for ax, (image, title, xlabel) in zip(axes, panels, strict=True):
        shown = ax.imshow(image, origin="lower", aspect="auto", interpolation="none")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        fig.colorbar(shown, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def _write_wav(path: str, audio: np.ndarray) -> None:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    sf.write(path, audio, AUDIO.sample_rate, subtype="PCM_16")


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def write_outputs(
    out_dir: str,
    model_name: str,
    candidate: dict,
    baseline: dict | None,
    decision,
    records: list[dict],
    reference_audio: dict[str, np.ndarray],
) -> dict[str, str]:
    """Writes every file of the evaluation into out_dir; returns their paths by kind."""
    samples_dir = os.path.join(out_dir, SAMPLES_DIR)
    os.makedirs(samples_dir, exist_ok=True)
    metrics = {
        "model_name": model_name,
        "candidate": candidate,
        "baseline": baseline,
        "blessed": decision.blessed,
        "reasons": decision.reasons,
        "checks": decision.checks,
    }
    with open(os.path.join(out_dir, METRICS_FILE), "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2)

    columns = [k for k in records[0] if k != "arrays"]
    with open(os.path.join(out_dir, UTTERANCES_FILE), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)

    sections = []
    for record in records:
        arrays = record.get("arrays")
        if not arrays:
            continue
        stem = record["id"]
        _plot(
            os.path.join(samples_dir, f"{stem}.png"),
            arrays["reference_mel"],
            arrays["synthesized_mel"],
            arrays["alignment"],
        )
        _write_wav(os.path.join(samples_dir, f"{stem}.wav"), arrays["audio"])
        players = [f'<p>synthesised<br><audio controls src="{SAMPLES_DIR}/{stem}.wav"></audio></p>']
        if stem in reference_audio:
            _write_wav(os.path.join(samples_dir, f"{stem}.reference.wav"), reference_audio[stem])
            players.append(
                "<p>reference mel through the same vocoder<br>"
                f'<audio controls src="{SAMPLES_DIR}/{stem}.reference.wav"></audio></p>'
            )
        figures = ", ".join(
            f"{k} {record[k]:.3f}"
            for k in ("mcd_db", "mel_l1", "length_ratio", "alignment_diagonality")
            if k in record
        )
        sections.append(
            f"<section><h3>{html.escape(stem)}</h3><p>{html.escape(record['text'])}</p>"
            f"<p>{html.escape(figures)}</p>{''.join(players)}"
            f'<img src="{SAMPLES_DIR}/{stem}.png" alt="mel and alignment of {stem}"></section>'
        )

    verdict = "BLESSED" if decision.blessed else "NOT BLESSED"
    rows = [(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in candidate.items()]
    baseline_html = (
        _table([(k, f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in baseline.items()])
        if baseline
        else "<p>No blessed baseline of this model name yet.</p>"
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in decision.reasons or decision.checks)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(model_name)}: {verdict}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}
section{{border-top:1px solid #ddd;margin-top:1.5em}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(model_name)}: {verdict}</h1><ul>{reasons}</ul>
<h2>Candidate ({len(records)} held-out utterances)</h2>{_table(rows)}
<h2>Baseline</h2>{baseline_html}
<p>Per utterance: <a href="{UTTERANCES_FILE}">{UTTERANCES_FILE}</a>;
all figures: <a href="{METRICS_FILE}">{METRICS_FILE}</a></p>
<h2>Samples</h2>{"".join(sections)}</body></html>
"""
    report = os.path.join(out_dir, REPORT_FILE)
    with open(report, "w", encoding="utf-8") as handle:
        handle.write(page)
    return {
        "report": report,
        "metrics": os.path.join(out_dir, METRICS_FILE),
        "utterances": os.path.join(out_dir, UTTERANCES_FILE),
    }
