"""create_pipeline(): the TFX DAG from a corpus to transformed speech features."""

from __future__ import annotations

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components.audio_example_gen.component import AudioExampleGen
from components.speech_schema_gen.component import SpeechSchemaGen
from models import features
from pipeline import configs


def create_pipeline(
    pipeline_root: str,
    data_root: str,
    metadata_path: str,
    until: str | None = None,
    ingest: configs.IngestConfig | None = None,
    schema_path: str | None = None,
    beam_pipeline_args: list[str] | None = None,
    enable_cache: bool = True,
    pipeline_name: str = configs.PIPELINE_NAME,
) -> tfx.dsl.Pipeline:
    """The pipeline through `until` (a stage of configs.STAGES, default: the last).

    With `schema_path`, a saved (curated) schema replaces the inferred one, so drift in the
    new data (sample rate, text length, ...) shows up as ExampleValidator anomalies.
    """
    ingest = ingest or configs.IngestConfig()
    last = configs.resolve_stage(until)

    example_gen = AudioExampleGen(
        input_base=data_root,
        eval_fraction=ingest.eval_fraction,
        min_duration_s=ingest.min_duration_s,
        max_duration_s=ingest.max_duration_s,
        silence_rms_db=ingest.silence_rms_db,
        max_clipped_fraction=ingest.max_clipped_fraction,
    )
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"],
        stats_options=tfdv.StatsOptions(feature_allowlist=list(features.STATISTICS_FEATURES)),
    )
    if schema_path:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    else:
        schema_gen = SpeechSchemaGen(statistics=statistics_gen.outputs["statistics"])
    schema_gen = schema_gen.with_id("SchemaGen")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
    )

    ordered = [example_gen, statistics_gen, schema_gen, example_validator, transform]
    components = ordered[: configs.STAGES.index(last) + 1]
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path
        ),
        beam_pipeline_args=list(beam_pipeline_args or configs.DEFAULT_BEAM_ARGS),
    )
