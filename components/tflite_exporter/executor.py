"""TFLiteExporter's work: gate on the blessing, pick eval sentences, run export_tflite, and
record what shipped (or why nothing did) on the output artifact."""

from __future__ import annotations

import json
import os

import tensorflow as tf
from absl import logging
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import voice_card_artifacts
from models import data, features, voice_card
from models.tflite.export import REPORT_FILE, export_tflite

DEFAULT_MAX_SENTENCES = 8
NOT_EXPORTED_FILE = "NOT_EXPORTED"


def is_blessed(blessing) -> bool:
    """The stock Pusher's test: the blessing's `blessed` property is 1."""
    key = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
    return (
        blessing.has_custom_property(key)
        and blessing.get_int_custom_property(key) == evaluator_constants.BLESSED_VALUE
    )


def eval_sentences(examples, limit: int) -> list[str]:
    """Up to `limit` texts of the eval split (raw or transformed examples both carry `text`)."""
    if not examples or limit <= 0:
        return []
    patterns = data.split_file_patterns(examples, features.EVAL_SPLIT)
    files = sorted(path for pattern in patterns for path in tf.io.gfile.glob(pattern))
    texts = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit):
        example = tf.train.Example.FromString(record.numpy())
        values = example.features.feature[features.TEXT].bytes_list.value
        if values and values[0].strip():
            texts.append(values[0].decode("utf-8"))
    return texts


def variant_summaries(report: dict) -> dict:
    """Per variant, the figures run_summary.json shows."""
    summaries = {}
    for name, entry in report["variants"].items():
        files = entry.get("files", {})
        speeds = {s["threads"]: s["rtf"] for s in entry.get("speed") or [] if s}
        summaries[name] = {
            "status": entry["status"],
            "elapsed_s": entry.get("elapsed_s"),
            "acoustic_bytes": files.get("acoustic", {}).get("bytes"),
            "vocoder_bytes": files.get("vocoder", {}).get("bytes"),
            **{k: v for k, v in (entry.get("parity", {}).get("worst") or {}).items()},
            **{f"rtf_{t}_threads": rtf for t, rtf in speeds.items()},
            "reasons": entry["reasons"],
        }
    return summaries


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        output = artifact_utils.get_single_instance(output_dict["tflite_bundle"])
        blessings = input_dict.get("model_blessing") or []
        if blessings and not is_blessed(blessings[0]):
            message = (
                f"model {model.uri} is not blessed by {blessings[0].uri}: no TFLite export "
                "(the phone bundle follows the same gate as the Pusher)"
            )
            logging.warning("TFLiteExporter: %s", message)
            io_utils.write_string_file(os.path.join(output.uri, NOT_EXPORTED_FILE), message)
            output.set_string_custom_property("status", "not_blessed")
            output.set_int_custom_property("shipped", 0)
            output.set_string_custom_property("message", message)
            return

        sentences = eval_sentences(
            input_dict.get("examples"), int(exec_properties.get("max_sentences") or 0)
        )
        logging.info(
            "TFLiteExporter: %s with %s eval sentences",
            model.uri,
            len(sentences) or "the built-in",
        )
        report = export_tflite(
            path_utils.serving_model_path(model.uri),
            output.uri,
            quantize=json.loads(exec_properties["quantize"]),
            max_tokens=int(exec_properties["max_tokens"]),
            sentences=sentences or None,
            bundle_preference=json.loads(exec_properties["bundle_preference"]),
            griffin_lim_iterations=exec_properties.get("griffin_lim_iterations"),
        )
        shipped = report["bundle"]
        output.set_string_custom_property(
            "status", "exported" if shipped["shipped"] else "no_variant_passed"
        )
        output.set_int_custom_property("shipped", int(shipped["shipped"]))
        output.set_string_custom_property("bundle_variant", shipped["variant"] or "")
        output.set_string_custom_property("bundle_dir", shipped["path"] or "")
        output.set_string_custom_property("report", os.path.join(output.uri, REPORT_FILE))
        output.set_string_custom_property("variants", json.dumps(variant_summaries(report)))
        if not shipped["shipped"]:
            output.set_string_custom_property("message", shipped["reason"])
            logging.error("TFLiteExporter: nothing shipped: %s", shipped["reason"])
            return
        blessing = blessings[0] if blessings else None
        card = voice_card_artifacts.card_for_model(
            path_utils.serving_model_path(model.uri),
            blessing,
            name=voice_card_artifacts.model_name_of(blessing),
            version=None,  # a bundle is not a served version; source_model names its voice
            options=json.loads(exec_properties.get("voice_card") or "{}"),
            source_model=model.uri,
            artifact=voice_card.TFLITE_BUNDLE,
            extra={"tflite_variant": shipped["variant"]},
        )
        voice_card.write_card(shipped["path"], card)
