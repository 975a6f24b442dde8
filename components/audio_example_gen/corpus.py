"""The corpus contract (DESIGN.md): metadata lines `id|text|normalized_text`, audio in wavs/.

Pure functions, no Beam and no TensorFlow, so each rule is unit-tested on its own.
"""

from __future__ import annotations

import dataclasses
import os
import re

AUDIO_DIR = "wavs"
# The contract names `wavs/<id>.wav`; FLAC and OGG under the same stem are accepted too.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclasses.dataclass(frozen=True)
class CorpusRow:
    """One well-formed metadata line, before its audio is looked at."""

    id: str
    text: str
    source: str  # the metadata file it came from
    line_number: int  # 1-based
    line: str  # the raw line, for the quarantine record

    @property
    def order_key(self) -> tuple[str, int]:
        return (self.source, self.line_number)

    def quarantine(self, reason: str, detail: str) -> dict:
        return quarantine_record(self.id, self.line, reason, detail, self.source, self.line_number)


def quarantine_record(
    utterance_id: str | None, line: str, reason: str, detail: str, source: str, line_number: int
) -> dict:
    return {
        "id": utterance_id,
        "line": line,
        "reason": reason,
        "detail": detail,
        "source": source,
        "line_number": line_number,
    }


def parse_metadata_line(raw: bytes, source: str, line_number: int) -> CorpusRow | dict | None:
    """A CorpusRow, a quarantine record (malformed_line / empty_text), or None for a blank line.

    Blank lines separate nothing in LJSpeech and carry no row, so they are skipped, not
    quarantined; everything else that is not a valid row is quarantined with its reason.
    """
    raw = raw.rstrip(b"\r\n")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        shown = raw.decode("utf-8", errors="replace")
        return quarantine_record(
            None, shown, "malformed_line", f"not UTF-8: {error}", source, line_number
        )
    if line.startswith("\ufeff") and line_number == 1:
        line = line[1:]  # a byte-order mark written by some editors
    if not line.strip():
        return None
    fields = line.split("|")
    if len(fields) not in (2, 3):
        # With no separator at all the first "field" is the whole line, not an id.
        return quarantine_record(
            (fields[0].strip() or None) if len(fields) > 1 else None,
            line,
            "malformed_line",
            f"expected 'id|text' or 'id|text|normalized_text', found {len(fields)} fields",
            source,
            line_number,
        )
    utterance_id = fields[0].strip()
    if not _VALID_ID.match(utterance_id):
        return quarantine_record(
            utterance_id or None,
            line,
            "malformed_line",
            f"invalid id {utterance_id!r}: letters, digits, '_', '-', '.' only",
            source,
            line_number,
        )
    text = fields[1].strip() or (fields[2].strip() if len(fields) == 3 else "")
    if not text:
        return quarantine_record(
            utterance_id, line, "empty_text", "the text field is empty", source, line_number
        )
    return CorpusRow(utterance_id, text, source, line_number, line)


def audio_path_for(metadata_path: str, utterance_id: str, exists=os.path.exists) -> str:
    """`wavs/<id>.wav` beside the metadata file, or the FLAC/OGG file of that stem."""
    audio_dir = os.path.join(os.path.dirname(metadata_path), AUDIO_DIR)
    candidates = [os.path.join(audio_dir, utterance_id + ext) for ext in AUDIO_EXTENSIONS]
    for candidate in candidates:
        if exists(candidate):
            return candidate
    return candidates[0]
