"""The evaluation's files: metrics.json, per_utterance.csv, and an HTML report with the content
figures beside ceiling and chance, mel and alignment plots, and playable audio (wavs beside it)."""

from __future__ import annotations

import csv
import html
import json
import os

import numpy as np
import soundfile as sf

from components.tts_evaluator.blessing import METRICS
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


# Does it speak? Each row: (label, figure keys for reference, ceiling, chance, voice; a key or a
# fixed value, None where there is none), the gated metric, and what good looks like in words.
_CONTENT_ROWS = (
    (
        "MCD to the own sentence (dB)",
        (0.0, "mcd_matched_db_ceiling", "mcd_mismatched_db", "mcd_matched_db"),
        "mcd_db",
        "mel-cepstral distance to the sentence's own recording after time alignment; lower is "
        "closer. The chance column is the same voice against other sentences: babble is about "
        "as far from its own sentence as from any other.",
    ),
    (
        "content margin (dB)",
        ("content_margin_db_reference", "content_margin_db_ceiling", 0.0, "content_margin_db"),
        "content_margin_db",
        "how many dB closer the voice is to its own sentence than to other sentences; babble is "
        "about 0, the references themselves about {content_margin_db_reference:.1f}.",
    ),
    (
        "content accuracy",
        (1.0, "content_accuracy_ceiling", "content_accuracy_chance", "content_accuracy"),
        "content_accuracy",
        "share of utterances closer to their own sentence than to every other one tried; "
        "chance is {content_accuracy_chance:.2f}, speech that carries its text is near 1.",
    ),
    (
        "phone error rate",
        (None, "phone_error_rate_ceiling", "phone_error_rate_chance", "phone_error_rate"),
        "phone_error_rate",
        "phones an offline recogniser (PocketSphinx, all-phone, en-us) gets wrong against the "
        "text's dictionary phones; lower is better. It is weak on synthetic speech, so judge the "
        "voice between ceiling and chance, not against 0. Chance: the same hypotheses against "
        "other sentences' phones.",
    ),
    (
        "intelligibility",
        (None, 1.0, 0.0, "intelligibility"),
        "intelligibility",
        "the share of the gap from chance to ceiling in phone error rate that the voice "
        "closes: 0 says nothing of its text, 1 is as clear as the reference through the vocoder.",
    ),
)
_COLUMNS = (
    "reference (ground truth)",
    "ceiling: reference through the vocoder",
    "chance: other sentences",
    "this voice",
)


class _Defaulted(dict):
    """Figures for str.format_map; a missing one reads as nan rather than failing the report."""

    def __missing__(self, key):
        return float("nan")


def _figure(candidate: dict, source) -> str:
    value = candidate.get(source) if isinstance(source, str) else source
    return "—" if value is None else f"{value:.3g}"


def _content_table(candidate: dict, thresholds: dict[str, float]) -> str:
    """Reference, ceiling, chance and the voice side by side, with the gate and a reading."""
    if "content_margin_db" not in candidate:
        return "<p>Not measured: the eval split needs at least 2 utterances.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("metric", *_COLUMNS, "gate", "reads"))
    body = []
    for label, sources, metric, words in _CONTENT_ROWS:
        if metric not in candidate and metric != "mcd_db":
            continue  # e.g. no recogniser for the language
        cells = "".join(f"<td>{_figure(candidate, s)}</td>" for s in sources)
        gate = ""
        if metric in thresholds:
            sign = ">=" if METRICS[metric] == "min" else "<="
            gate = f"{sign} {thresholds[metric]:g}"
        reading = words.format_map(_Defaulted(candidate))
        body.append(
            f"<tr><th>{html.escape(label)}</th>{cells}<td>{html.escape(gate)}</td>"
            f"<td>{html.escape(reading)}</td></tr>"
        )
    note = (
        "<p>Ground truth: the reference log-mel itself (its recording is not kept, so the "
        "recogniser has no figure for it). Ceiling: that log-mel through this voice's vocoder, "
        "as good as the voice can sound. Chance: this voice scored against other sentences "
        f"of the set. {candidate.get('content_utterances', 0)} utterances.</p>"
    )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{note}"


def _heard(record: dict) -> str:
    """What the recogniser heard in this utterance, beside what the text says."""
    if "hypothesis" not in record:
        return ""
    rows = (
        ("text's phones", record["reference_phones"]),
        ("heard in the voice", record["hypothesis"] or "(nothing)"),
        ("heard in the ceiling", record["ceiling_hypothesis"] or "(nothing)"),
    )
    return _table(list(rows))


def write_outputs(
    out_dir: str,
    model_name: str,
    candidate: dict,
    baseline: dict | None,
    decision,
    records: list[dict],
    thresholds: dict[str, float] | None = None,
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

    columns = [k for k in records[0] if k not in ("arrays", "content")]
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
        if "reference_audio" in arrays:
            _write_wav(
                os.path.join(samples_dir, f"{stem}.reference.wav"), arrays["reference_audio"]
            )
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
            f"<p>{html.escape(figures)}</p>{_heard(record)}{''.join(players)}"
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
<h2>Does it speak?</h2>{_content_table(candidate, thresholds or {})}
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
