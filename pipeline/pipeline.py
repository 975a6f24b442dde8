"""create_pipeline(): the TFX DAG from a corpus to a trained, exported voice."""

from __future__ import annotations

import dataclasses
import os

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components.anomaly_gate.component import AnomalyGate
from components.audio_example_gen.component import AudioExampleGen
from components.speech_schema_gen.component import SpeechSchemaGen
from components.tflite_exporter.component import TFLiteExporter
from components.tts_evaluator.component import LatestBlessedModelOfNameStrategy, TTSEvaluator
from models import features
from models.trainer_config import TrainerConfig
from pipeline import configs


def create_pipeline(
    pipeline_root: str,
    data_root: str,
    metadata_path: str,
    until: str | None = None,
    ingest: configs.IngestConfig | None = None,
    schema_path: str | None = None,
    trainer: dict | None = None,
    train_steps: int = configs.DEFAULT_TRAIN_STEPS,
    allow_anomalies: bool = False,
    evaluation: configs.EvaluationConfig | None = None,
    model_name: str | None = None,
    push_base: str | None = None,
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
    # Neither Transform nor the Trainer takes anomalies: the gate fails the run before them.
    anomaly_gate = AnomalyGate(
        anomalies=example_validator.outputs["anomalies"], allow_anomalies=allow_anomalies
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
    )
    transform.add_upstream_node(anomaly_gate)
    trainer_component = tfx.components.Trainer(
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=configs.EVAL_STEPS),
        custom_config=dataclasses.asdict(TrainerConfig.from_custom_config(trainer)),
    )

    trainer_config = TrainerConfig.from_custom_config(trainer)
    model_name = model_name or trainer_config.model
    evaluation = evaluation or configs.EvaluationConfig()
    # The baseline: the latest model blessed under the same served name, if any.
    baseline = tfx.dsl.Resolver(
        strategy_class=LatestBlessedModelOfNameStrategy,
        config={"model_name": model_name},
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = TTSEvaluator(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        model=trainer_component.outputs["model"],
        baseline_model=baseline.outputs["model"],
        model_name=model_name,
        thresholds=evaluation.thresholds,
        baseline_tolerance=evaluation.baseline_tolerance,
        max_utterances=evaluation.max_utterances,
        report_samples=evaluation.report_samples,
        griffin_lim_iterations=trainer_config.griffin_lim_iterations,
    ).with_id("Evaluator")
    pusher = tfx.components.Pusher(
        model=trainer_component.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=os.path.join(push_base or pipeline_root + "/serving", model_name)
            )
        ),
    )

    # The phone bundle: only a blessed voice, judged on the eval split's sentences.
    tflite_exporter = TFLiteExporter(
        model=trainer_component.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        examples=transform.outputs["transformed_examples"],
    )

    ordered = [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        anomaly_gate,
        transform,
        trainer_component,
        evaluator,
        pusher,
        tflite_exporter,
    ]
    components = ordered[: configs.STAGES.index(last) + 1]
    if evaluator in components:
        components.insert(components.index(evaluator), baseline)
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
