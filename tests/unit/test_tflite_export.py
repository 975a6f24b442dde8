"""export_tflite on a small voice: report, bundle, parity within tolerance, failed variants
reported and not shipped, over-long text handled before any interpreter runs, the component's
blessing gate and eval sentences."""

from __future__ import annotations

import argparse
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.evaluator import constants as evaluator_constants
from tfx.types import Channel, standard_artifacts

from components.tflite_exporter.executor import (
    NOT_EXPORTED_FILE,
    Executor,
    eval_sentences,
    is_blessed,
)
from models import voice_card
from models.testing import export_untrained_voice
from models.tflite import bundle, convert, parity
from models.tflite.cli import add_export_tflite_parser
from models.tflite.export import export_tflite
from models.tflite.source import load_source

MAX_TOKENS = 40
SENTENCES = ["How are you today?", "Dr. Smith paid $3."]


def small_voice(family: str, directory: str, max_frames: int = 64) -> str:
    return export_untrained_voice(
        directory,
        family,
        max_frames=max_frames,
        griffin_lim_iterations=3,
        mel_mean=-4.0,
        mel_std=2.0,
    )


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory):
    return small_voice("mlp", str(tmp_path_factory.mktemp("voice") / "saved_model"))


@pytest.fixture(scope="module")
def exported(voice_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("tflite"))
    PROGRESS.clear()
    report = export_tflite(
        voice_dir,
        out,
        quantize=["none", "float16"],
        max_tokens=MAX_TOKENS,
        sentences=SENTENCES,
        bundle_preference=["float16", "none"],
        progress=PROGRESS.append,
    )
    return out, report


PROGRESS: list[str] = []


def export_one_sentence(voice_dir: str, out: str, quantize, **options) -> dict:
    """One sentence on one thread: enough to judge parity and shipping."""
    return export_tflite(
        voice_dir,
        out,
        quantize=quantize,
        max_tokens=MAX_TOKENS,
        sentences=SENTENCES[:1],
        threads=(1,),
        **options,
    )


def test_one_progress_line_per_variant_with_elapsed_time(exported):
    _, report = exported
    per_variant = [line for line in PROGRESS if re.match(r"TFLite \d/2 ", line)]
    assert len(per_variant) == 2, PROGRESS
    assert re.match(r"TFLite 1/2 float32: passed in \d+\.\d s", per_variant[0])
    assert re.match(r"TFLite 2/2 float16: passed in \d+\.\d s", per_variant[1])
    assert all(entry["elapsed_s"] > 0 for entry in report["variants"].values())


def test_variants_are_validated_and_listed_where_chosen():
    from components.tflite_exporter.component import TFLiteExporter

    with pytest.raises(ValueError, match=r"none \(float32\), float16 \(float16\), dynamic"):
        TFLiteExporter(model=Channel(type=standard_artifacts.Model), quantize=("int4",))
    with pytest.raises(ValueError, match="unknown quantize"):
        TFLiteExporter(model=Channel(type=standard_artifacts.Model), bundle_preference=("float8",))
    exporter = TFLiteExporter(model=Channel(type=standard_artifacts.Model), quantize="all")
    assert json.loads(exporter.exec_properties["quantize"]) == ["none", "float16", "dynamic"]
    assert exporter.exec_properties["griffin_lim_iterations"] is None
    exporter = TFLiteExporter(
        model=Channel(type=standard_artifacts.Model), griffin_lim_iterations=6
    )
    assert exporter.exec_properties["griffin_lim_iterations"] == 6
    with pytest.raises(ValueError, match="at least 1, got 0"):
        TFLiteExporter(model=Channel(type=standard_artifacts.Model), griffin_lim_iterations=0)
    parser = argparse.ArgumentParser(prog="tts-pipeline")
    add_export_tflite_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["export-tflite", "--model-dir", "m", "--out", "o", "--quantize", "float16,none"]
    )
    assert args.quantize == ["float16", "none"]


def test_report_variants_and_bundle_layout(exported):
    out, report = exported
    assert set(report["variants"]) == {"float32", "float16"}
    for entry in report["variants"].values():
        assert entry["status"] == "passed", entry["reasons"]
        for key in ("acoustic", "vocoder"):
            assert os.path.getsize(entry["files"][key]["path"]) == entry["files"][key]["bytes"]
            assert not convert.non_builtin_ops(open(entry["files"][key]["path"], "rb").read())
        speeds = {s["threads"]: s for s in entry["speed"]}
        assert set(speeds) == {1, 2} and all(s["rtf"] > 0 for s in speeds.values())
    sizes = {n: e["files"]["acoustic"]["bytes"] for n, e in report["variants"].items()}
    assert sizes["float16"] < 0.7 * sizes["float32"]
    assert report["bundle"] == {
        "shipped": True,
        "variant": "float16",
        "path": os.path.join(out, "bundle"),
        "skipped": [],
    }
    names = sorted(os.listdir(os.path.join(out, "bundle")))
    for required in (
        "acoustic.tflite",
        "vocoder.tflite",
        "symbols.json",
        "audio_config.json",
        "bundle.json",
        "README.md",
        "runner.py",
        "rules.json",
        "golden_tokens.json",
        "tts_text",
        voice_card.CARD_FILE,
        voice_card.CARD_MARKDOWN_FILE,
    ):
        assert required in names
    card = voice_card.read_card(os.path.join(out, "bundle"))  # no card beside the source:
    assert card["artifact"] == voice_card.TFLITE_BUNDLE  # built from its voice.json
    assert (card["tflite_variant"], card["family"]) == ("float16", "mlp")
    assert card["evaluation"]["blessed"] is None and card["licence"] == "unspecified"
    with open(os.path.join(out, "report.json"), encoding="utf-8") as handle:
        assert json.load(handle)["bundle"]["variant"] == "float16"
    markdown = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    assert "| float16 | passed |" in markdown


def test_bundle_json_is_the_tensor_contract(exported):
    out, _ = exported
    with open(os.path.join(out, "bundle", "bundle.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    assert config["max_tokens"] == MAX_TOKENS and config["max_frames"] == 64
    assert config["prenet_noise"] is None and config["parity"]["status"] == "passed"
    acoustic = {t["name"]: t for t in config["acoustic"]["inputs"]}
    assert acoustic["token_ids"]["shape"] == [1, MAX_TOKENS]
    assert acoustic["token_length"]["dtype"] == "int32"
    outputs = {t["name"]: t for t in config["acoustic"]["outputs"]}
    assert outputs["mel"]["shape"] == [1, 64, 80] and outputs["mel_length"]["shape"] == [1]
    vocoder = {t["name"]: t for t in config["vocoder"]["outputs"]}
    assert vocoder["audio"]["shape"] == [1, 64 * 256]
    readme = open(os.path.join(out, "bundle", "README.md"), encoding="utf-8").read()
    assert "prenet_noise" in readme and "Interpreter.Options().setNumThreads" in readme


def test_float32_and_float16_parity_within_tolerance(exported):
    _, report = exported
    for name in ("float32", "float16"):
        worst, tolerance = report["variants"][name]["parity"]["worst"], parity.TOLERANCES[name]
        assert worst["sentences"] == len(SENTENCES)
        assert worst["mel_l1"] <= tolerance.mel_l1
        assert worst["mcd_db"] <= tolerance.mcd_db
        assert worst["length_frames"] <= tolerance.length_frames
        assert float(worst["vocoder_snr_db"]) >= tolerance.vocoder_snr_db
    assert report["variants"]["float32"]["parity"]["worst"]["mel_l1"] < 1e-4


def test_a_variant_beyond_tolerance_is_failed_and_not_shipped(voice_dir, tmp_path):
    impossible = parity.Tolerance(mel_l1=-1.0, mcd_db=0.5, length_frames=2, vocoder_snr_db=20)
    report = export_one_sentence(
        voice_dir,
        str(tmp_path / "fallback"),
        ["float16", "none"],
        tolerances={"float16": impossible},
    )
    failed = report["variants"]["float16"]
    assert failed["status"] == "failed" and "mel_l1" in failed["reasons"][0]
    assert report["bundle"]["variant"] == "float32" and report["bundle"]["skipped"] == ["float16"]
    with open(tmp_path / "fallback" / "variants" / "float16" / "bundle.json") as handle:
        assert json.load(handle)["parity"]["status"] == "failed"

    report = export_one_sentence(
        voice_dir, str(tmp_path / "none"), "float16", tolerances={"float16": impossible}
    )
    assert (
        report["bundle"]["shipped"] is False and "no variant passed" in report["bundle"]["reason"]
    )
    assert not os.path.exists(tmp_path / "none" / "bundle")


def test_fewer_vocoder_rounds_for_the_phone_are_judged_against_the_same_rounds(voice_dir, tmp_path):
    """The voice serves 3 rounds; the bundle runs 1. Its float32 audio must match the
    SavedModel's mel vocoded with 1 round (40 dB), which 3-round audio would not."""
    report = export_one_sentence(
        voice_dir, str(tmp_path / "one-round"), "none", griffin_lim_iterations=1
    )
    assert report["source"]["griffin_lim_iterations"] == 1
    assert report["source"]["served_griffin_lim_iterations"] == 3
    entry = report["variants"]["float32"]
    assert entry["status"] == "passed", entry["reasons"]
    with open(tmp_path / "one-round" / "bundle" / "bundle.json", encoding="utf-8") as handle:
        assert json.load(handle)["griffin_lim_iterations"] == 1

    source = load_source(voice_dir)
    one_round = parity.savedmodel_references(source.with_griffin_lim_iterations(1), SENTENCES)
    served = parity.savedmodel_references(source, SENTENCES)
    assert parity.snr_db(served[0].audio, one_round[0].audio) < 30
    with pytest.raises(ValueError, match="at least 1, got 0"):
        source.with_griffin_lim_iterations(0)


def test_over_long_text_is_split_at_sentences_or_refused(exported):
    out, _ = exported
    runner = bundle.load_runner(os.path.join(out, "bundle", "runner.py"))
    voice = runner.Voice(os.path.join(out, "bundle"), num_threads=1)
    text = "Go now. I said go! Why? Because the house is on fire; run."
    groups = voice.token_groups(text)
    assert len(groups) > 1 and all(len(g) <= MAX_TOKENS for g in groups)
    audio = voice.synthesize(text)
    assert audio.dtype == np.float32 and len(audio) > 0
    with pytest.raises(runner.TextTooLongError, match="at most 40 per call"):
        voice.synthesize(text, split=False)
    long_sentence = "Short one. " + "a very long sentence without an end " * 3
    with pytest.raises(runner.TextTooLongError, match=r"sentence 2 .* at most 40"):
        voice.token_groups(long_sentence)
    with pytest.raises(runner.TextTooLongError):
        voice.mel([2] * (MAX_TOKENS + 1))  # refused before the interpreter sees it


def test_cli_parser_defaults_and_choices():
    parser = argparse.ArgumentParser(prog="tts-pipeline")
    add_export_tflite_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export-tflite", "--model-dir", "m", "--out", "o"])
    assert (args.model_dir, args.out, args.quantize, args.max_tokens) == ("m", "o", "none", 200)
    args = parser.parse_args(
        ["export-tflite", "--model-dir", "m", "--out", "o", "--quantize", "dynamic"]
    )
    assert args.quantize == "dynamic" and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["export-tflite", "--model-dir", "m", "--out", "o", "--quantize", "int4"])
    assert args.griffin_lim_iterations is None  # the voice's own
    base = ["export-tflite", "--model-dir", "m", "--out", "o", "--griffin-lim-iterations"]
    assert parser.parse_args([*base, "6"]).griffin_lim_iterations == 6
    for wrong in ("0", "six"):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, wrong])


def _blessing(tmp_path, blessed: int):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY, blessed)
    return blessing


def test_unblessed_model_is_not_exported(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")  # never read: the gate comes first
    output = standard_artifacts.Model()  # any artifact object stands in for the bundle here
    output.uri = str(tmp_path / "out")
    os.makedirs(output.uri)
    assert is_blessed(_blessing(tmp_path, 1)) and not is_blessed(_blessing(tmp_path, 0))
    Executor().Do(
        {"model": [model], "model_blessing": [_blessing(tmp_path, 0)]},
        {"tflite_bundle": [output]},
        {"quantize": '["none"]', "bundle_preference": '["none"]', "max_tokens": 40},
    )
    assert output.get_string_custom_property("status") == "not_blessed"
    assert output.get_int_custom_property("shipped") == 0
    assert os.listdir(output.uri) == [NOT_EXPORTED_FILE]


def test_eval_sentences_come_from_the_eval_split(tmp_path):
    split = tmp_path / "examples" / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for text in ("First sentence.", "", "Second one!", "Third."):
            feature = {
                "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = '["train", "eval"]'
    assert eval_sentences([examples], 3) == ["First sentence.", "Second one!"]
    assert eval_sentences(None, 3) == [] and eval_sentences([examples], 0) == []


def test_mobile_readme_states_the_tolerances_in_force():
    with open(os.path.join(bundle.MOBILE_DIR, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for name, t in parity.TOLERANCES.items():
        length = "0" if t.length_frames == 0 else f"<= {t.length_frames}"
        audio = f">= {t.audio_snr_db:g}" if t.audio_snr_db > -np.inf else "not gated"
        row = (
            f"| {name} | <= {t.mel_l1:g} | <= {t.mcd_db:g} | {length} | "
            f">= {t.vocoder_snr_db:g} | {audio} |"
        )
        assert row in readme, row
