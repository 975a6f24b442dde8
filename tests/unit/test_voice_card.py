"""The voice card: every field present and strict JSON, written inside every pushed version
(before the rename that publishes it) and inside every mobile bundle, from what the Evaluator
records on its blessing and the operator's licence."""

from __future__ import annotations

import json
import os

import pytest

from models import voice_card

VOICE_INFO = {
    "model": "mlp",
    "preset": "small",
    "sample_rate": 22050,
    "training": {"initialized_from": "scratch", "total_steps": 2500},
}
EVALUATION = {
    "blessed": True,
    "message": "blessed: content_margin_db 1.03 >= 1",
    "metrics": {"content_margin_db": 1.03, "intelligibility": 0.28, "mcd_db": float("nan")},
    "thresholds": {"content_margin_db": 1.0, "intelligibility": 0.2},
}
SPANS = [
    {"input_base": "/corpus", "span": 0, "num_examples_train": 90, "num_examples_eval": 10}
    | {"audio_seconds_train": 300.0, "audio_seconds_eval": 60.0},
    {"span": 1, "num_examples_train": 18, "num_examples_eval": 2, "audio_seconds_train": 3240.0},
]


def _card(**kwargs):
    return voice_card.build_card(
        name="voice",
        version="1764547200",
        voice_info=VOICE_INFO,
        evaluation=EVALUATION,
        corpus=voice_card.corpus_summary(SPANS),
        licence="CC-BY-4.0",
        source_model="/root/Trainer/model/7",
        **kwargs,
    )


def test_the_card_has_every_field_with_the_pipelines_values():
    card = _card()
    assert set(voice_card.REQUIRED_FIELDS) <= set(card)
    assert card["name"] == "voice" and card["version"] == "1764547200"
    assert (card["family"], card["preset"], card["language"]) == ("mlp", "small", "en")
    assert card["training"] == {"steps": 2500, "initialized_from": "scratch"}
    assert card["corpus"]["uri"] == "/corpus" and card["corpus"]["spans"] == [0, 1]
    assert card["corpus"]["utterances"] == 120
    assert card["corpus"]["utterances_by_split"] == {"train": 108, "eval": 12}
    assert card["corpus"]["audio_seconds"] == 3600.0 and card["corpus"]["audio_hours"] == 1.0
    assert card["evaluation"]["blessed"] is True
    assert card["evaluation"]["thresholds"] == EVALUATION["thresholds"]
    assert card["evaluation"]["metrics"]["content_margin_db"] == 1.03
    assert card["evaluation"]["metrics"]["mcd_db"] is None  # NaN: strict JSON has no NaN
    assert card["licence"] == "CC-BY-4.0" and card["artifact"] == voice_card.SAVED_MODEL
    assert card["created"].endswith("Z") and card["created"][:2] == "20"
    assert card["pipeline_version"] == voice_card.pipeline_version()


def test_defaults_where_the_pipeline_knows_nothing():
    card = voice_card.build_card(
        name="v", version=None, voice_info={}, evaluation=None, corpus=None
    )
    assert card["licence"] == voice_card.DEFAULT_LICENCE == "unspecified"
    assert card["corpus"]["utterances"] is None and card["evaluation"]["blessed"] is None


@pytest.mark.parametrize(
    "drop", ["licence", "created", "corpus", "evaluation", "training.steps", "corpus.uri"]
)
def test_a_card_missing_a_field_is_refused_naming_it(drop):
    card = json.loads(json.dumps(_card()))
    section, _, key = drop.partition(".")
    del (card[section] if key else card)[key or section]
    with pytest.raises(ValueError, match=drop.replace(".", r"\.")):
        voice_card.card_files(card)


def test_card_files_are_strict_json_and_a_readable_page(tmp_path):
    files = voice_card.card_files(_card())
    assert set(files) == {voice_card.CARD_FILE, voice_card.CARD_MARKDOWN_FILE}
    json.loads(files[voice_card.CARD_FILE], parse_constant=pytest.fail)  # no NaN/Infinity
    page = files[voice_card.CARD_MARKDOWN_FILE]
    assert "# Voice card: voice version 1764547200" in page
    assert "CC-BY-4.0" in page and "| content_margin_db | 1.03 | 1 |" in page
    voice_card.write_card(str(tmp_path), _card())
    assert voice_card.read_card(str(tmp_path))["name"] == "voice"
    assert voice_card.read_card(str(tmp_path / "none")) is None


def test_the_voice_file_name_is_the_exports():
    from models import export

    assert voice_card.VOICE_FILE == export.VOICE_FILE


# --- Written by the components ------------------------------------------------------------


def _saved_model(directory) -> str:
    (directory / "assets").mkdir(parents=True)
    (directory / "variables").mkdir()
    (directory / "assets" / "voice.json").write_text(json.dumps(VOICE_INFO))
    (directory / "saved_model.pb").write_bytes(b"graph")
    return str(directory)


def _blessing(tmp_path):
    from tfx.types import standard_artifacts

    from components import voice_card_artifacts

    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", 1)
    blessing.set_string_custom_property("blessing_message", EVALUATION["message"])
    blessing.set_string_custom_property("model_name", "voice")
    blessing.set_string_custom_property(
        voice_card_artifacts.METRICS_PROPERTY, json.dumps(EVALUATION["metrics"])
    )
    blessing.set_string_custom_property(
        voice_card_artifacts.THRESHOLDS_PROPERTY, json.dumps(EVALUATION["thresholds"])
    )
    corpus = voice_card_artifacts.corpus_from_examples(_examples(SPANS))
    blessing.set_string_custom_property(voice_card_artifacts.CORPUS_PROPERTY, json.dumps(corpus))
    return blessing


def _examples(spans):
    from tfx.types import standard_artifacts

    found = []
    for props in spans:
        examples = standard_artifacts.Examples()
        for key, value in props.items():
            if isinstance(value, str):
                examples.set_string_custom_property(key, value)
            elif isinstance(value, int):
                examples.set_int_custom_property(key, value)
            else:
                examples.set_float_custom_property(key, value)
        found.append(examples)
    return found


def test_the_corpus_comes_from_audio_example_gens_figures_on_every_span():
    from components import voice_card_artifacts

    corpus = voice_card_artifacts.corpus_from_examples(_examples(SPANS))
    assert corpus == voice_card.corpus_summary(SPANS)
    assert corpus["utterances"] == 120 and corpus["uri"] == "/corpus"


def test_the_pusher_writes_the_card_inside_the_version_it_publishes(tmp_path):
    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from components.atomic_pusher import executor
    from serving import versions

    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    _saved_model(tmp_path / "model" / "Format-Serving")
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed_model")
    base = str(tmp_path / "serving" / "voice")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base)
    )
    executor.Executor().Do(
        {"model": [model], "model_blessing": [_blessing(tmp_path)]},
        {"pushed_model": [pushed]},
        {
            "push_destination": proto_utils.proto_to_json(destination),
            "custom_config": json.dumps({"voice_card": {"licence": "CC-BY-4.0"}}),
        },
    )
    version = pushed.get_string_custom_property("pushed_version")
    version_dir = os.path.join(base, version)
    assert sorted(versions.version_dirs(base)) == [int(version)]  # still a servable version
    card = voice_card.read_card(version_dir)
    assert card["name"] == "voice" and card["version"] == version
    assert card["licence"] == "CC-BY-4.0" and card["training"]["steps"] == 2500
    assert card["evaluation"]["blessed"] is True
    assert card["evaluation"]["metrics"]["content_margin_db"] == 1.03
    assert card["corpus"]["utterances"] == 120 and card["source_model"] == model.uri
    assert os.path.isfile(os.path.join(version_dir, voice_card.CARD_MARKDOWN_FILE))
    assert voice_card.read_card(pushed.uri) == card  # the archive copy has it too


def test_push_atomically_writes_extra_files_before_the_rename(tmp_path, monkeypatch):
    from tfx.dsl.io import fileio

    from components.atomic_pusher import executor

    seen = {}
    rename = fileio.rename

    def checking_rename(src, dst, overwrite=False):
        seen["card_before_rename"] = os.path.exists(os.path.join(src, voice_card.CARD_FILE))
        rename(src, dst, overwrite)

    monkeypatch.setattr(fileio, "rename", checking_rename)
    model = _saved_model(tmp_path / "model")
    path = executor.push_atomically(model, str(tmp_path / "base"), "7", {"voice_card.json": "{}"})
    assert seen == {"card_before_rename": True}
    assert os.path.isfile(os.path.join(path, "voice_card.json"))


def test_the_tflite_exporter_writes_the_card_inside_the_bundle(tmp_path, monkeypatch):
    from tfx.types import standard_artifacts

    from components.tflite_exporter import executor

    def fake_export(model_dir, out_dir, **kwargs):  # the real one: tests/unit/test_tflite_*
        bundle_dir = os.path.join(out_dir, "bundle")
        os.makedirs(bundle_dir)
        return {
            "variants": {"float16": {"status": "passed", "reasons": []}},
            "bundle": {"shipped": True, "variant": "float16", "path": bundle_dir},
        }

    monkeypatch.setattr(executor, "export_tflite", fake_export)
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    _saved_model(tmp_path / "model" / "Format-Serving")
    output = standard_artifacts.Model()  # any artifact object stands in for the bundle
    output.uri = str(tmp_path / "out")
    executor.Executor().Do(
        {"model": [model], "model_blessing": [_blessing(tmp_path)]},
        {"tflite_bundle": [output]},
        {
            "quantize": '["float16"]',
            "bundle_preference": '["float16"]',
            "max_tokens": 40,
            "max_sentences": 0,
            "voice_card": json.dumps({"licence": "CC0-1.0"}),
        },
    )
    card = voice_card.read_card(str(tmp_path / "out" / "bundle"))
    assert card["artifact"] == voice_card.TFLITE_BUNDLE and card["tflite_variant"] == "float16"
    assert card["name"] == "voice" and card["version"] is None
    assert card["licence"] == "CC0-1.0" and card["family"] == "mlp"
    assert card["evaluation"]["thresholds"] == EVALUATION["thresholds"]
    assert card["corpus"]["audio_hours"] == 1.0


def test_the_pipeline_wires_the_corpus_and_the_licence_to_the_card_writers():
    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(
        pipeline_root="/srv/root",
        data_root="/srv/corpus",
        metadata_path="/srv/metadata.sqlite",
        model_name="voice",
        voice_licence="CC-BY-4.0",
    )
    nodes = {node.id: node for node in pipeline.components}
    assert "corpus" in nodes["Evaluator"].inputs
    assert nodes["Evaluator"].inputs["corpus"].type_name == "Examples"
    pusher_config = json.loads(nodes["Pusher"].exec_properties["custom_config"])
    assert pusher_config == {"voice_card": {"licence": "CC-BY-4.0"}}
    exporter = json.loads(nodes["TFLiteExporter"].exec_properties["voice_card"])
    assert exporter == {"licence": "CC-BY-4.0"}


def test_a_bundle_exported_from_a_pushed_version_carries_that_versions_card(tmp_path):
    voice_card.write_card(str(tmp_path), _card())
    card = voice_card.bundle_card(str(tmp_path), VOICE_INFO, "float16")
    assert (card["artifact"], card["tflite_variant"]) == (voice_card.TFLITE_BUNDLE, "float16")
    assert card["version"] == "1764547200" and card["licence"] == "CC-BY-4.0"
    bare = voice_card.bundle_card(str(tmp_path / "none"), VOICE_INFO, "float32")
    assert bare["evaluation"]["blessed"] is None and bare["family"] == "mlp"
    voice_card.validate_card(bare)
