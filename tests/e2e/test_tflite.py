"""TFLite path end to end: every family exported in three precisions (builtin ops only), parity
with the SavedModel, the bundle's runner in a process that cannot import TensorFlow, the CLI,
and the TFLiteExporter component under LocalDagRunner with and without a blessing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from ai_edge_litert import schema_py_generated as schema
from tfx import v1 as tfx

from components.tflite_exporter.component import TFLiteExporter
from models import voice_card
from models.testing import export_untrained_voice
from models.tflite import convert, parity
from models.tflite.cli import add_export_tflite_parser
from models.tflite.export import export_tflite
from models.tflite.source import load_source

pytestmark = pytest.mark.e2e

FAMILIES = ("mlp", "attention", "tacotron2")
MAX_FRAMES = 160
TEXT = "The quick brown fox paid $3.50 for 2 tickets."
SENTENCES = parity.EVAL_SENTENCES[:2]
BUILTIN_NAMES = {n for n in vars(schema.BuiltinOperator) if not n.startswith("_")} - {"CUSTOM"}
BLOCK_IMPORTS = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "models"):
            raise ImportError(name + " is blocked here")
sys.meta_path.insert(0, _Block())
"""
# Runs in the blocked process: the bundle's runner (and its tts_text copy) only.
RUN_BUNDLE = """
import importlib.util, json, sys
import numpy as np
bundle_dir, text, noise_path, out_path = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("runner", bundle_dir + "/runner.py")
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
voice = runner.Voice(bundle_dir, num_threads=1)
(ids,) = voice.token_groups(text)
noise = np.load(noise_path) if noise_path != "-" else None
audio = voice.audio(*voice.mel(ids, noise))
np.save(out_path, audio)
print(json.dumps({"ids": ids, "tensorflow": "tensorflow" in sys.modules}))
"""


def small_voice(family: str, directory: str) -> str:
    # Seeded random weights, durations pinned to whole frames: random ones sit near rounding
    # edges, where float16 adds or drops a frame and the parity figures measure that shift
    # instead of the conversion.
    return export_untrained_voice(
        directory,
        family,
        max_frames=MAX_FRAMES,
        griffin_lim_iterations=8,
        mel_mean=-4.0,
        mel_std=2.0,
        decode_to_max=True,
        frames_per_token=2,
    )


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    results = {}
    for family in FAMILIES:
        root = tmp_path_factory.mktemp(family)
        saved_model = small_voice(family, str(root / "saved_model"))
        report = export_tflite(
            saved_model, str(root / "tflite"), quantize=["none", "float16"], sentences=SENTENCES
        )
        results[family] = (saved_model, str(root / "tflite"), report)
    return results


@pytest.fixture()
def blocked_env(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(BLOCK_IMPORTS)
    return {**os.environ, "PYTHONPATH": str(shim)}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_exported_file_uses_builtin_ops_only(exports, family):
    _, _, report = exports[family]
    # (dynamic-range int8 of every family: tests/unit/test_tflite_convert.py)
    assert set(report["variants"]) == {"float32", "float16"}
    for entry in report["variants"].values():
        assert "files" in entry, entry["reasons"]  # converted (parity may still fail it)
        for key in ("acoustic", "vocoder"):
            with open(entry["files"][key]["path"], "rb") as handle:
                ops = convert.operator_counts(handle.read())
            assert set(ops) <= BUILTIN_NAMES, set(ops) - BUILTIN_NAMES
    if family == "tacotron2":
        assert "WHILE" in report["variants"]["float32"]["files"]["acoustic"]["ops"]


@pytest.mark.parametrize("family", FAMILIES)
def test_float32_and_float16_match_the_savedmodel(exports, family):
    _, _, report = exports[family]
    for name in ("float32", "float16"):
        entry = report["variants"][name]
        assert entry["status"] == "passed", entry["reasons"]
        worst, tolerance = entry["parity"]["worst"], parity.TOLERANCES[name]
        assert worst["sentences"] == len(SENTENCES)
        assert worst["mel_l1"] <= tolerance.mel_l1 and worst["mcd_db"] <= tolerance.mcd_db
        assert worst["length_frames"] <= tolerance.length_frames
    if family == "tacotron2":  # the loop ran to the cap, with the SavedModel's own noise
        rows = report["variants"]["float32"]["parity"]["sentences"]
        assert all(r["reference_mel_length"] == MAX_FRAMES for r in rows)
    assert report["bundle"]["shipped"] and report["bundle"]["variant"] == "float32"


@pytest.mark.parametrize("family", FAMILIES)
def test_runner_without_tensorflow_speaks_like_the_savedmodel(
    exports, family, blocked_env, tmp_path
):
    saved_model, out, _ = exports[family]
    (reference,) = parity.savedmodel_references(load_source(saved_model), [TEXT])
    noise_path = "-"
    if reference.noise is not None:
        noise_path = str(tmp_path / "noise.npy")
        np.save(noise_path, reference.noise)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_BUNDLE,
            os.path.join(out, "bundle"),
            TEXT,
            noise_path,
            str(tmp_path / "audio.npy"),
        ],
        cwd=tmp_path,
        env=blocked_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["tensorflow"] is False and info["ids"] == reference.ids
    assert reference.tokens_match  # the same ids as the served graph's text front end
    audio = np.load(tmp_path / "audio.npy")
    assert len(audio) == len(reference.audio) > 0
    assert parity.snr_db(reference.audio, audio) > 30.0


def test_runner_cli_writes_a_wav_and_refuses_a_sentence_over_the_limit(
    exports, blocked_env, tmp_path
):
    bundle_dir = os.path.join(exports["mlp"][1], "bundle")
    runner = os.path.join(bundle_dir, "runner.py")  # run from another working directory
    text = " ".join(["This is one sentence of a long paragraph."] * 8)
    ok = subprocess.run(
        [sys.executable, runner, text, "-o", "out.wav", "--threads", "2"],
        cwd=tmp_path,
        env=blocked_env,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr[-3000:]
    audio, rate = sf.read(tmp_path / "out.wav")
    assert rate == 22050 and len(audio) > 0.25 * rate  # several groups joined by pauses
    refused = subprocess.run(
        [sys.executable, runner, "word " * 250],
        cwd=tmp_path,
        env=blocked_env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert "sentence 1" in refused.stderr and "at most 200" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_cli_exports_one_variant(exports, tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="tts-pipeline")
    add_export_tflite_parser(parser.add_subparsers(dest="command"))
    saved_model = exports["attention"][0]
    args = parser.parse_args(
        [
            "export-tflite",
            "--model-dir",
            saved_model,
            "--out",
            str(tmp_path),
            "--quantize",
            "float16",
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "float16" in printed and "passed" in printed and "RTF" in printed
    assert sorted(os.listdir(tmp_path / "variants")) == ["float16"]
    assert os.path.exists(tmp_path / "bundle" / "acoustic.tflite")
    args = parser.parse_args(["export-tflite", "--model-dir", str(tmp_path / "x"), "--out", "o"])
    assert args.func(args) == 2 and "no SavedModel" in capsys.readouterr().err


def _run_component(tmp_path, model_uri: str, blessed: int | None) -> dict:
    model = tfx.dsl.Importer(
        source_uri=model_uri, artifact_type=tfx.types.standard_artifacts.Model
    ).with_id("model_importer")
    components = [model]
    blessing = None
    if blessed is not None:
        blessing = tfx.dsl.Importer(
            source_uri=str(tmp_path / "blessing"),
            artifact_type=tfx.types.standard_artifacts.ModelBlessing,
            custom_properties={"blessed": blessed},
        ).with_id("blessing_importer")
        components.append(blessing)
    exporter = TFLiteExporter(
        model=model.outputs["result"],
        model_blessing=blessing.outputs["result"] if blessing else None,
        quantize=("none",),
        bundle_preference=("none",),
        griffin_lim_iterations=4,  # the voice serves 8
    )
    components.append(exporter)
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=f"tflite-{blessed}",
        pipeline_root=str(tmp_path / "root"),
        components=components,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite")
        ),
        enable_cache=False,
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    outputs = sorted((tmp_path / "root" / "TFLiteExporter" / "tflite_bundle").iterdir())
    return {"uri": str(outputs[-1]), "files": sorted(os.listdir(outputs[-1]))}


def test_component_exports_blessed_models_only(exports, tmp_path):
    saved_model = exports["mlp"][0]
    model_uri = tmp_path / "model"
    shutil.copytree(saved_model, model_uri / "Format-Serving")  # the Trainer's layout
    exported = _run_component(tmp_path / "blessed", str(model_uri), blessed=1)
    assert {"bundle", "variants", "report.json", "report.md"} <= set(exported["files"])
    with open(os.path.join(exported["uri"], "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["variants"]["float32"]["status"] == "passed"
    assert (
        report["source"]["griffin_lim_iterations"],
        report["source"]["served_griffin_lim_iterations"],
    ) == (4, 8)
    card = voice_card.read_card(os.path.join(exported["uri"], "bundle"))  # the bundle's card
    assert card["artifact"] == voice_card.TFLITE_BUNDLE and card["tflite_variant"] == "float32"
    assert (card["family"], card["evaluation"]["blessed"]) == ("mlp", True)
    assert card["licence"] == voice_card.DEFAULT_LICENCE and card["source_model"] == str(model_uri)
    refused = _run_component(tmp_path / "refused", str(model_uri), blessed=0)
    assert refused["files"] == ["NOT_EXPORTED"]
