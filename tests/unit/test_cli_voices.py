"""`tts-pipeline voices PUSH_DIR`: every voice, its versions newest first, with what the voice
cards say (and what voice.json offers for a version pushed before cards); one-line errors,
exit 2; files only, no TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from models import voice_card
from pipeline.cli import main

HEAVY = ("tensorflow", "tfx", "apache_beam", "ml_metadata", "keras")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _version(base, version: str, steps: int, card: dict | None = None) -> None:
    directory = base / version
    (directory / "assets").mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"graph")
    voice = {"model": "attention", "preset": "small", "training": {"total_steps": steps}}
    (directory / "assets" / "voice.json").write_text(json.dumps(voice))
    if card is not None:
        voice_card.write_card(str(directory), card)


def _card(name: str, version: str, blessed: bool, margin: float, steps: int) -> dict:
    return voice_card.build_card(
        name=name,
        version=version,
        voice_info={"model": "mlp", "preset": "small", "training": {"total_steps": steps}},
        evaluation={
            "blessed": blessed,
            "message": "m",
            "metrics": {"content_margin_db": margin, "intelligibility": 0.28, "rtf": 0.1},
            "thresholds": {"content_margin_db": 1.0},
        },
        corpus={"uri": "/corpus", "utterances": 200},
        licence="CC-BY-4.0",
        created="2026-01-02T03:04:05Z",
    )


@pytest.fixture()
def push_dir(tmp_path):
    voice = tmp_path / "push" / "voice"
    _version(voice, "1700000000", 100)  # before voice cards
    _version(voice, "1700000500", 2500, _card("voice", "1700000500", True, 1.03, 2500))
    _version(voice, "1700000900", 3000, _card("voice", "1700000900", False, 0.5, 3000))
    (voice / ".partial-1700001000-99").mkdir()  # a push in progress: not a version
    (voice / "1700002000").mkdir()  # no saved_model.pb yet: not a version
    _version(tmp_path / "push" / "narrator", "5", 40)  # numbered by hand, no card
    _version(tmp_path / "push" / "narrator", "6", 50)
    (tmp_path / "push" / "narrator" / "6" / voice_card.CARD_FILE).write_text("{not json")
    return str(tmp_path / "push")


def test_the_table_lists_every_voice_and_version_newest_first(push_dir, capsys):
    assert main(["voices", push_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "VERSION",
        "MODEL",
        "STEPS",
        "METRICS",
        "BLESSED",
        "CREATED",
        "LICENCE",
    ]
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1]) for r in rows] == [
        ("narrator", "6"),  # a damaged card: listed with what voice.json offers
        ("narrator", "5"),
        ("voice", "1700000900"),
        ("voice", "1700000500"),
        ("voice", "1700000000"),
    ]
    newest = lines[3]
    assert "mlp/small" in newest and "3000" in newest and "margin_dB 0.5" in newest
    assert "intell 0.28" in newest and "rtf" not in newest  # the headline metrics only
    assert " no " in newest and "2026-01-02T03:04:05Z" in newest and "CC-BY-4.0" in newest
    assert " yes " in lines[4] and "margin_dB 1.03" in lines[4]
    pre_card = lines[5]  # what voice.json offers, the date from the version's timestamp
    assert "attention/small" in pre_card and "100" in pre_card and "no card" in pre_card
    assert "2023-11-14T22:13:20Z" in pre_card


def test_json_gives_every_version_and_its_card(push_dir, capsys):
    assert main(["voices", push_dir, "--json"]) == 0
    voices = json.loads(capsys.readouterr().out)
    assert [v["name"] for v in voices] == ["narrator", "voice"]
    versions = voices[1]["versions"]
    assert [v["version"] for v in versions] == ["1700000900", "1700000500", "1700000000"]
    assert versions[1]["blessed"] is True and versions[1]["steps"] == 2500
    assert versions[1]["metrics"] == {"content_margin_db": 1.03, "intelligibility": 0.28}
    assert versions[1]["card"]["corpus"]["utterances"] == 200
    assert versions[2]["has_card"] is False and versions[2]["card"] is None
    assert versions[2]["family"] == "attention" and versions[2]["blessed"] is None


def test_one_voices_base_is_listed_under_its_name(push_dir, capsys):
    assert main(["voices", os.path.join(push_dir, "voice"), "--json"]) == 0
    voices = json.loads(capsys.readouterr().out)
    assert [v["name"] for v in voices] == ["voice"] and len(voices[0]["versions"]) == 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: str(tmp / "missing"), "no such directory"),
        (lambda tmp: str(tmp), "no pushed voices in"),
        (lambda tmp: "gs://bucket/serving", "a local directory only"),
    ],
)
def test_a_missing_or_empty_push_dir_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    (tmp_path / "voice" / "1").mkdir(parents=True)  # no saved_model.pb: not a voice
    assert main(["voices", make(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("tts-pipeline voices: ") and err.count("\n") == 1


def test_voices_loads_no_tensorflow(push_dir):
    probe = (
        "import json, sys\n"
        "from pipeline.cli import main\n"
        "code = main(['voices', sys.argv[1]])\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, push_dir],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_run_passes_the_voice_licence_from_the_flag_or_the_config_file(tmp_path, monkeypatch):
    from pipeline import cli, local_runner

    seen = {}
    monkeypatch.setattr(local_runner, "run_pipeline", lambda **kwargs: seen.update(kwargs))
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"voice_licence": "CC0-1.0"}))
    base = ["run", "--data", "d", "--output", str(tmp_path)]
    for argv, licence in (
        (base, voice_card.DEFAULT_LICENCE),
        ([*base, "--config", str(config)], "CC0-1.0"),
        ([*base, "--config", str(config), "--voice-licence", "CC-BY-4.0"], "CC-BY-4.0"),
    ):
        cli._run_pipeline(cli.parse_args(argv), trainer={}, run_id="r")
        assert seen["voice_licence"] == licence
