"""SpeechSchemaGen's work: TFDV's inferred schema, completed for speech.

Statistics leave the PCM bytes out (DESIGN.md), so inference alone would give Transform a
schema without audio. We add it back as a variable-length feature with no presence rule
(a column that statistics never see must not read as "dropped"), and pin the observed
ranges of the descriptors whose drift matters: source sample rate and text length.
"""

from __future__ import annotations

import json
import os

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils, standard_component_specs

from models import features

SCHEMA_FILE = schema_gen_executor.DEFAULT_FILE_NAME
EXCLUDE_SPLITS_KEY = standard_component_specs.EXCLUDE_SPLITS_KEY


def _stat_range(dataset_stats, name: str) -> tuple[float, float] | None:
    for feature in dataset_stats.features:
        if feature.path.step == [name] or feature.name == name:
            return feature.num_stats.min, feature.num_stats.max
    return None


def complete_speech_schema(schema: schema_pb2.Schema, *split_stats) -> schema_pb2.Schema:
    """Adds the audio feature and the sample-rate and text-length domains observed over all
    splits (a domain from train alone would flag a longer eval sentence of the same batch)."""
    if not any(feature.name == features.AUDIO_PCM16 for feature in schema.feature):
        audio = schema.feature.add(name=features.AUDIO_PCM16, type=schema_pb2.BYTES)
        audio.annotation.comment.append(
            "mono little-endian PCM16 at 22,050 Hz; excluded from statistics on purpose"
        )
    for name, floor in ((features.SOURCE_SAMPLE_RATE, None), (features.TEXT_CHARS, 1)):
        ranges = [r for r in (_stat_range(stats, name) for stats in split_stats) if r]
        if not ranges:
            continue
        feature = tfdv.get_feature(schema, name)
        feature.int_domain.min = int(floor if floor is not None else min(r[0] for r in ranges))
        feature.int_domain.max = int(max(r[1] for r in ranges))
    return schema


class Executor(schema_gen_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        statistics = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.STATISTICS_KEY]
        )
        split_stats = {
            split: stats_artifact_utils.load_statistics(statistics, split).proto().datasets[0]
            for split in artifact_utils.decode_split_names(statistics.split_names)
        }
        # A small new span can leave a split empty (ids hash to train/eval). Its statistics
        # carry no evidence, and inferring from them would mark every feature DEPRECATED,
        # which drops them from Transform's input.
        empty = sorted(split for split, stats in split_stats.items() if stats.num_examples == 0)
        excluded = json.loads(exec_properties.get(EXCLUDE_SPLITS_KEY) or "null") or []
        exec_properties = dict(
            exec_properties, **{EXCLUDE_SPLITS_KEY: json.dumps(sorted({*excluded, *empty}))}
        )
        super().Do(input_dict, output_dict, exec_properties)
        schema_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.SCHEMA_KEY])
        schema_path = os.path.join(schema_uri, SCHEMA_FILE)
        schema = tfdv.load_schema_text(schema_path)
        observed = [stats for split, stats in split_stats.items() if split not in empty]
        tfdv.write_schema_text(complete_speech_schema(schema, *observed), schema_path)
