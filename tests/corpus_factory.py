"""Small real corpora for tests: a demo corpus plus one broken row per quarantine reason."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from pipeline import configs
from pipeline.demo_corpus import build_demo_corpus

# id -> the reason AudioExampleGen must give for it.
BROKEN_ROWS = {
    "BAD-missing": "missing_file",
    "BAD-truncated": "unreadable_audio",
    "BAD-garbage": "unreadable_audio",
    "BAD-emptytext": "empty_text",
    "BAD-silent": "silent",
    "BAD-clipped": "clipped",
    "BAD-short": "too_short",
    "BAD-long": "too_long",
    "DEMO-0001": "duplicate_id",  # a second line for an id the demo corpus already has
    None: "malformed_line",
}
MAX_DURATION_S = 12.0  # tests run with this limit so "too long" stays a small file
GOOD = 10  # good rows in the shared end-to-end corpus
# Half its rows are broken on purpose: above the default ceiling of 20 %.
MAX_QUARANTINED_SHARE = 0.6
INGEST = configs.IngestConfig(
    eval_fraction=0.3, max_duration_s=MAX_DURATION_S, max_quarantined_share=MAX_QUARANTINED_SHARE
)


def _tone(seconds: float, rate: int = 22050, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )


def build_corpus_with_broken_rows(out_dir: str, sentences: int = 10, seed: int = 0) -> dict:
    """A demo corpus of `sentences` good rows, then one bad row per reason; returns counts."""
    build_demo_corpus(out_dir, sentences=sentences, seed=seed)
    wavs = os.path.join(out_dir, "wavs")
    rate = 22050

    sf.write(os.path.join(wavs, "BAD-truncated.wav"), _tone(2.0), rate, subtype="PCM_16")
    path = os.path.join(wavs, "BAD-truncated.wav")
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    with open(os.path.join(wavs, "BAD-garbage.wav"), "wb") as handle:
        handle.write(np.random.default_rng(0).bytes(5000))
    sf.write(os.path.join(wavs, "BAD-emptytext.wav"), _tone(1.0), rate, subtype="PCM_16")
    sf.write(os.path.join(wavs, "BAD-silent.wav"), np.zeros(rate, np.float32), rate)
    square = np.sign(np.sin(2 * np.pi * 100 * np.arange(rate) / rate)).astype(np.float32)
    sf.write(os.path.join(wavs, "BAD-clipped.wav"), square, rate, subtype="PCM_16")
    sf.write(os.path.join(wavs, "BAD-short.wav"), _tone(0.2), rate, subtype="PCM_16")
    sf.write(os.path.join(wavs, "BAD-long.wav"), _tone(MAX_DURATION_S + 1), rate)

    with open(os.path.join(out_dir, "metadata.csv"), "a", encoding="utf-8") as handle:
        handle.write("BAD-missing|This file was never recorded.\n")
        handle.write("BAD-truncated|The recorder stopped halfway.\n")
        handle.write("BAD-garbage|These bytes are not audio.\n")
        handle.write("BAD-emptytext|   |\n")
        handle.write("BAD-silent|Nothing was said.\n")
        handle.write("BAD-clipped|Far too loud.\n")
        handle.write("BAD-short|Hi.\n")
        handle.write("BAD-long|This one goes on and on.\n")
        handle.write("DEMO-0001|The same id a second time.\n")
        handle.write("this line has no separator at all\n")
    return {"good": sentences, "bad": len(BROKEN_ROWS)}


def expected_reason_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for reason in BROKEN_ROWS.values():
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def resample_corpus_wavs(corpus_dir: str, rate: int) -> None:
    """Rewrites every wav at another sample rate (sample-rate drift for the validator)."""
    import soxr

    wavs = os.path.join(corpus_dir, "wavs")
    for name in os.listdir(wavs):
        path = os.path.join(wavs, name)
        data, source_rate = sf.read(path, dtype="float32")
        sf.write(path, soxr.resample(data, source_rate, rate), rate, subtype="PCM_16")


def sparse_wav(path, seconds: float, rate: int = 44100, channels: int = 2) -> None:
    """A real PCM_16 WAV of `seconds` of silence, made in no time and no disk: a header,
    then a file extended to its full size (a hole the file system does not store)."""
    data_bytes = int(seconds * rate) * channels * 2
    header = b"RIFF" + (36 + data_bytes).to_bytes(4, "little") + b"WAVEfmt "
    header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little")
    header += channels.to_bytes(2, "little") + rate.to_bytes(4, "little")
    header += (rate * channels * 2).to_bytes(4, "little") + (channels * 2).to_bytes(2, "little")
    header += (16).to_bytes(2, "little") + b"data" + data_bytes.to_bytes(4, "little")
    with open(path, "wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + data_bytes)
