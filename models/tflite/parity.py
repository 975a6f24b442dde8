"""Parity of a TFLite variant with the SavedModel it came from (mel L1, MCD, lengths, audio SNR
on eval sentences, same text path and same prenet noise), and its speed under LiteRT."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import tensorflow as tf

from models import export
from models.metrics import dtw_path, masked_mel_l1, mel_cepstral_distortion, mel_cepstrum
from models.text.normalize import text_to_ids
from models.text.tf_frontend import text_to_ids_tf
from models.tflite.acoustic import noise_from_draws, prenet_noise_spec
from models.tflite.source import SourceModel

# Built-in eval sentences (the component reads the eval split's text instead when given it).
EVAL_SENTENCES = (
    "The quick brown fox paid $3.50 for 2 tickets on May 5th, 1999.",
    "Printing, in the only sense with which we are at present concerned, differs from most arts.",
    "Dr. Smith arrived at 10:30 and left by the 2nd exit.",
    "How are you today?",
)


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """What a variant must meet on every eval sentence to ship.

    mel_l1: mean |log-mel difference| (natural log) over frames paired by DTW, as MCD pairs
    them (a one-frame shift from a rounded duration or a stop decision is length_frames'
    business, not spectral error);
    mcd_db: mel-cepstral distortion (DTW) between the two mels;
    length_frames: |difference in mel_length| (tacotron2's stop decision);
    vocoder_snr_db: the TFLite vocoder on the SavedModel's mel vs the SavedModel's audio;
    audio_snr_db: text to audio end to end vs the SavedModel (-inf: not checked).
    """

    mel_l1: float
    mcd_db: float
    length_frames: int
    vocoder_snr_db: float
    audio_snr_db: float = -math.inf


# float32 is the same computation (differences are float rounding); float16 rounds weights to
# 11 significant bits; dynamic-range int8 quantises weights to 8 bits with float activations.
# MCD ceilings are small beside the evaluator's blessing ceiling (8 dB against real speech):
# a variant may add at most 1/40 (float16) or 1/8 (int8) of what a model may be off by.
# mobile/README.md repeats this table for app developers.
TOLERANCES = {
    "float32": Tolerance(1e-3, 0.01, 0, vocoder_snr_db=40.0, audio_snr_db=30.0),
    "float16": Tolerance(0.05, 0.2, 2, vocoder_snr_db=20.0),
    "dynamic_int8": Tolerance(0.25, 1.0, 10, vocoder_snr_db=10.0),
}


@dataclasses.dataclass
class Reference:
    """One eval sentence through the SavedModel's serving_default."""

    text: str
    ids: list[int]
    tokens_match: bool  # the pure-Python ids equal the served graph's
    mel: np.ndarray  # [max_frames, n_mels], zero-padded as the TFLite vocoder takes it
    mel_length: int
    audio: np.ndarray  # [audio_length]
    noise: np.ndarray | None  # tacotron2: the prenet noise the SavedModel drew


def _next_prenet_noise(source: SourceModel, steps: int) -> np.ndarray:
    """The keep masks the SavedModel's next call will draw: its seed state, copied into the
    rebuilt model's prenet, drawn by the same Keras code (the state then advances there too)."""
    model = source.model
    state = model.decoder.prenet.seed_generator.state
    index = next(i for i, v in enumerate(model.variables) if v is state)
    state.assign(source.loaded.model_variables[index].numpy())
    return noise_from_draws(model.decoder.prenet.sample_noise(steps, 1))


def savedmodel_references(source: SourceModel, sentences) -> list[Reference]:
    noise_spec = prenet_noise_spec(source.model, source.max_frames)
    serve = source.loaded.signatures[export.SIGNATURE]
    references = []
    for text in sentences:
        ids = text_to_ids(text)
        served_ids = text_to_ids_tf(tf.constant([text])).to_list()[0]
        noise = _next_prenet_noise(source, noise_spec.steps) if noise_spec else None
        out = serve(text=tf.constant([text]))
        mel_length = int(out["mel_length"].numpy()[0])
        audio_length = int(out["audio_length"].numpy()[0])
        audio = out["audio"]
        if source.revocodes:  # the phone runs other vocoder rounds: so must its reference
            audio, _ = export.vocode(
                out["mel"],
                out["mel_length"],
                source.max_frames,
                source.griffin_lim_iterations,
                source.griffin_lim_momentum,
            )
        references.append(
            Reference(
                text=text,
                ids=ids,
                tokens_match=[int(i) for i in served_ids] == ids,
                mel=_padded(out["mel"].numpy()[0], source.max_frames),
                mel_length=mel_length,
                audio=audio.numpy()[0, :audio_length],
                noise=noise,
            )
        )
    return references


def _padded(mel: np.ndarray, frames: int) -> np.ndarray:
    """The served mel (as long as the batch's longest utterance) zero-padded to frames."""
    out = np.zeros((frames, mel.shape[1]), np.float32)
    out[: min(len(mel), frames)] = mel[:frames]
    return out


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    n = min(len(reference), len(other))
    reference, other = np.asarray(reference[:n], np.float64), np.asarray(other[:n], np.float64)
    signal, noise = float(np.sum(reference**2)), float(np.sum((reference - other) ** 2))
    if noise == 0.0:
        return math.inf
    return 10.0 * math.log10(max(signal, 1e-30) / noise)


def _finite(value: float) -> float | str:
    """6 significant digits; infinities as strings (JSON has none)."""
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.6g}")


def dtw_mel_l1(reference: np.ndarray, other: np.ndarray) -> float:
    """Mean |log-mel difference| along the DTW path of the cepstra (MCD's frame pairing)."""
    a, b = mel_cepstrum(reference), mel_cepstrum(other)
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    rows, cols = dtw_path(np.sqrt(np.maximum(squared, 0.0)))
    return float(np.mean(np.abs(reference[rows] - other[cols])))


def compare(voice, references: list[Reference], hop: int) -> list[dict]:
    """Per sentence: the variant (through the shipped runner's Voice) vs the SavedModel."""
    rows = []
    for ref in references:
        row = {"text": ref.text, "tokens": len(ref.ids), "tokens_match": ref.tokens_match}
        if len(ref.ids) > voice.max_tokens:
            rows.append({**row, "skipped": f"over max_tokens ({voice.max_tokens})"})
            continue
        mel, mel_length = voice.mel(ref.ids, ref.noise)
        audio = voice.audio(mel, mel_length)
        vocoded = voice.audio(ref.mel, ref.mel_length)
        frames = min(mel_length, ref.mel_length)
        row["mel_length"] = mel_length
        row["reference_mel_length"] = ref.mel_length
        mine, theirs = mel[:mel_length], ref.mel[: ref.mel_length]
        both = mel_length > 0 and ref.mel_length > 0
        row["mel_l1"] = _finite(dtw_mel_l1(theirs, mine) if both else 0.0)
        aligned = masked_mel_l1(mel[None], ref.mel[None], np.array([frames]))[0] if frames else 0.0
        row["mel_l1_frame_aligned"] = _finite(float(aligned))
        row["mcd_db"] = _finite(mel_cepstral_distortion(theirs, mine) if both else 0.0)
        row["vocoder_snr_db"] = _finite(snr_db(ref.audio, vocoded[: ref.mel_length * hop]))
        row["audio_snr_db"] = _finite(snr_db(ref.audio, audio))
        rows.append(row)
    return rows


def judge(rows: list[dict], tolerance: Tolerance) -> tuple[dict, list[str]]:
    """(worst figures over the sentences, reasons the variant fails; empty when it passes)."""
    reasons = [
        f"tokens differ from the server's for {r['text']!r}" for r in rows if not r["tokens_match"]
    ]
    measured = [r for r in rows if "skipped" not in r]
    if not measured:
        return {}, reasons + ["no eval sentence fits max_tokens: parity not measured"]
    worst = {
        "mel_l1": max(r["mel_l1"] for r in measured),
        "mcd_db": max(r["mcd_db"] for r in measured),
        "length_frames": max(abs(r["mel_length"] - r["reference_mel_length"]) for r in measured),
        "vocoder_snr_db": min(float(r["vocoder_snr_db"]) for r in measured),
        "audio_snr_db": min(float(r["audio_snr_db"]) for r in measured),
        "sentences": len(measured),
    }
    checks = (
        ("mel_l1", worst["mel_l1"] > tolerance.mel_l1, tolerance.mel_l1),
        ("mcd_db", worst["mcd_db"] > tolerance.mcd_db, tolerance.mcd_db),
        (
            "length_frames",
            worst["length_frames"] > tolerance.length_frames,
            tolerance.length_frames,
        ),
        (
            "vocoder_snr_db",
            worst["vocoder_snr_db"] < tolerance.vocoder_snr_db,
            tolerance.vocoder_snr_db,
        ),
        ("audio_snr_db", worst["audio_snr_db"] < tolerance.audio_snr_db, tolerance.audio_snr_db),
    )
    for name, failed, limit in checks:
        if failed:
            reasons.append(f"{name} {worst[name]:.4g} beyond tolerance {limit:.4g}")
    return {k: _finite(v) if isinstance(v, float) else v for k, v in worst.items()}, reasons


def speed(
    runner,
    bundle_dir: str,
    references: list[Reference],
    threads: int,
    sample_rate: int,
    repeats: int = 1,
) -> dict | None:
    """Latency and real-time factor of ids -> audio through LiteRT with `threads` threads,
    after one warm-up utterance; the fastest of `repeats` passes over the sentences.
    RTF = synthesis time / audio duration."""
    voice = runner.Voice(bundle_dir, num_threads=threads, seed=0)
    fitting = [r for r in references if len(r.ids) <= voice.max_tokens]
    if not fitting:
        return None
    voice.audio(*voice.mel(fitting[0].ids, fitting[0].noise))
    best = None
    for _ in range(max(1, repeats)):
        acoustic_s = vocoder_s = audio_s = 0.0
        for ref in fitting:
            started = time.perf_counter()
            mel, mel_length = voice.mel(ref.ids, ref.noise)
            middle = time.perf_counter()
            audio = voice.audio(mel, mel_length)
            acoustic_s += middle - started
            vocoder_s += time.perf_counter() - middle
            audio_s += len(audio) / sample_rate
        if best is None or acoustic_s + vocoder_s < best[0] + best[1]:
            best = (acoustic_s, vocoder_s, audio_s)
    acoustic_s, vocoder_s, audio_s = best
    total, n = acoustic_s + vocoder_s, len(fitting)
    return {
        "threads": threads,
        "utterances": n,
        "audio_s": round(audio_s, 3),
        "acoustic_ms": round(1000 * acoustic_s / n, 2),
        "vocoder_ms": round(1000 * vocoder_s / n, 2),
        "latency_ms": round(1000 * total / n, 2),
        "rtf": round(total / audio_s, 4) if audio_s else None,
    }
