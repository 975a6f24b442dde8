"""The metadata-line contract: which lines are rows, and why the others are quarantined."""

import pytest

from components.audio_example_gen import corpus


def parse(raw: bytes, line_number: int = 3):
    return corpus.parse_metadata_line(raw, "/c/metadata.csv", line_number)


def test_three_field_line_is_a_row_with_raw_text():
    row = parse(b"LJ001-0001|Printing, in 1455.|Printing, in fourteen fifty-five.\n")
    assert isinstance(row, corpus.CorpusRow)
    assert (row.id, row.text, row.line_number) == ("LJ001-0001", "Printing, in 1455.", 3)


def test_two_field_line_is_a_row():
    row = parse(b"a_1|Hello there.\r\n")
    assert row.text == "Hello there."


def test_normalized_text_stands_in_for_an_empty_raw_text():
    assert parse(b"a|  |hello").text == "hello"


@pytest.mark.parametrize(
    "raw, detail",
    [
        (b"only-an-id", "found 1 fields"),
        (b"a|b|c|d", "found 4 fields"),
        (b"|text", "invalid id"),
        (b"../etc/passwd|text", "invalid id"),
        (b"has space|text", "invalid id"),
        (b"a|caf\xe9", "not UTF-8"),
    ],
)
def test_malformed_lines_are_quarantined_with_the_cause(raw, detail):
    record = parse(raw)
    assert record["reason"] == "malformed_line"
    assert detail in record["detail"]
    assert record["line_number"] == 3 and record["source"] == "/c/metadata.csv"


def test_empty_text_is_quarantined():
    record = parse(b"a|   ")
    assert (record["reason"], record["id"]) == ("empty_text", "a")


def test_blank_line_is_not_a_row():
    assert parse(b"   \n") is None


def test_bom_on_first_line_is_ignored():
    assert parse(b"\xef\xbb\xbfa|text", line_number=1).id == "a"


def test_audio_path_prefers_wav_then_flac_then_ogg():
    present = {"/c/wavs/x.flac"}
    assert corpus.audio_path_for("/c/metadata.csv", "x", present.__contains__) == "/c/wavs/x.flac"
    assert corpus.audio_path_for("/c/metadata.csv", "y", present.__contains__) == "/c/wavs/y.wav"
