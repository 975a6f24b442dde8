"""Text front end: normalisation cases, an independent number reference, engine parity, ids."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import inflect
import pytest
import tensorflow as tf
from unidecode import unidecode

from models.text import rules, symbols
from models.text.normalize import ids_to_text, normalize_text, text_to_ids
from models.text.tf_frontend import normalize_text_tf, text_to_ids_tf

CASES = [
    # integers
    ("0", "zero"),
    ("7", "seven"),
    ("13", "thirteen"),
    ("21", "twenty one"),
    ("105", "one hundred five"),
    ("1,000,000", "one million"),
    ("2,000,005", "two million five"),
    (
        "123456789012",
        "one hundred twenty three billion four hundred fifty six million "
        "seven hundred eighty nine thousand twelve",
    ),
    ("007", "zero zero seven"),
    ("1234567890123", "one two three four five six seven eight nine zero one two three"),
    ("-5", "minus five"),
    ("(-12)", "(minus twelve)"),
    ("mp3", "mp three"),
    # decimals and percent
    ("3.14", "three point one four"),
    ("0.5", "zero point five"),
    (".5", "point five"),
    ("1,234.56", "one thousand two hundred thirty four point five six"),
    ("50%", "fifty percent"),
    ("2.5%", "two point five percent"),
    # currency, singular and plural
    ("$1", "one dollar"),
    ("$5", "five dollars"),
    ("$0.50", "fifty cents"),
    ("$0.01", "one cent"),
    ("$1.00", "one dollar"),
    ("$2.01", "two dollars, one cent"),
    ("$1.25", "one dollar, twenty five cents"),
    ("$1,234.56", "one thousand two hundred thirty four dollars, fifty six cents"),
    ("$3 million", "three million dollars"),
    ("$1 million", "one million dollars"),
    ("$3.5 billion", "three point five billion dollars"),
    ("$5k", "five thousand dollars"),
    ("$1.5", "one point five dollars"),
    ("$1984", "one thousand nine hundred eighty four dollars"),
    ("£1", "one pound"),
    ("£2.50", "two pounds, fifty pence"),
    ("£0.01", "one penny"),
    ("€1", "one euro"),
    ("€2.50", "two euros, fifty cents"),
    ("10 €", "ten euros"),
    ("¥500", "five hundred yen"),
    ("50¢", "fifty cents"),
    ("1¢", "one cent"),
    # ordinals
    ("1st", "first"),
    ("2nd", "second"),
    ("3rd", "third"),
    ("4th", "fourth"),
    ("11th", "eleventh"),
    ("12th", "twelfth"),
    ("13th", "thirteenth"),
    ("20th", "twentieth"),
    ("21st", "twenty first"),
    ("22nd", "twenty second"),
    ("100th", "one hundredth"),
    ("101st", "one hundred first"),
    ("112th", "one hundred twelfth"),
    ("1,000th", "one thousandth"),
    # years and decades
    ("1984", "nineteen eighty four"),
    ("1900", "nineteen hundred"),
    ("1905", "nineteen oh five"),
    ("1100", "eleven hundred"),
    ("2000", "two thousand"),
    ("2009", "two thousand nine"),
    ("2010", "twenty ten"),
    ("2024", "twenty twenty four"),
    ("1099", "one thousand ninety nine"),
    ("1,984", "one thousand nine hundred eighty four"),
    ("in 1984.", "in nineteen eighty four."),
    ("the 1980s", "the nineteen eighties"),
    ("the '80s", "the eighties"),
    # times
    ("10:30", "ten thirty"),
    ("10:05", "ten oh five"),
    ("10:00", "ten o'clock"),
    ("09:30", "nine thirty"),
    ("18:00", "eighteen hundred"),
    ("10am", "ten a m"),
    ("5:45 p.m.", "five forty five p m"),
    # abbreviations and symbols
    ("Mr. Smith", "mister smith"),
    ("Mrs. Jones", "missus jones"),
    ("Dr. Who", "doctor who"),
    ("St. Louis", "saint louis"),
    ("on Main St.", "on main street"),
    ("Acme Co. and Smith Ltd.", "acme company and smith limited"),
    ("Gen. Lee vs. Capt. Kirk", "general lee versus captain kirk"),
    ("apples, pears, etc.", "apples, pears, et cetera"),
    ("e.g. this, i.e. that", "for example this, that is that"),
    ("No. 5", "number five"),
    ("#1", "number one"),
    ("example.co.uk", "example.co.uk"),
    ("R&D", "r and d"),
    ("C++", "c plus plus"),
    ("a/b", "a b"),
    # unicode
    ("café", "cafe"),
    ("naïve", "naive"),
    ("Ångström", "angstrom"),
    ("Straße", "strasse"),
    ("Œuvre", "oeuvre"),
    ("cafe\u0301", "cafe"),
    ("ﬁnd", "find"),
    ("‘single’ and “double”", "'single' and \"double\""),
    ("wait—what", "wait - what"),
    ("1990–1995", "nineteen ninety - nineteen ninety five"),
    ("well…", "well..."),
    ("25°C", "twenty five degrees celsius"),
    ("1°", "one degree"),
    ("2½ cups", "two and one half cups"),
    ("x²", "x squared"),
    ("\u22125", "minus five"),
    ("emoji 🙂 here", "emoji here"),
    # whitespace and punctuation
    ("  Hello,\tworld!\n ", "hello, world!"),
    ("a\u00a0b\u2009c", "a b c"),
    ("hello , world !", "hello, world!"),
    ("snake_case", "snake case"),
]


def _inflect_words(n: int, engine: inflect.engine) -> str:
    words = engine.number_to_words(n, andword="")
    return " ".join(re.sub(r"[,-]", " ", words).split())


def _is_year(n: int) -> bool:
    return 1100 <= n <= 1999 or 2010 <= n <= 2099


def _py_or_empty(text: str) -> str:
    try:
        return normalize_text(text)
    except ValueError:
        return ""


def _tf_normalize(texts: list[str]) -> list[str]:
    return [s.decode("utf-8") for s in normalize_text_tf(tf.constant(texts)).numpy()]


def _random_sentence(rng: random.Random) -> str:
    pieces = [
        lambda: rng.choice(["the", "Cat", "SAT", "on", "a", "mat", "and", "said", "hello"]),
        lambda: rng.choice(["Mr.", "Mrs.", "Dr.", "St.", "Co.", "Jr.", "Capt.", "vs.", "etc."]),
        lambda: rng.choice(["e.g.", "i.e.", "No.", "#", "&", "+", "=", "@", "/", "_", "*"]),
        lambda: rng.choice(["café", "naïve", "Ångström", "Straße", "Œuvre", "ﬁne", "Zoë"]),
        lambda: rng.choice(["“", "”", "‘", "’", "—", "–", "…", "«", "»", "°", "½", "²"]),
        lambda: rng.choice([",", ".", "!", "?", ";", ":", "(", ")", '"', "'", "-", "%"]),
        lambda: str(rng.randrange(10 ** rng.randrange(1, 15))),
        lambda: f"{rng.randrange(10 ** rng.randrange(1, 13)):,}",
        lambda: f"{rng.randrange(10**4)}.{rng.randrange(10**3)}",
        lambda: f"-{rng.randrange(1000)}",
        lambda: str(rng.randrange(1000, 2100)),
        lambda: f"{rng.randrange(1, 2000)}{rng.choice(['st', 'nd', 'rd', 'th'])}",
        lambda: (
            f"{rng.choice('$£€¥')}{rng.randrange(3000):,}" + rng.choice(["", ".00", ".01", ".5"])
        ),
        lambda: f"{rng.choice('$£€')}{rng.randrange(100)} {rng.choice(['million', 'billion'])}",
        lambda: f"{rng.randrange(25)}:{rng.randrange(60):02d}" + rng.choice(["", "am", " p.m."]),
        lambda: f"{rng.choice([1900, 1980, 2010, 80])}s",
        lambda: rng.choice(["0", "00", "007", "0.0", "1", "1.", ".5", "5%", "1°", "1¢"]),
        lambda: rng.choice(["mp3", "4x4", "h2o", "abc123def", "1,2,3", "1.2.3", "24/7"]),
    ]
    seps = [" ", " ", " ", "", "  ", "\t", "\n"]
    return "".join(rng.choice(pieces)() + rng.choice(seps) for _ in range(rng.randrange(1, 12)))


def _random_junk(rng: random.Random) -> str:
    pools = [
        (0x00, 0x20),
        (0x20, 0x7F),
        (0x7F, 0x100),
        (0x100, 0x250),
        (0x300, 0x370),
        (0x1E00, 0x1F00),
        (0x2000, 0x2200),
        (0x4E00, 0x4E80),
        (0xFB00, 0xFB10),
        (0xFF00, 0xFF60),
        (0x1F300, 0x1F700),
    ]
    chars = []
    for _ in range(rng.randrange(1, 40)):
        if rng.random() < 0.1:
            cp = rng.randrange(0x110000)
            while 0xD800 <= cp <= 0xDFFF:  # surrogates are not encodable text
                cp = rng.randrange(0x110000)
        else:
            cp = rng.randrange(*rng.choice(pools))
        chars.append(chr(cp))
    return "".join(chars)


@pytest.mark.parametrize("text,expected", CASES)
def test_normalize_cases(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_tf_engine_on_cases() -> None:
    texts = [text for text, _ in CASES]
    assert _tf_normalize(texts) == [expected for _, expected in CASES]


def test_integers_match_inflect_in_both_engines() -> None:
    engine = inflect.engine()
    rng = random.Random(0)
    numbers = list(range(1001)) + [rng.randrange(10**12) for _ in range(2000)]
    # "{:,}" is always a cardinal; the bare form too unless it reads as a year.
    texts = [f"{n:,}" for n in numbers] + [str(n) for n in numbers if not _is_year(n)]
    values = numbers + [n for n in numbers if not _is_year(n)]
    expected = [_inflect_words(n, engine) for n in values]
    assert [normalize_text(t) for t in texts] == expected
    assert _tf_normalize(texts) == expected


def test_engines_agree_on_random_sentences_and_junk() -> None:
    rng = random.Random(1234)
    texts = [_random_sentence(rng) for _ in range(400)] + [_random_junk(rng) for _ in range(300)]
    python_out = [_py_or_empty(t) for t in texts]
    mismatches = [
        (t, p, o) for t, p, o in zip(texts, python_out, _tf_normalize(texts), strict=True) if p != o
    ]
    assert not mismatches, mismatches[:5]
    alphabet = set(symbols.SYMBOLS) - {symbols.PAD, symbols.EOS}
    for text, out in zip(texts, python_out, strict=True):
        assert set(out) <= alphabet, (text, out)
        assert out == out.strip() and "  " not in out, (text, out)


def test_letter_table_agrees_with_unidecode() -> None:
    for rule in rules.UNICODE_LETTER_RULES:
        for char in rule.pattern.strip("[]"):
            if char == "ŉ":  # unidecode spells it "'n"; read as plain "n"
                continue
            assert normalize_text(f"x{char}x") == f"x{unidecode(char).lower()}x", char


def test_every_ascii_character_normalises_into_the_alphabet() -> None:
    alphabet = set(symbols.SYMBOLS) - {symbols.PAD, symbols.EOS}
    texts = [f"a{chr(b)}b" for b in range(128)]
    outputs = [normalize_text(t) for t in texts]
    assert all(set(out) <= alphabet for out in outputs)
    assert _tf_normalize(texts) == outputs


def test_rules_stay_in_the_common_dialect() -> None:
    for rule in rules.ALL_RULES:
        compiled = re.compile(rule.pattern)
        assert compiled.search("") is None, rule  # no empty matches
        assert not re.search(r"\(\?<?[=!]", rule.pattern), rule  # no lookaround
        assert not re.search(r"\\[1-9dDwWsSzZAuU]", rule.pattern), rule
        assert re.fullmatch(r"([^\\]|\\[1-9](?![0-9]))*", rule.replacement), rule
        assert rule.repeat >= 1
    assert len(rules.ALL_RULES) < 400


def test_empty_after_normalisation_raises() -> None:
    for text in ["", "   ", "***", "\u200b", "🙂🙂", "\x00\x01"]:
        with pytest.raises(ValueError, match="text is empty after normalisation"):
            normalize_text(text)
    assert _tf_normalize(["", "***"]) == ["", ""]


def test_symbol_table() -> None:
    assert symbols.SYMBOLS[symbols.PAD_ID] == "_" and symbols.SYMBOLS[symbols.EOS_ID] == "~"
    assert len(set(symbols.SYMBOLS)) == len(symbols.SYMBOLS)
    assert all(symbols.SYMBOL_TO_ID[s] == i for i, s in enumerate(symbols.SYMBOLS))
    asset = json.loads(symbols.symbols_json())
    assert asset["symbols"] == list(symbols.SYMBOLS)
    assert (asset["pad_id"], asset["eos_id"], asset["version"]) == (0, 1, 1)


def test_byte_table_consistent_with_symbols() -> None:
    table = symbols.byte_to_id_table()
    assert len(table) == 256
    for byte, symbol_id in enumerate(table):
        char = chr(byte)
        if char in symbols.SYMBOL_TO_ID and char not in (symbols.PAD, symbols.EOS):
            assert symbol_id == symbols.SYMBOL_TO_ID[char]
        else:
            assert symbol_id == -1


def test_ids_round_trip() -> None:
    rng = random.Random(7)
    for text in [t for t, _ in CASES] + [_random_sentence(rng) for _ in range(50)]:
        ids = text_to_ids(text)
        assert ids[-1] == symbols.EOS_ID and symbols.EOS_ID not in ids[:-1]
        assert symbols.PAD_ID not in ids
        assert ids_to_text(ids) == normalize_text(text)
        assert text_to_ids(text, add_eos=False) == ids[:-1]
    assert ids_to_text([28, 27, 18, 1, 0, 0]) == "one"
    with pytest.raises(ValueError):
        ids_to_text([999])


def test_text_to_ids_tf_matches_python_on_a_ragged_batch() -> None:
    batch = ["Hi!", "It cost $2.01 on the 21st of May, 1984.", "café", "", "12,345 naïve Ångströms"]
    ids = text_to_ids_tf(tf.constant(batch))
    assert ids.dtype == tf.int64 and ids.shape.rank == 2
    expected = [text_to_ids(t) if t else [symbols.EOS_ID] for t in batch]
    assert ids.to_list() == expected
    assert text_to_ids_tf(tf.constant(batch), add_eos=False).to_list() == [e[:-1] for e in expected]
    assert text_to_ids_tf(tf.constant([], tf.string)).to_list() == []


def test_text_to_ids_tf_in_tf_function() -> None:
    fn = tf.function(text_to_ids_tf, input_signature=[tf.TensorSpec([None], tf.string)])
    batch = ["One.", "Two 2 II", "$3 million, Dr. No!"]
    assert fn(tf.constant(batch)).to_list() == [text_to_ids(t) for t in batch]
    assert fn(tf.constant(batch[:1])).to_list() == [text_to_ids(batch[0])]


def test_normalize_text_tf_keeps_shape() -> None:
    out = normalize_text_tf(tf.constant([["Dr. A", "1st"], ["£1", "x"]]))
    assert out.shape == (2, 2)
    assert out.numpy().tolist() == [[b"doctor a", b"first"], [b"one pound", b"x"]]


def test_python_engine_does_not_import_tensorflow() -> None:
    code = (
        "import sys; import models.text.normalize as n; n.normalize_text('1st');"
        "assert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
