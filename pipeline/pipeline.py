"""create_pipeline(): the TFX DAG from a corpus to a trained, exported voice."""

from __future__ import annotations

import dataclasses
import os

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components.anomaly_gate.component import AnomalyGate
from components.atomic_pusher.component import AtomicPusher
from components.audio_example_gen.component import AudioExampleGen
from components.resolver_strategies import LatestTrainedModelOfNameStrategy
from components.speech_schema_gen.component import SpeechSchemaGen
from components.tflite_exporter.component import TFLiteExporter
from components.tts_evaluator.component import TTSEvaluator
from models import features
from models.trainer_config import TrainerConfig
from models.voice_card import DEFAULT_LICENCE
from pipeline import configs, resolvers


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
    stock_resolvers_only: bool = False,
    voice_licence: str = DEFAULT_LICENCE,
) -> tfx.dsl.Pipeline:
    """The pipeline through `until` (a stage of configs.STAGES, default: the last).

    With `schema_path`, a saved (curated) schema replaces the inferred one, so drift in the
    new data (sample rate, text length, ...) shows up as ExampleValidator anomalies.

    Incremental data: AudioExampleGen ingests the newest span only; statistics, schema and
    validation judge that new batch; Transform, Trainer and Evaluator read every span.
    `stock_resolvers_only` (Kubeflow V2, whose compiler takes only TFX's own strategies):
    Transform reads the newest span, and model resolution has no "created before" anchor.
    `voice_licence` goes on the voice card of every pushed voice and mobile bundle.
    """
    ingest = ingest or configs.IngestConfig()
    last = configs.resolve_stage(until)

    example_gen = AudioExampleGen(
        input_base=data_root,
        metadata_pattern=ingest.metadata_pattern,
        range_config=_single_span(ingest.span),
        eval_fraction=ingest.eval_fraction,
        min_duration_s=ingest.min_duration_s,
        max_duration_s=ingest.max_duration_s,
        silence_rms_db=ingest.silence_rms_db,
        max_clipped_fraction=ingest.max_clipped_fraction,
        max_quarantined_share=ingest.max_quarantined_share,
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
    resolved_before = {}  # consumer id -> the Resolver nodes that run just before it
    if stock_resolvers_only:
        corpus_examples, analyzer_cache = example_gen.outputs["examples"], None
    else:
        spans = resolvers.corpus_spans(example_gen, after=anomaly_gate)
        corpus_examples = spans.outputs["examples"]
        # Old spans are not analysed again: their analyzer results come from the cache.
        cache = resolvers.transform_cache(corpus_examples)
        analyzer_cache = cache.outputs["cache"]
        resolved_before[resolvers.TRANSFORM_ID] = [spans, cache]
    transform = tfx.components.Transform(
        examples=corpus_examples,
        analyzer_cache=analyzer_cache,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
        stats_options_updater_fn=configs.STATS_OPTIONS_UPDATER_FN,
    )
    transform.add_upstream_node(anomaly_gate)

    trainer_config = TrainerConfig.from_custom_config(trainer)
    model_name = model_name or trainer_config.voice_name or configs.DEFAULT_MODEL_NAME
    if trainer_config.voice_name not in ("", model_name):
        raise ValueError(
            f"voice_name {trainer_config.voice_name!r} differs from the model name {model_name!r}"
        )
    trainer_config = dataclasses.replace(trainer_config, voice_name=model_name)
    base_model = None
    if trainer_config.continue_training:
        # The latest voice trained under this name, blessed or not (not anchored: each
        # continued run goes on from the voice the previous one produced).
        continue_base = _latest_trained_model(model_name, stock_resolvers_only)
        continue_base.add_upstream_node(transform)  # resolved just before the Trainer
        resolved_before["Trainer"] = [continue_base]
        base_model = continue_base.outputs["model"]
    elif trainer_config.warm_start:
        # The voice blessed before this run's data: the one being served.
        warm_start_base = resolvers.blessed_model(
            "warm_start_model_resolver",
            model_name,
            None if stock_resolvers_only else transform.outputs["transformed_examples"],
        )
        resolved_before["Trainer"] = [warm_start_base]
        base_model = warm_start_base.outputs["model"]
    trainer_component = tfx.components.Trainer(
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=base_model,
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=configs.EVAL_STEPS),
        custom_config=dataclasses.asdict(trainer_config),
    )

    evaluation = evaluation or configs.EvaluationConfig()
    # The baseline: the model blessed under the same served name before this candidate.
    baseline = resolvers.blessed_model(
        "latest_blessed_model_resolver",
        model_name,
        None if stock_resolvers_only else trainer_component.outputs["model"],
    )
    resolved_before["Evaluator"] = [baseline]
    evaluator = TTSEvaluator(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        model=trainer_component.outputs["model"],
        baseline_model=baseline.outputs["model"],
        corpus=corpus_examples,  # its size goes on the voice card, through the blessing
        model_name=model_name,
        thresholds=evaluation.thresholds,
        baseline_tolerance=evaluation.baseline_tolerance,
        max_utterances=evaluation.max_utterances,
        report_samples=evaluation.report_samples,
        griffin_lim_iterations=trainer_config.griffin_lim_iterations,
    ).with_id("Evaluator")
    # The stock Pusher's contract; a version directory appears whole (a rename) or not at all,
    # with its voice card (the operator's fields in custom_config).
    card_options = {"licence": voice_licence}
    pusher = AtomicPusher(
        model=trainer_component.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=os.path.join(push_base or pipeline_root + "/serving", model_name)
            )
        ),
        custom_config={"voice_card": card_options},
    ).with_id("Pusher")

    # The phone bundle: only a blessed voice, judged on the eval split's sentences.
    tflite_exporter = TFLiteExporter(
        model=trainer_component.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        examples=transform.outputs["transformed_examples"],
        voice_card=card_options,
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
    for consumer in ordered:
        if consumer in components:
            for resolver in resolved_before.get(consumer.id, []):
                components.insert(components.index(consumer), resolver)
    for node in components:  # an explicit edge to a node `until` cut off would not compile
        for downstream in [n for n in node.downstream_nodes if n not in components]:
            node.remove_downstream_node(downstream)
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path
        ),
        beam_pipeline_args=configs.beam_args_for_tfx(beam_pipeline_args),
    )


def _latest_trained_model(model_name: str, stock_resolvers_only: bool) -> tfx.dsl.Resolver:
    """The newest Model output of this pipeline's Trainer for `model_name`. Kubeflow V2 takes
    TFX's own strategies only: there, the newest of any name (run_fn refuses another family
    or preset)."""
    trained = tfx.dsl.Channel(
        type=tfx.types.standard_artifacts.Model, producer_component_id="Trainer", output_key="model"
    )
    if stock_resolvers_only:
        strategy, config = tfx.dsl.experimental.LatestArtifactStrategy, {}
    else:
        strategy, config = LatestTrainedModelOfNameStrategy, {"model_name": model_name}
    return tfx.dsl.Resolver(strategy_class=strategy, config=config, model=trained).with_id(
        "continue_model_resolver"
    )


def _single_span(span: int | None):
    """A RangeConfig that re-ingests one span; None resolves the newest span."""
    if span is None:
        return None
    return tfx.proto.RangeConfig(
        static_range=tfx.proto.StaticRange(start_span_number=span, end_span_number=span)
    )
