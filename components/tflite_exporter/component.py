"""TFLiteExporter: the trained voice as builtin-ops-only LiteRT models and a mobile bundle.

Example:

    tflite_exporter = TFLiteExporter(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],  # optional: export only blessed models
        examples=transform.outputs["transformed_examples"],  # optional: eval-split sentences
    )

Exports the acoustic model (token ids -> mel) and the Griffin-Lim vocoder (mel -> audio) in
the variants `quantize` lists (default all three: "none" float32, "float16", "dynamic"
dynamic-range int8; "all" for every one), checks each against the SavedModel (mel L1, MCD,
lengths, audio SNR) and times it under LiteRT with 1 and 2 threads. The first passing variant
of `bundle_preference` becomes the bundle; failed variants are reported, never shipped. An
unknown variant name is refused when the pipeline is built, with the list of choices; the
component logs one line per variant as it finishes, with its elapsed time. The bundle carries
a voice card (voice_card.json, VOICE_CARD.md) from the blessing and `voice_card` ({"licence"}).
`griffin_lim_iterations` gives the phone's vocoder fewer rounds than the voice serves (cost is
linear in them; benchmarks/vocoder_rounds.py measures what they buy); absent, the voice's own.
"""

from __future__ import annotations

import json

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.artifacts import TFLiteBundle
from components.tflite_exporter import executor
from models.tflite import DEFAULT_MAX_TOKENS
from models.tflite.export import _quantize_list
from models.tflite.source import checked_rounds


class TFLiteExporterSpec(ComponentSpec):
    PARAMETERS = {
        "quantize": ExecutionParameter(type=str),  # JSON list of none / float16 / dynamic
        "bundle_preference": ExecutionParameter(type=str),  # JSON list, first passing ships
        "max_tokens": ExecutionParameter(type=int),
        "max_sentences": ExecutionParameter(type=int),
        # JSON {"licence": ...}: the operator's fields of the bundle's voice card.
        "voice_card": ExecutionParameter(type=str, optional=True),
        # The phone's vocoder rounds; absent: the voice's own.
        "griffin_lim_iterations": ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "model_blessing": ChannelParameter(type=standard_artifacts.ModelBlessing, optional=True),
        "examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {"tflite_bundle": ChannelParameter(type=TFLiteBundle)}


class TFLiteExporter(base_component.BaseComponent):
    """Exports a trained voice for phones (LiteRT, no Flex) with a parity report."""

    SPEC_CLASS = TFLiteExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel | None = None,
        examples: types.BaseChannel | None = None,
        quantize: str | tuple[str, ...] = ("none", "float16", "dynamic"),
        bundle_preference: str | tuple[str, ...] = ("float16", "none"),
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_sentences: int = executor.DEFAULT_MAX_SENTENCES,
        voice_card: dict | None = None,
        griffin_lim_iterations: int | None = None,
    ):
        spec = TFLiteExporterSpec(
            model=model,
            model_blessing=model_blessing,
            examples=examples,
            quantize=json.dumps(_quantize_list(quantize)),
            bundle_preference=json.dumps(_quantize_list(bundle_preference)),
            max_tokens=int(max_tokens),
            max_sentences=int(max_sentences),
            voice_card=json.dumps(voice_card or {}, sort_keys=True),
            griffin_lim_iterations=(
                None if griffin_lim_iterations is None else checked_rounds(griffin_lim_iterations)
            ),
            tflite_bundle=types.Channel(type=TFLiteBundle),
        )
        super().__init__(spec=spec)
