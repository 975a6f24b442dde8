"""The offline demo corpus: espeak-ng binding, seeded sentences and the LJSpeech-layout build."""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np
import pytest
import soundfile

from models.text.normalize import normalize_text
from pipeline import demo_corpus, espeak, sentences


def _hashes(root: str) -> dict[str, str]:
    hashes = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                hashes[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return hashes


def test_espeak_speaks_int16_at_22050_hz():
    synthesizer = espeak.EspeakSynthesizer()
    assert synthesizer.sample_rate == 22050
    short = synthesizer.synthesize("Hello there.")
    long = synthesizer.synthesize("Hello there. It was the best of times, the worst of times.")
    assert short.dtype == np.int16 and short.ndim == 1
    assert np.abs(short).max() > 1000  # speech, not silence
    assert long.size > 2 * short.size
    assert synthesizer.synthesize("Hello there.", rate=120).size > short.size


def test_sentences_are_seeded_distinct_and_varied():
    first = sentences.generate_sentences(200, seed=0)
    assert first == sentences.generate_sentences(200, seed=0)
    assert first != sentences.generate_sentences(200, seed=1)
    assert len(set(first)) == 200
    text = " ".join(first)
    assert sum(any(c.isdigit() for c in s) for s in first) >= 50  # about 40% templated
    for needle in ("$", "%", "Mr.", "Dr.", ",", ";", "?", "!", '"', "("):
        assert needle in text, needle
    assert re.search(r"\d,\d{3}", text) and re.search(r"\d\.\d", text)
    assert re.search(r"\d(st|nd|rd|th)\b", text) and re.search(r"\d:\d\d", text)
    assert len(sentences.generate_sentences(500, seed=0)) == 500


def test_sentences_fit_the_metadata_format():
    pool = sentences.PROSE_SENTENCES
    assert len(pool) >= 120 and len(set(pool)) == len(pool)
    assert all(5 <= len(s.split()) <= 35 for s in pool)
    for s in sentences.generate_sentences(1000, seed=3):
        assert "|" not in s and "\n" not in s and s == s.strip()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    out_dir = str(tmp_path_factory.mktemp("demo") / "corpus")
    summary = demo_corpus.build_demo_corpus(out_dir, sentences=12, seed=7)
    assert summary.utterances == 12 and summary.total_audio_seconds > 12
    return out_dir


def test_build_writes_ljspeech_layout(corpus):
    wavs = sorted(os.listdir(os.path.join(corpus, "wavs")))
    assert wavs == [f"DEMO-{i:04d}.wav" for i in range(1, 13)]
    for name in wavs:
        info = soundfile.info(os.path.join(corpus, "wavs", name))
        assert (info.format, info.subtype) == ("WAV", "PCM_16")
        assert (info.samplerate, info.channels) == (22050, 1) and info.duration > 0.5
    with open(os.path.join(corpus, "metadata.csv"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "" and len(lines) == 13  # one line per clip, newline-terminated
    expected_texts = sentences.generate_sentences(12, seed=7)
    for i, line in enumerate(lines[:-1]):
        fields = line.split("|")
        assert fields[0] == f"DEMO-{i + 1:04d}" and fields[1] == expected_texts[i]
        assert len(fields) == 3 and fields[2] == normalize_text(fields[1])


def test_rebuild_is_byte_identical_and_replaces_cleanly(corpus, tmp_path):
    again = str(tmp_path / "again")
    demo_corpus.build_demo_corpus(again, sentences=12, seed=7)
    assert _hashes(again) == _hashes(corpus)
    demo_corpus.build_demo_corpus(again, sentences=3, seed=1)  # overwrite a demo corpus
    assert sorted(os.listdir(os.path.join(again, "wavs"))) == [
        "DEMO-0001.wav",
        "DEMO-0002.wav",
        "DEMO-0003.wav",
    ]


def test_refuses_a_foreign_non_empty_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a demo corpus"):
        demo_corpus.build_demo_corpus(str(tmp_path), sentences=2)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_metadata_has_the_normalised_third_field(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_corpus, "normalize_text", lambda text: text.upper())
    demo_corpus.build_demo_corpus(str(tmp_path / "c"), sentences=2, seed=0)
    lines = (tmp_path / "c" / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split("|")[2] for line in lines] == [line.split("|")[1].upper() for line in lines]

    monkeypatch.setattr(demo_corpus, "normalize_text", lambda text: text + " | oops")
    with pytest.raises(ValueError, match="DEMO-0001"):
        demo_corpus.build_demo_corpus(str(tmp_path / "d"), sentences=2, seed=0)
