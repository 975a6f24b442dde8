"""The offline demo corpus: seeded sentences spoken by espeak-ng, in LJSpeech layout.
The same (sentences, seed) and espeak-ng build give byte-identical files."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import time
import wave
from collections.abc import Callable

import numpy as np
from absl import logging

from models.text.normalize import normalize_text
from pipeline import espeak
from pipeline.sentences import generate_sentences

METADATA_FILE = "metadata.csv"
WAVS_DIR = "wavs"
# Written first, so that a corpus (even a half-built one) can be recognised and overwritten.
MARKER_FILE = ".demo_corpus.json"
ID_PREFIX = "DEMO-"
SAMPLE_RATE = 22050  # LJSpeech's rate, and espeak-ng's native one
VOICE = "en-us"
EDGE_SILENCE_S = 0.1  # added at both ends so no clip starts or ends mid-phone
RATE_RANGE_WPM = (160, 190)  # around espeak-ng's 175, for a little prosodic variety
_BATCH = 16  # utterances per round trip to the synthesis process
_LOG_EVERY = 50

ProgressCallback = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class DemoCorpusSummary:
    """What build_demo_corpus wrote; audio seconds include the added edge silence."""

    out_dir: str
    utterances: int
    total_audio_seconds: float
    wall_seconds: float


def is_demo_corpus(path: str | os.PathLike) -> bool:
    """Whether `path` holds a corpus written by build_demo_corpus (complete or not)."""
    return os.path.isfile(os.path.join(path, MARKER_FILE))


def build_demo_corpus(
    out_dir: str | os.PathLike,
    sentences: int = 200,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    id_prefix: str = ID_PREFIX,
) -> DemoCorpusSummary:
    """Writes `out_dir/metadata.csv` (`id|text|normalized_text`) and `out_dir/wavs/<id>.wav`.

    Clips are 22,050 Hz 16-bit mono. `out_dir` must be new, empty or an earlier demo corpus
    (which is replaced). `progress(done, total)` is called after each clip; without it, a line
    is logged every 50 clips. `id_prefix` keeps ids unique across the batches (spans) of a
    growing corpus.
    """
    start = time.monotonic()
    if sentences < 1:
        raise ValueError(f"sentences must be >= 1, got {sentences}")
    out_dir = os.fspath(out_dir)
    texts = generate_sentences(sentences, seed)
    width = max(4, len(str(sentences)))
    ids = [f"{id_prefix}{i:0{width}d}" for i in range(1, sentences + 1)]
    metadata = _metadata_lines(ids, texts, _normalize_all(ids, texts))
    # A separate stream, so that rates never shift which sentences a seed gives.
    rate_rng = random.Random(f"demo-corpus-rates-{seed}")
    rates = [rate_rng.randint(*RATE_RANGE_WPM) for _ in texts]
    pad = np.zeros(round(EDGE_SILENCE_S * SAMPLE_RATE), dtype=np.int16)

    with espeak.IsolatedSynthesizer(voice=VOICE) as synthesizer:
        if synthesizer.sample_rate != SAMPLE_RATE:
            raise RuntimeError(
                f"libespeak-ng synthesises at {synthesizer.sample_rate} Hz, expected {SAMPLE_RATE}"
            )
        _prepare_out_dir(out_dir)
        _write_marker(out_dir, sentences, seed, synthesizer.library_version)
        wavs_dir = os.path.join(out_dir, WAVS_DIR)
        os.makedirs(wavs_dir)
        logging.info("Building a %d-sentence demo corpus (seed %d) in %s", sentences, seed, out_dir)
        total_samples = 0
        for first in range(0, sentences, _BATCH):
            batch = range(first, min(first + _BATCH, sentences))
            clips = synthesizer.synthesize_batch([(texts[i], rates[i]) for i in batch])
            for i, clip in zip(batch, clips, strict=True):
                if clip.size == 0:
                    raise RuntimeError(f"espeak-ng returned no audio for {ids[i]}: {texts[i]!r}")
                samples = np.concatenate([pad, clip, pad])
                _write_wav(os.path.join(wavs_dir, f"{ids[i]}.wav"), samples)
                total_samples += samples.size
                done = i + 1
                if progress is not None:
                    progress(done, sentences)
                elif done % _LOG_EVERY == 0 or done == sentences:
                    _log_progress(done, sentences, time.monotonic() - start)

    _write_metadata(out_dir, metadata)
    summary = DemoCorpusSummary(
        out_dir=out_dir,
        utterances=sentences,
        total_audio_seconds=total_samples / SAMPLE_RATE,
        wall_seconds=time.monotonic() - start,
    )
    logging.info(
        "Demo corpus: %d clips, %.1f min of audio, in %.1f s (%s)",
        summary.utterances,
        summary.total_audio_seconds / 60,
        summary.wall_seconds,
        out_dir,
    )
    return summary


def _normalize_all(ids: list[str], texts: list[str]) -> list[str]:
    """The normalised texts (metadata.csv's third field), naming the utterance that fails."""
    normalized = []
    for utterance_id, text in zip(ids, texts, strict=True):
        try:
            result = normalize_text(text)
        except Exception as error:
            raise RuntimeError(f"normalize_text failed on {utterance_id}: {error}") from error
        normalized.append(result)
    return normalized


def _prepare_out_dir(out_dir: str) -> None:
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"demo corpus output {out_dir} exists and is not a directory")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not is_demo_corpus(out_dir):
            raise FileExistsError(
                f"{out_dir} is not empty and is not a demo corpus (no {MARKER_FILE}); "
                "choose a new or empty directory"
            )
        logging.info("Replacing the demo corpus in %s", out_dir)
        shutil.rmtree(os.path.join(out_dir, WAVS_DIR), ignore_errors=True)
        for name in (METADATA_FILE, MARKER_FILE):
            if os.path.exists(os.path.join(out_dir, name)):
                os.remove(os.path.join(out_dir, name))
    os.makedirs(out_dir, exist_ok=True)


def _write_marker(out_dir: str, sentences: int, seed: int, espeak_version: str) -> None:
    marker = {
        "builder": "tts-pipeline demo-corpus",
        "sentences": sentences,
        "seed": seed,
        "voice": VOICE,
        "sample_rate": SAMPLE_RATE,
        "espeak_ng": espeak_version,
    }
    with open(os.path.join(out_dir, MARKER_FILE), "w", encoding="utf-8") as f:
        f.write(json.dumps(marker, indent=2, sort_keys=True) + "\n")


def _write_wav(path: str, samples: np.ndarray) -> None:
    # The stdlib writer: a plain 44-byte header with nothing time-dependent in it.
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(samples.astype("<i2").tobytes())


def _metadata_lines(ids: list[str], texts: list[str], normalized: list[str]) -> list[str]:
    lines = []
    for fields in zip(ids, texts, normalized, strict=True):
        utterance_id = fields[0]
        for field in fields:
            if "|" in field or "\n" in field or "\r" in field:
                raise ValueError(f"{utterance_id}: a field holds '|' or a line break: {field!r}")
        lines.append("|".join(fields) + "\n")
    return lines


def _write_metadata(out_dir: str, lines: list[str]) -> None:
    # Written last and renamed into place: a metadata.csv always has all its clips beside it.
    path = os.path.join(out_dir, METADATA_FILE)
    with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    os.replace(path + ".tmp", path)


def _log_progress(done: int, total: int, elapsed: float) -> None:
    rate = done / elapsed if elapsed > 0 else float("inf")
    eta = (total - done) / rate if rate > 0 else 0.0
    logging.info("Demo corpus: %d/%d clips, %.1f clips/s, ETA %.0f s", done, total, rate, eta)
