"""Long text split at sentence ends into pieces a voice speaks well, for `synthesize`.

The sentence rule is the on-device runner's (mobile/runner.py: . ! ? ; then white space,
punctuation kept); that runner ships standalone in the phone bundle, so it cannot import
this module, and this one cannot import it (it loads LiteRT and is not an installed package).
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
# The voices are trained on single sentences of a few seconds; a served model refuses
# more than models.export.MAX_TEXT_CHARS (1000) per text.
DEFAULT_MAX_CHARS = 200
PAUSE_S = 0.25  # silence between the pieces of a split text (as the mobile runner)


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def split_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Whole sentences packed greedily up to max_chars per piece; a longer sentence is a piece
    of its own (split further at commas, then at spaces, only when it exceeds max_chars)."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    pending = ""
    for sentence in split_sentences(text):
        for part in _fit(sentence, max_chars):
            joined = f"{pending} {part}" if pending else part
            if pending and len(joined) > max_chars:
                pieces.append(pending)
                joined = part
            pending = joined
    if pending:
        pieces.append(pending)
    return pieces


def _fit(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than max_chars cut at commas, else at the last space that fits."""
    if len(sentence) <= max_chars:
        return [sentence]
    parts: list[str] = []
    for clause in re.split(r"(?<=[,:])\s+", sentence):
        while len(clause) > max_chars:
            cut = clause.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            parts.append(clause[:cut].strip())
            clause = clause[cut:].strip()
        if clause:
            if parts and len(parts[-1]) + 1 + len(clause) <= max_chars:
                parts[-1] = f"{parts[-1]} {clause}"
            else:
                parts.append(clause)
    return parts
