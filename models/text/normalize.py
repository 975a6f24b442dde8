"""Pure-Python text front end (no TensorFlow): the reference engine for the phone-side runner.

Applies models/text/rules.py with `re`; tf_frontend.py applies the same table with RE2 in-graph.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from models.text import rules, symbols

RULES_VERSION = rules.RULES_VERSION

_CompiledRules = tuple[tuple[re.Pattern[str], str, int], ...]


def _compile(table: tuple[rules.Rule, ...]) -> _CompiledRules:
    return tuple((re.compile(r.pattern), r.replacement, r.repeat) for r in table)


_PRE_LOWERCASE = _compile(rules.PRE_LOWERCASE_RULES)
_POST_LOWERCASE = _compile(rules.POST_LOWERCASE_RULES)
# ASCII-only, like tf.strings.lower without an encoding: str.lower() would also fold non-ASCII.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _apply(text: str, table: _CompiledRules) -> str:
    for pattern, replacement, repeat in table:
        for _ in range(repeat):
            rewritten = pattern.sub(replacement, text)
            if rewritten == text:  # a fixed point: further passes change nothing
                break
            text = rewritten
    return text


def normalize_text(text: str) -> str:
    """Normalise raw text to the symbol alphabet: ASCII, lowercase, numbers and symbols as words."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    normalized = _apply(text, _PRE_LOWERCASE).translate(_ASCII_LOWER)
    normalized = _apply(normalized, _POST_LOWERCASE)
    if not normalized:
        raise ValueError(f"text is empty after normalisation: {text!r}")
    return normalized


def text_to_ids(text: str, add_eos: bool = True) -> list[int]:
    """Normalise `text` and map it to symbol ids, end-of-sequence id appended."""
    ids = [symbols.SYMBOL_TO_ID[char] for char in normalize_text(text)]
    if add_eos:
        ids.append(symbols.EOS_ID)
    return ids


def ids_to_text(ids: Iterable[int]) -> str:
    """Symbol ids back to normalised text: pad ids are skipped and the first EOS ends it."""
    chars = []
    for symbol_id in ids:
        symbol_id = int(symbol_id)
        if symbol_id == symbols.EOS_ID:
            break
        if symbol_id == symbols.PAD_ID:
            continue
        if not 0 <= symbol_id < len(symbols.SYMBOLS):
            raise ValueError(
                f"symbol id {symbol_id} is outside the table of {len(symbols.SYMBOLS)}"
            )
        chars.append(symbols.SYMBOLS[symbol_id])
    return "".join(chars)
