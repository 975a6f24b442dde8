"""Intelligibility from an offline recogniser: PocketSphinx phone decoding of synthesised audio,
scored by phone error rate against the text's dictionary phones (no TensorFlow needed).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Sequence

import numpy as np
from absl import logging

from models.content import MISMATCHED_PARTNERS, mismatched_partners

RECOGNIZER_RATE = 16_000  # PocketSphinx's en-us acoustic model is trained on 16 kHz speech
# The all-phone settings PocketSphinx documents for phone recognition: wide beams, and a
# phone-LM weight of 2 (the default word-LM weight over-inserts short phones).
_DECODER_SETTINGS = {"beam": 1e-20, "pbeam": 1e-20, "lw": 2.0, "loglevel": "FATAL"}

# Crude spelling-to-phone rules for words the dictionary lacks (names, coinages). They get the
# phone count and most consonants right, which is what an edit distance needs; the share of
# such words is reported, so a corpus that leans on them shows it. Longest match first.
_LETTER_PHONES = {
    "tch": "CH", "th": "TH", "sh": "SH", "ch": "CH", "ph": "F", "ng": "NG", "ck": "K",
    "qu": "K W", "ee": "IY", "ea": "IY", "oo": "UW", "ou": "AW", "ow": "OW", "ai": "EY",
    "ay": "EY", "oa": "OW", "oi": "OY", "oy": "OY", "au": "AO", "aw": "AO",
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH",
    "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S",
    "y": "IY", "z": "Z",
}  # fmt: skip
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def available(language: str | None) -> bool:
    """Whether this module can judge speech in `language` (None: assumed English)."""
    if language and not language.lower().replace("_", "-").startswith("en"):
        return False
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    """The bundled CMU dictionary: word -> its first pronunciation (phones without stress)."""
    from pocketsphinx import get_model_path

    entries: dict[str, tuple[str, ...]] = {}
    with open(get_model_path(os.path.join("en-us", "cmudict-en-us.dict")), encoding="utf-8") as f:
        for line in f:
            word, *phones = line.split()
            if phones and "(" not in word:  # "word(2)": alternatives; the first one is kept
                entries.setdefault(word, tuple(phones))
    return entries


def _spell(word: str) -> list[str]:
    word = re.sub(r"(.)\1", r"\1", word)  # doubled letters are one sound
    if len(word) > 2 and word.endswith("e"):
        word = word[:-1]  # a final silent e
    phones, i = [], 0
    while i < len(word):
        for size in (3, 2, 1):
            chunk = word[i : i + size]
            if chunk in _LETTER_PHONES:
                phones.extend(_LETTER_PHONES[chunk].split())
                i += size
                break
        else:
            i += 1  # not a letter we know; "'" and the like
    return phones


def text_phones(text: str) -> tuple[list[str], int, int]:
    """(phones, words, words not in the dictionary) of `text`, after the project's normaliser
    (numbers, abbreviations, currency as words), so the phones are what a voice should say."""
    from models.text.normalize import normalize_text

    dictionary = _dictionary()
    phones: list[str] = []
    words = _WORD.findall(normalize_text(text))
    unknown = 0
    for word in words:
        if word in dictionary:
            phones.extend(dictionary[word])
        elif word.endswith("'s") and word[:-2] in dictionary:
            phones.extend((*dictionary[word[:-2]], "Z"))
        else:
            unknown += 1
            phones.extend(_spell(word.replace("'", "")))
    return phones, len(words), unknown


def edit_distance(hypothesis: Sequence[str], reference: Sequence[str]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions) between phone strings."""
    previous = list(range(len(reference) + 1))
    for i, phone in enumerate(hypothesis, 1):
        current = [i]
        for j, expected in enumerate(reference, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (phone != expected))
            )
        previous = current
    return previous[-1]


def phone_error_rate(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
) -> float:
    """Edits over all utterances / reference phones over all utterances (can exceed 1)."""
    edits = sum(edit_distance(h, r) for h, r in zip(hypotheses, references, strict=True))
    return edits / max(sum(len(r) for r in references), 1)


def chance_phone_error_rate(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    k: int = MISMATCHED_PARTNERS,
) -> float:
    """The phone error rate of the same hypotheses against other utterances' phones: what a
    voice that says nothing of its own text scores (the same rotation as models/content.py).

    Each wrong reference is cut or cyclically extended to the length of the right one: a
    voice that gets only the duration right (babble of the right length) must not score
    better than chance by the insertions and deletions a length mismatch would add.
    """
    pairs = [
        (hypotheses[i], _resized(references[j], len(references[i])))
        for i, others in enumerate(mismatched_partners(len(hypotheses), k))
        for j in others
    ]
    return phone_error_rate([h for h, _ in pairs], [r for _, r in pairs])


def _resized(phones: Sequence[str], length: int) -> list[str]:
    return [phones[i % len(phones)] for i in range(length)] if phones else []


def relative_intelligibility(voice: float, chance: float, ceiling: float) -> float | None:
    """The share of the gap from chance to ceiling that the voice closes: 0 says nothing, 1 is
    as clear as the resynthesised reference. None when the ceiling is no better than chance."""
    if not chance - ceiling > 1e-6:
        return None
    return (chance - voice) / (chance - ceiling)


class PhoneRecognizer:
    """PocketSphinx in all-phone mode with its bundled en-us model; one decoder, reused."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder, get_model_path

        phone_lm = get_model_path(os.path.join("en-us", "en-us-phone.lm.bin"))
        self._decoder = Decoder(allphone=phone_lm, **_DECODER_SETTINGS)
        self.seconds = 0.0  # decoding time so far, to report the metric's cost
        self.decoded = 0

    def phones(self, audio: np.ndarray, sample_rate: int) -> list[str]:
        """The phones heard in float audio (any rate); silence and noise fillers dropped."""
        import soxr

        started = time.perf_counter()
        audio = np.asarray(audio, np.float32)
        if sample_rate != RECOGNIZER_RATE:
            audio = soxr.resample(audio, sample_rate, RECOGNIZER_RATE)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1.0:  # Griffin-Lim output may overshoot; clipping would add noise
            audio = audio / peak
        pcm = (audio * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        words = hypothesis.hypstr.split() if hypothesis is not None else []
        self.seconds += time.perf_counter() - started
        self.decoded += 1
        return [w for w in words if w != "SIL" and not w.startswith("+")]


def recognizer_for(language: str | None) -> PhoneRecognizer | None:
    """A recogniser for `language`, or None (and a log line) where there is none."""
    if not available(language):
        logging.warning("No offline recogniser for %r: no intelligibility figures", language)
        return None
    return PhoneRecognizer()
