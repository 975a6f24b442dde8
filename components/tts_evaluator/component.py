"""TTSEvaluator: held-out speech metrics, an HTML report, and a ModelBlessing for the Pusher.

Example:

    baseline = Resolver(
        strategy_class=LatestBlessedModelOfNameStrategy,
        config={"model_name": "tacotron2"},
        model=Channel(type=Model),
        model_blessing=Channel(type=ModelBlessing),
        created_before=trainer.outputs["model"],
    ).with_id("latest_blessed_model_resolver")  # components/resolver_strategies.py
    evaluator = TTSEvaluator(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        corpus=example_gen.outputs["examples"],  # optional: the corpus on the voice card
        model_name="tacotron2",
        thresholds={"mcd_db": 12.0, "intelligibility": None},  # over the defaults
    )
    pusher = Pusher(model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
                    push_destination=...)

TFMA's metrics are for classifiers and regressors; speech is judged here on MCD (DTW),
mel L1, length ratio, tacotron2's stopping and alignment, real-time factor, and whether the
speech carries its text: against other sentences (content margin) and through an offline
recogniser (phone error rate, intelligibility), beside the resynthesised reference and chance.
`thresholds` are laid over blessing.DEFAULT_THRESHOLDS; a None switches one off.
"""

from __future__ import annotations

import json

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.tts_evaluator import blessing, executor


class TTSEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        "model_name": ExecutionParameter(type=str),
        "thresholds": ExecutionParameter(type=str),
        "baseline_tolerance": ExecutionParameter(type=float),
        "max_utterances": ExecutionParameter(type=int),
        "report_samples": ExecutionParameter(type=int),
        "griffin_lim_iterations": ExecutionParameter(type=int),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
        "model": ChannelParameter(type=standard_artifacts.Model),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
        # AudioExampleGen's examples, every span: their counts and hours go on the blessing
        # for the voice card (components/voice_card_artifacts.py).
        "corpus": ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class TTSEvaluator(base_component.BaseComponent):
    """Evaluates a trained voice on held-out speech and blesses it, or says why not."""

    SPEC_CLASS = TTSEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        transform_graph: types.BaseChannel,
        model: types.BaseChannel,
        model_name: str,
        baseline_model: types.BaseChannel | None = None,
        corpus: types.BaseChannel | None = None,
        thresholds: dict[str, float | None] | None = None,
        baseline_tolerance: float = 0.05,
        max_utterances: int = 0,
        report_samples: int = 3,
        griffin_lim_iterations: int = 32,
    ):
        spec = TTSEvaluatorSpec(
            examples=examples,
            transform_graph=transform_graph,
            model=model,
            baseline_model=baseline_model,
            corpus=corpus,
            model_name=model_name,
            # Stored merged, so the execution (and its cache key) records the thresholds in force.
            thresholds=json.dumps(blessing.merge_thresholds(thresholds), sort_keys=True),
            baseline_tolerance=float(baseline_tolerance),
            max_utterances=int(max_utterances),
            report_samples=int(report_samples),
            griffin_lim_iterations=int(griffin_lim_iterations),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        )
        super().__init__(spec=spec)
