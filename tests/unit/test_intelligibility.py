"""Intelligibility from PocketSphinx: espeak speech of a sentence is heard closer to its own
phones than to other sentences' (chance); the scoring pieces on their own."""

import subprocess
import sys

import numpy as np
import pytest

from models import intelligibility
from pipeline import espeak

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "A thirsty crow found a pitcher with a little water at the bottom.",
    "We will meet at the old mill by the river tomorrow morning.",
    "Six big juicy steaks sizzled in a pan.",
)


@pytest.fixture(scope="module")
def heard():
    """(hypotheses, text phones, seconds per utterance) for espeak audio of SENTENCES."""
    with espeak.IsolatedSynthesizer() as synthesizer:  # same audio whatever ran before
        clips = synthesizer.synthesize_batch([(text, None) for text in SENTENCES])
        rate = synthesizer.sample_rate
    recognizer = intelligibility.PhoneRecognizer()
    hypotheses = [recognizer.phones(clip.astype(np.float32) / 32768, rate) for clip in clips]
    expected = [intelligibility.text_phones(text)[0] for text in SENTENCES]
    return hypotheses, expected, recognizer.seconds / recognizer.decoded


def test_espeak_speech_is_heard_well_above_chance(heard):
    hypotheses, expected, _ = heard
    voice = intelligibility.phone_error_rate(hypotheses, expected)
    chance = intelligibility.chance_phone_error_rate(hypotheses, expected)
    # Measured: about 0.6 against 0.85-0.9 for the same hypotheses against other sentences.
    assert voice < chance - 0.1, (voice, chance)
    assert all(h for h in hypotheses)
    assert not any(p == "SIL" or p.startswith("+") for h in hypotheses for p in h)


def test_decoding_is_cheap(heard):
    assert heard[2] < 2.0  # seconds per ~3 s utterance; ~0.2 s measured on one core


def test_silence_scores_like_chance():
    recognizer = intelligibility.PhoneRecognizer()
    silence = [recognizer.phones(np.zeros(22050, np.float32), 22050) for _ in range(3)]
    assert all(len(h) <= 2 for h in silence)  # next to nothing is heard
    expected = [intelligibility.text_phones(text)[0] for text in SENTENCES[:3]]
    voice = intelligibility.phone_error_rate(silence, expected)
    chance = intelligibility.chance_phone_error_rate(silence, expected)
    assert voice > 0.95 and abs(voice - chance) < 0.02
    assert abs(intelligibility.relative_intelligibility(voice, chance, 0.6)) < 0.1


def test_text_phones_come_from_the_dictionary_after_normalisation():
    phones, words, unknown = intelligibility.text_phones("Hello, 3 cats!")
    assert phones == "HH AH L OW TH R IY K AE T S".split()
    assert (words, unknown) == (3, 0)
    # A word the dictionary lacks is spelt out roughly, and counted.
    phones, words, unknown = intelligibility.text_phones("Zorbulon")
    assert (words, unknown) == (1, 1)
    assert phones[:2] == ["Z", "AA"] and phones[-1] == "N"


def test_edit_distance_and_rates():
    assert intelligibility.edit_distance("K AE T".split(), "K AE T".split()) == 0
    assert intelligibility.edit_distance("K AE T S".split(), "B AE T".split()) == 2
    assert intelligibility.edit_distance([], "B AE T".split()) == 3
    assert intelligibility.phone_error_rate([["A"], ["B", "C"]], [["A"], ["B"]]) == 0.5


def test_chance_compares_against_other_texts_of_the_same_length():
    # Right length, wrong content: no better than chance, however the lengths differ.
    references = [["A"] * 3, ["B"] * 9, ["C"] * 6]
    hypotheses = [["X"] * len(r) for r in references]
    assert intelligibility.chance_phone_error_rate(hypotheses, references) == 1.0
    assert intelligibility.phone_error_rate(hypotheses, references) == 1.0


def test_relative_intelligibility_spans_chance_to_ceiling():
    assert intelligibility.relative_intelligibility(0.9, 0.9, 0.6) == 0.0
    assert intelligibility.relative_intelligibility(0.6, 0.9, 0.6) == pytest.approx(1.0)
    assert intelligibility.relative_intelligibility(0.7, 0.9, 0.9) is None  # nothing to close


def test_other_languages_have_no_recogniser():
    assert intelligibility.available(None) and intelligibility.available("en-US")
    assert not intelligibility.available("de")
    assert intelligibility.recognizer_for("fr") is None


def test_importable_without_tensorflow():
    code = (
        "import sys, models.intelligibility; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
