"""TTSEvaluator's work: held-out speech metrics for the candidate (and the blessed baseline),
the report, and a real ModelBlessing that gates the stock Pusher."""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import voice_card_artifacts
from components.tts_evaluator import blessing, report
from models import data, export, features, intelligibility
from models.evaluation import CONTENT_UTTERANCES, evaluate_model, summarize

EVAL_BATCH = 8


def read_voice(model_uri: str) -> dict:
    """The voice description the Trainer exported beside the SavedModel."""
    return export.read_voice_info(path_utils.serving_model_path(model_uri))


def load_keras_model(model_uri: str):
    return export.load_keras_voice(path_utils.serving_model_path(model_uri))


def _eval_dataset(examples: list, transform_graph_uri: str) -> tf.data.Dataset:
    spec = tft.TFTransformOutput(transform_graph_uri).transformed_feature_spec()
    return data.make_dataset(
        data.split_file_patterns(examples, features.EVAL_SPLIT),
        spec,
        EVAL_BATCH,
        shuffle=False,
        repeat=False,
        max_frames=100_000,
        keep_ids=True,
    )


def _evaluate(model_uri: str, dataset, exec_properties, keep_arrays: int, content: bool):
    """Records of one voice; `content` adds the content and recogniser figures (the candidate
    needs them for its gate; the baseline is compared on MCD and mel L1 only)."""
    voice = read_voice(model_uri)
    records = evaluate_model(
        load_keras_model(model_uri),
        dataset,
        np.asarray(voice["mel_mean"]),
        np.asarray(voice["mel_std"]),
        griffin_lim_iterations=exec_properties["griffin_lim_iterations"],
        keep_arrays=keep_arrays,
        max_utterances=exec_properties["max_utterances"] or None,
        content_utterances=CONTENT_UTTERANCES if content else 0,
        # voice.json names no language yet: the demo corpus and LJSpeech are English.
        recognizer=intelligibility.recognizer_for(voice.get("language")) if content else None,
    )
    return voice, records


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        examples = input_dict["examples"]  # one per span of the corpus
        transform_graph = artifact_utils.get_single_instance(input_dict["transform_graph"])
        model_name = exec_properties["model_name"]
        tolerance = float(exec_properties["baseline_tolerance"])
        thresholds = blessing.parse_thresholds(exec_properties.get("thresholds"))
        dataset = _eval_dataset(examples, transform_graph.uri)

        logging.info("TTSEvaluator: evaluating candidate %s", model.uri)
        _, records = _evaluate(
            model.uri, dataset, exec_properties, exec_properties["report_samples"], content=True
        )
        candidate = summarize(records)

        baseline_summary, baseline = None, None
        baselines = input_dict.get("baseline_model") or []
        if baselines and baselines[0].uri != model.uri:
            baseline = baselines[0]
            logging.info("TTSEvaluator: evaluating blessed baseline %s", baseline.uri)
            _, baseline_records = _evaluate(
                baseline.uri, dataset, exec_properties, 0, content=False
            )
            baseline_summary = summarize(baseline_records)

        decision = blessing.decide(candidate, thresholds, baseline_summary, tolerance)
        evaluation = artifact_utils.get_single_instance(output_dict["evaluation"])
        paths = report.write_outputs(
            evaluation.uri,
            model_name,
            candidate,
            baseline_summary,
            decision,
            records,
            thresholds,
        )
        evaluation.set_string_custom_property("report", paths["report"])
        evaluation.set_string_custom_property("metrics", json.dumps(candidate))
        evaluation.set_int_custom_property("blessed", int(decision.blessed))
        evaluation.set_string_custom_property("reasons", json.dumps(decision.reasons))

        verdict = artifact_utils.get_single_instance(output_dict["blessing"])
        self._write_blessing(verdict, decision, model, baseline, model_name)
        # What the voice card of a pushed voice or bundle says about its evaluation and data.
        verdict.set_string_custom_property(
            voice_card_artifacts.METRICS_PROPERTY, json.dumps(candidate)
        )
        verdict.set_string_custom_property(
            voice_card_artifacts.THRESHOLDS_PROPERTY, json.dumps(thresholds, sort_keys=True)
        )
        verdict.set_string_custom_property(
            voice_card_artifacts.CORPUS_PROPERTY,
            json.dumps(voice_card_artifacts.corpus_from_examples(input_dict.get("corpus"))),
        )
        logging.info("TTSEvaluator: %s (%s)", decision.blessed, decision.message())

    @staticmethod
    def _write_blessing(verdict, decision, model, baseline, model_name: str) -> None:
        """The same properties and marker file TFX's Evaluator writes, so the Pusher obeys."""
        name = (
            evaluator_constants.BLESSED_FILE_NAME
            if decision.blessed
            else evaluator_constants.NOT_BLESSED_FILE_NAME
        )
        io_utils.write_string_file(os.path.join(verdict.uri, name), decision.message())
        verdict.set_int_custom_property(
            evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY,
            evaluator_constants.BLESSED_VALUE
            if decision.blessed
            else evaluator_constants.NOT_BLESSED_VALUE,
        )
        verdict.set_string_custom_property(
            evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri
        )
        verdict.set_int_custom_property(
            evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id
        )
        verdict.set_string_custom_property(
            evaluator_constants.ARTIFACT_PROPERTY_BLESSING_MESSAGE_KEY, decision.message()
        )
        verdict.set_string_custom_property("model_name", model_name)
        if baseline is not None:
            verdict.set_string_custom_property(
                evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline.uri
            )
            verdict.set_int_custom_property(
                evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline.id
            )
