"""The inferred speech schema pins domains over every split of the batch, not train alone."""

from __future__ import annotations

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.speech_schema_gen.executor import complete_speech_schema
from models import features


def _stats(text_chars: tuple[int, int], rate: tuple[int, int]):
    stats = statistics_pb2.DatasetFeatureStatistics()
    for name, (low, high) in (
        (features.TEXT_CHARS, text_chars),
        (features.SOURCE_SAMPLE_RATE, rate),
    ):
        feature = stats.features.add()
        feature.path.step.append(name)
        feature.num_stats.min, feature.num_stats.max = low, high
    return stats


def test_domains_cover_train_and_eval_and_audio_is_declared():
    schema = schema_pb2.Schema()
    for name in (features.TEXT_CHARS, features.SOURCE_SAMPLE_RATE):
        schema.feature.add(name=name, type=schema_pb2.INT)
    train, eval_ = _stats((12, 70), (22050, 22050)), _stats((30, 81), (16000, 22050))
    completed = complete_speech_schema(schema, train, eval_)
    text = tfdv.get_feature(completed, features.TEXT_CHARS).int_domain
    assert (text.min, text.max) == (1, 81)  # the floor is 1 character, whatever was seen
    rate = tfdv.get_feature(completed, features.SOURCE_SAMPLE_RATE).int_domain
    assert (rate.min, rate.max) == (16000, 22050)
    assert tfdv.get_feature(completed, features.AUDIO_PCM16).type == schema_pb2.BYTES


def _statistics_artifact(root, split_stats: dict):
    """A Statistics artifact on disk, as StatisticsGen writes it (FeatureStats.pb per split)."""
    from tfx.types import artifact_utils, standard_artifacts

    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(list(split_stats))
    for split, stats in split_stats.items():
        directory = root / f"Split-{split}"
        directory.mkdir(parents=True)
        listing = statistics_pb2.DatasetFeatureStatisticsList(datasets=[stats])
        (directory / "FeatureStats.pb").write_bytes(listing.SerializeToString())
    return artifact


def test_an_empty_split_of_a_small_span_does_not_deprecate_every_feature(tmp_path):
    import pandas as pd
    from tfx.types import standard_artifacts

    from components.speech_schema_gen.executor import SCHEMA_FILE, Executor

    frame = pd.DataFrame(
        {
            features.ID: ["a", "b", "c"],
            features.TEXT: ["one", "two words", "three more words"],
            features.TEXT_CHARS: [3, 9, 16],
            features.SOURCE_SAMPLE_RATE: [22050, 22050, 22050],
        }
    )
    train = tfdv.generate_statistics_from_dataframe(frame).datasets[0]
    empty_eval = statistics_pb2.DatasetFeatureStatistics(num_examples=0)
    statistics = _statistics_artifact(tmp_path / "stats", {"train": train, "eval": empty_eval})
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    (tmp_path / "schema").mkdir()

    Executor().Do(
        {"statistics": [statistics]},
        {"schema": [schema]},
        {"infer_feature_shape": 1, "exclude_splits": "[]"},
    )
    inferred = tfdv.load_schema_text(str(tmp_path / "schema" / SCHEMA_FILE))
    deprecated = [
        f.name
        for f in inferred.feature
        if f.lifecycle_stage == schema_pb2.LifecycleStage.DEPRECATED
    ]
    assert deprecated == []
    assert {features.ID, features.TEXT, features.AUDIO_PCM16} <= {f.name for f in inferred.feature}
    assert tfdv.get_feature(inferred, features.TEXT_CHARS).int_domain.max == 16
