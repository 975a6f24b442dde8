"""The data path through real TFX components: AudioExampleGen to Transform, with ML Metadata."""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from models import features
from models.text.normalize import text_to_ids
from models.text.symbols import EOS_ID
from pipeline import configs
from pipeline.corpus_layout import UnusableCorpusError
from pipeline.demo_corpus import build_demo_corpus
from pipeline.local_runner import run_pipeline
from tests import corpus_factory
from tests.corpus_factory import GOOD, INGEST
from tests.e2e.conftest import FIRST_RUN_SUMMARY

pytestmark = pytest.mark.e2e

CLI = os.path.join(os.path.dirname(sys.executable), "tts-pipeline")


def _read_examples(split_dir: str) -> list[tf.train.Example]:
    files = sorted(glob.glob(os.path.join(split_dir, "*.gz")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def _bytes(example, name):
    return example.features.feature[name].bytes_list.value[0]


def test_every_planned_component_completed(first_run):
    _, output, summary = first_run
    assert summary["status"] == "complete"
    assert list(summary["components"]) == list(
        configs.STAGES[: configs.STAGES.index("Transform") + 1]
    )
    for name, entry in summary["components"].items():
        assert entry["status"] == "complete", (name, entry)
    on_disk = json.load(open(os.path.join(os.path.dirname(output), FIRST_RUN_SUMMARY)))
    assert on_disk["components"].keys() == summary["components"].keys()


def test_splits_hold_each_good_row_once_and_counts_match(first_run):
    corpus, _, summary = first_run
    gen = summary["components"]["AudioExampleGen"]
    uri = gen["outputs"]["examples"][0]
    ids = {}
    for split in ("train", "eval"):
        examples = _read_examples(os.path.join(uri, f"Split-{split}"))
        assert gen["examples"][split] == len(examples)
        for example in examples:
            ids.setdefault(_bytes(example, features.ID).decode(), []).append(split)
            pcm = _bytes(example, features.AUDIO_PCM16)
            duration = example.features.feature[features.DURATION_S].float_list.value[0]
            assert len(pcm) // 2 == pytest.approx(duration * 22050, abs=2)
    assert gen["examples"]["train"] > 0 and gen["examples"]["eval"] > 0
    assert sorted(ids) == [f"DEMO-{i:04d}" for i in range(1, GOOD + 1)]
    assert all(len(splits) == 1 for splits in ids.values())


def test_quarantine_names_each_broken_row_and_its_reason(first_run):
    _, _, summary = first_run
    gen = summary["components"]["AudioExampleGen"]
    assert gen["quarantined_by_reason"] == corpus_factory.expected_reason_counts()
    assert gen["quarantined"] == len(corpus_factory.BROKEN_ROWS)
    records = [json.loads(line) for line in open(gen["quarantine_file"], encoding="utf-8")]
    by_id = {record["id"]: record for record in records}
    for utterance_id, reason in corpus_factory.BROKEN_ROWS.items():
        assert by_id[utterance_id]["reason"] == reason
        assert by_id[utterance_id]["line"], "the raw metadata line travels with the record"
    duplicate = by_id["DEMO-0001"]
    assert duplicate["line"] == "DEMO-0001|The same id a second time."
    assert "first seen at" in duplicate["detail"]


def test_transformed_features_have_the_contract_shapes(first_run):
    _, _, summary = first_run
    transform = summary["components"]["Transform"]
    tft_output = tft.TFTransformOutput(transform["outputs"]["transform_graph"][0])
    spec = tft_output.transformed_feature_spec()
    split_dir = os.path.join(transform["outputs"]["transformed_examples"][0], "Split-train")
    files = sorted(glob.glob(os.path.join(split_dir, "*.gz")))
    raw_uri = summary["components"]["AudioExampleGen"]["outputs"]["examples"][0]
    samples_by_id = {
        _bytes(ex, features.ID): len(_bytes(ex, features.AUDIO_PCM16)) // 2
        for ex in _read_examples(os.path.join(raw_uri, "Split-train"))
    }
    mels = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        parsed = tf.io.parse_single_example(record, spec)
        frames = int(parsed[features.MEL_FRAMES])
        mel = tf.sparse.to_dense(parsed[features.MEL]).numpy()
        assert mel.shape == (frames * features.AUDIO.n_mels,)
        samples = samples_by_id[parsed[features.ID].numpy()]
        assert frames == math.ceil(samples / features.AUDIO.hop_length)
        ids = tf.sparse.to_dense(parsed[features.TOKEN_IDS]).numpy().tolist()
        assert ids[-1] == EOS_ID and len(ids) == int(parsed[features.TOKEN_LENGTH])
        assert ids == text_to_ids(parsed[features.TEXT].numpy().decode())
        mels.append(mel.reshape(frames, features.AUDIO.n_mels))
    all_frames = np.concatenate(mels)
    # Normalised with the train split's own statistics: per band mean 0, std 1.
    np.testing.assert_allclose(all_frames.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(all_frames.std(axis=0), 1.0, atol=1e-2)


def test_second_run_on_unchanged_input_is_all_cache_hits(first_run):
    corpus, output, _ = first_run
    result = subprocess.run(
        [CLI, "run", "--data", corpus, "--output", output, "--until", "transform"]
        + ["--eval-fraction", "0.3", "--max-duration-s", str(corpus_factory.MAX_DURATION_S)]
        + ["--max-quarantined-share", str(corpus_factory.MAX_QUARANTINED_SHARE)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.load(open(os.path.join(output, configs.RUN_SUMMARY_FILE)))
    assert {e["status"] for e in summary["components"].values()} == {"cached"}
    assert "cached" in result.stdout


def test_drift_against_a_saved_schema_is_reported_and_blocks_training(first_run, tmp_path):
    _, _, summary = first_run
    saved_schema = str(tmp_path / "schema.pbtxt")
    shutil.copy(summary["components"]["SchemaGen"]["schema_file"], saved_schema)
    assert "audio_pcm16" in open(saved_schema).read()

    drifted = str(tmp_path / "corpus16k")
    build_demo_corpus(drifted, sentences=6, seed=7)
    corpus_factory.resample_corpus_wavs(drifted, 16000)
    output = str(tmp_path / "output")
    with pytest.raises(Exception, match="data anomalies block training"):
        run_pipeline(drifted, output, until="transform", ingest=INGEST, schema_path=saved_schema)
    result = json.load(open(os.path.join(output, configs.RUN_SUMMARY_FILE)))
    validator = result["components"]["ExampleValidator"]
    assert validator["status"] == "complete" and validator["anomaly_count"] > 0
    flagged = {name for split in validator["anomalies"].values() for name in split}
    assert features.SOURCE_SAMPLE_RATE in flagged
    assert result["components"]["AnomalyGate"]["status"] == "failed"
    assert result["components"]["Transform"]["status"] == "not run"
    assert features.SOURCE_SAMPLE_RATE in result["error"]


def test_corpus_without_metadata_fails_before_any_work(tmp_path):
    (tmp_path / "wavs").mkdir()
    with pytest.raises(UnusableCorpusError, match="no metadata.csv"):
        run_pipeline(str(tmp_path), str(tmp_path / "out"))


def test_corpus_without_a_valid_row_fails_and_says_why(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "wavs").mkdir(parents=True)
    (corpus / "metadata.csv").write_text("a|missing audio\nb|also missing\n")
    output = str(tmp_path / "out")
    with pytest.raises(Exception, match="no valid row"):
        run_pipeline(str(corpus), output, until="examplegen")
    summary = json.load(open(os.path.join(output, configs.RUN_SUMMARY_FILE)))
    assert summary["status"] == "failed"
    assert "no valid row" in summary["error"]
    assert summary["components"]["AudioExampleGen"]["status"] == "failed"


def test_a_corpus_behind_a_filesystem_uri_is_ingested(tmp_path):
    """gs://, s3:// and hdfs:// go through TFX's filesystem layer, as TensorFlow's ram:// does:
    the run must not assume a local corpus (a distributed Beam runner cannot read one)."""
    local = tmp_path / "corpus"
    build_demo_corpus(str(local), sentences=6, seed=3)
    uri = f"ram://{tmp_path.name}/corpus"
    for path in local.rglob("*"):
        if path.is_file():
            target = f"{uri}/span-0/{path.relative_to(local)}"
            tf.io.gfile.makedirs(os.path.dirname(target))
            tf.io.gfile.copy(str(path), target)
    summary = run_pipeline(uri, str(tmp_path / "output"), until="examplegen", ingest=INGEST)
    example_gen = summary["components"]["AudioExampleGen"]
    assert example_gen["status"] == "complete"
    assert example_gen["span"] == 0
    assert sum(example_gen["examples"].values()) == 6
    assert example_gen["quarantined"] == 0
    assert summary["data_root"] == uri
