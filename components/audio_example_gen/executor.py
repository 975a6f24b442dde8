"""AudioExampleGen's work: a Beam pipeline from metadata lines to tf.Examples or quarantine.

Beam end to end (reading rows, duplicate detection, decoding, checks), so the same code runs
on DirectRunner here and on Dataflow/Flink/Spark for corpora that outgrow one machine.
"""

from __future__ import annotations

import collections
import json
import os
import re
import time
from typing import Any

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx.components.example_gen import base_example_gen_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.audio_example_gen import audio_io, corpus
from models import features
from models.filesystems import ensure_filesystems
from models.text.normalize import normalize_text

QUARANTINE_FILE = "quarantine.jsonl"
SUMMARY_FILE = "ingest_summary.json"
_QUARANTINE_URI = "_quarantine_uri"  # private exec property: where this run's rejects go
_QUARANTINE_TAG = "quarantine"
_PROGRESS_EVERY_S = 10.0


def metadata_files(input_base: str, pattern: str) -> list[str]:
    ensure_filesystems(input_base)  # the driver's process (a container on Kubeflow) too
    return sorted(fileio.glob(os.path.join(input_base, pattern)))


def audio_fingerprint(input_base: str, input_config_json: str) -> str:
    """Size and mtime of every audio file beside the resolved metadata files."""
    input_config = proto_utils.json_to_proto(input_config_json, example_gen_pb2.Input())
    parts = []
    for split in input_config.splits:
        for metadata_path in metadata_files(input_base, split.pattern):
            audio_glob = os.path.join(os.path.dirname(metadata_path), corpus.AUDIO_DIR, "*")
            parts.append(_fingerprint_files(split.name + ":audio", audio_glob))
    return "\n".join(parts)


def _fingerprint_files(split_name: str, file_pattern: str) -> str:
    """io_utils.generate_fingerprint, except that a file that cannot be stat'ed (a dangling
    symbolic link, a file removed meanwhile) is counted by name instead of failing the run:
    its row is quarantined when it is read."""
    ensure_filesystems(file_pattern)
    files = fileio.glob(file_pattern)
    total_bytes = xor_checksum = sum_checksum = 0
    unreadable = []
    for path in files:
        try:
            stat = fileio.stat(path)
        except (OSError, tf.errors.OpError):
            unreadable.append(os.path.basename(path))
            continue
        total_bytes += stat.length
        mtime = int(stat.mtime_nsec / 1e9)  # seconds, as TFX's own fingerprint
        xor_checksum ^= mtime
        sum_checksum += mtime
    text = (
        f"split:{split_name},num_files:{len(files)},total_bytes:{total_bytes},"
        f"xor_checksum:{xor_checksum},sum_checksum:{sum_checksum}"
    )
    if unreadable:
        text += ",unreadable:" + "|".join(sorted(unreadable))
    return text


def _read_metadata(metadata_path: str):
    ensure_filesystems(metadata_path)  # in the Beam worker that runs this
    with fileio.open(metadata_path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            parsed = corpus.parse_metadata_line(raw, metadata_path, line_number)
            if parsed is None:
                continue
            if isinstance(parsed, dict):
                yield beam.pvalue.TaggedOutput(_QUARANTINE_TAG, parsed)
            else:
                yield parsed


def _first_of_each_id(keyed_rows):
    """Keeps the first occurrence of an id (file, line order); quarantines the others."""
    _, rows = keyed_rows
    rows = sorted(rows, key=lambda row: row.order_key)
    yield rows[0]
    for duplicate in rows[1:]:
        yield beam.pvalue.TaggedOutput(
            _QUARANTINE_TAG,
            duplicate.quarantine(
                "duplicate_id",
                f"id first seen at {rows[0].source}:{rows[0].line_number}",
            ),
        )


def _float_feature(value: float) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def make_example(row: corpus.CorpusRow, pcm16: bytes, desc: audio_io.AudioDescriptors):
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                features.ID: _bytes_feature(row.id.encode("utf-8")),
                features.TEXT: _bytes_feature(row.text.encode("utf-8")),
                features.AUDIO_PCM16: _bytes_feature(pcm16),
                features.DURATION_S: _float_feature(desc.duration_s),
                features.RMS_DB: _float_feature(desc.rms_db),
                features.PEAK: _float_feature(desc.peak),
                features.CLIPPED_FRACTION: _float_feature(desc.clipped_fraction),
                features.SOURCE_SAMPLE_RATE: _int_feature(desc.source_sample_rate),
                features.TEXT_CHARS: _int_feature(len(row.text)),
            }
        )
    )


class _ProgressLog:
    """Periodic 'rows, rate, audio seconds per second' lines from each worker."""

    def __init__(self, label: str):
        self.label = label
        self.start = time.monotonic()
        self.last = self.start
        self.rows = 0
        self.audio_s = 0.0

    def step(self, audio_s: float) -> None:
        self.rows += 1
        self.audio_s += audio_s
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY_S:
            self.last = now
            elapsed = now - self.start
            logging.info(
                "%s: %d rows in %.0f s (%.1f rows/s, %.1f s of audio per s)",
                self.label,
                self.rows,
                elapsed,
                self.rows / elapsed,
                self.audio_s / elapsed,
            )


class _DecodeAndCheck(beam.DoFn):
    """Decodes one row's audio, measures it, and emits a tf.Example or a quarantine record."""

    def __init__(self, limits: audio_io.QualityLimits, sample_rate: int):
        self._limits = limits
        self._sample_rate = sample_rate
        self._progress = None

    def setup(self):
        self._progress = _ProgressLog("AudioExampleGen")

    def process(self, row: corpus.CorpusRow):
        try:
            if not normalize_text(row.text):
                raise ValueError("empty after normalisation")
        except ValueError as error:
            yield self._reject(row, "empty_text", f"text {row.text!r} is {error}")
            return
        ensure_filesystems(row.source)  # in the Beam worker that runs this
        path = corpus.audio_path_for(row.source, row.id, exists=fileio.exists)
        try:
            decoded = audio_io.decode_audio(path, self._limits.max_duration_s)
        except audio_io.AudioDecodeError as error:
            yield self._reject(row, error.reason_code, str(error))
            return
        desc = audio_io.describe(decoded.samples, decoded.sample_rate)
        reason = audio_io.check_quality(desc, self._limits)
        if reason:
            yield self._reject(row, reason, _describe_rejection(reason, desc, self._limits))
            return
        samples = audio_io.resample(decoded.samples, decoded.sample_rate, self._sample_rate)
        beam.metrics.Metrics.counter("AudioExampleGen", "examples").inc()
        self._progress.step(desc.duration_s)
        yield make_example(row, audio_io.to_pcm16_bytes(samples), desc)

    @staticmethod
    def _reject(row: corpus.CorpusRow, reason: str, detail: str):
        beam.metrics.Metrics.counter("AudioExampleGen", "quarantined_" + reason).inc()
        return beam.pvalue.TaggedOutput(_QUARANTINE_TAG, row.quarantine(reason, detail))


def _describe_rejection(reason: str, desc, limits) -> str:
    return {
        "too_short": f"duration {desc.duration_s:.3f} s < {limits.min_duration_s} s",
        "too_long": f"duration {desc.duration_s:.3f} s > {limits.max_duration_s} s",
        "silent": f"rms {desc.rms_db:.1f} dBFS < {limits.silence_rms_db} dBFS",
        "clipped": (
            f"{desc.clipped_fraction:.4%} of samples at full scale > "
            f"{limits.max_clipped_fraction:.4%}"
        ),
    }[reason]


def limits_from(exec_properties: dict[str, Any]) -> audio_io.QualityLimits:
    return audio_io.QualityLimits(
        min_duration_s=exec_properties["min_duration_s"],
        max_duration_s=exec_properties["max_duration_s"],
        silence_rms_db=exec_properties["silence_rms_db"],
        max_clipped_fraction=exec_properties["max_clipped_fraction"],
    )


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _CorpusToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str):
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    paths = metadata_files(input_base, split_pattern)
    rows = (
        pipeline
        | "MetadataFiles" >> beam.Create(paths)
        | "ReadRows" >> beam.FlatMap(_read_metadata).with_outputs(_QUARANTINE_TAG, main="rows")
    )
    unique = (
        rows.rows
        | "KeyById" >> beam.Map(lambda row: (row.id, row))
        | "GroupById" >> beam.GroupByKey()
        | "FirstOfEachId"
        >> beam.FlatMap(_first_of_each_id).with_outputs(_QUARANTINE_TAG, main="rows")
    )
    decoded = (
        unique.rows
        | "Spread" >> beam.Reshuffle()
        | "DecodeAndCheck"
        >> beam.ParDo(
            _DecodeAndCheck(limits_from(exec_properties), features.AUDIO.sample_rate)
        ).with_outputs(_QUARANTINE_TAG, main="examples")
    )
    _ = (
        (rows[_QUARANTINE_TAG], unique[_QUARANTINE_TAG], decoded[_QUARANTINE_TAG])
        | "AllRejects" >> beam.Flatten()
        | "ToJson" >> beam.Map(lambda record: json.dumps(record, ensure_ascii=False))
        | "WriteQuarantine"
        >> beam.io.WriteToText(
            os.path.join(exec_properties[_QUARANTINE_URI], "part"),
            file_name_suffix=".jsonl",
            num_shards=1,
        )
    )
    return decoded.examples


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Runs the corpus pipeline, then writes the quarantine file and the ingest summary."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CorpusToExample

    def GenerateExamplesByBeam(self, pipeline, exec_properties):
        splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
        for name, examples in splits.items():
            _ = (
                examples
                | f"Count[{name}]" >> beam.Map(_count_and_duration)
                | f"Sum[{name}]" >> beam.CombineGlobally(_sum_pairs)
                | f"Json[{name}]" >> beam.Map(_totals_json)
                | f"WriteCount[{name}]"
                >> beam.io.WriteToText(
                    os.path.join(exec_properties[_QUARANTINE_URI], f"split-{name}"),
                    file_name_suffix=".json",
                    num_shards=1,
                    shard_name_template="",
                )
            )
        return splits

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        input_config = proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], example_gen_pb2.Input()
        )
        for split in input_config.splits:
            if not metadata_files(input_base, split.pattern):
                raise FileNotFoundError(
                    f"unusable corpus: no {split.pattern!r} under {input_base!r}; a corpus is a "
                    "directory with metadata.csv (id|text|normalized_text) and wavs/<id>.wav"
                )
        quarantine = artifact_utils.get_single_instance(output_dict["quarantine"])
        exec_properties = dict(exec_properties, **{_QUARANTINE_URI: quarantine.uri})
        super().Do(input_dict, output_dict, exec_properties)

        summary = _finish_quarantine(quarantine.uri)
        examples = artifact_utils.get_single_instance(output_dict["examples"])
        for name in artifact_utils.decode_split_names(examples.split_names):
            summary["splits"][name] = _read_split_totals(quarantine.uri, name)
        io_utils.write_string_file(
            os.path.join(quarantine.uri, SUMMARY_FILE), json.dumps(summary, indent=2)
        )
        quarantine.set_int_custom_property("total", summary["quarantined"])
        quarantine.set_string_custom_property(
            "reason_counts", json.dumps(summary["quarantined_by_reason"], sort_keys=True)
        )
        examples.set_string_custom_property("input_base", input_base)  # the voice card's corpus
        for name, totals in summary["splits"].items():
            examples.set_int_custom_property(f"num_examples_{name}", totals["examples"])
            examples.set_float_custom_property(f"audio_seconds_{name}", totals["audio_s"])
        accepted = sum(t["examples"] for t in summary["splits"].values())
        share = summary["quarantined"] / max(1, summary["quarantined"] + accepted)
        quarantine.set_float_custom_property("share", round(share, 4))
        kept = archive_quarantine(quarantine.uri, self._run_name(quarantine.uri))
        quarantine.set_string_custom_property("archive", kept)
        logging.info(
            "AudioExampleGen: %d examples, %d quarantined (%.1f%%) %s; quarantine kept at %s",
            accepted,
            summary["quarantined"],
            100 * share,
            summary["quarantined_by_reason"],
            kept,
        )
        if accepted == 0:
            raise ValueError(
                f"unusable corpus {input_base!r}: no valid row; quarantined "
                f"{summary['quarantined']} rows by reason {summary['quarantined_by_reason']} "
                f"(details in {kept})"
            )
        ceiling = exec_properties.get("max_quarantined_share")
        if ceiling is not None and share > ceiling:
            raise QuarantineShareError(
                f"corpus {input_base!r}: {share:.1%} of the rows quarantined "
                f"({summary['quarantined']} of {summary['quarantined'] + accepted}), above the "
                f"ceiling of {ceiling:.1%}; by reason {summary['quarantined_by_reason']}; "
                f"details in {kept}. Fix the corpus, or raise --max-quarantined-share"
            )

    def _run_name(self, quarantine_uri: str) -> str:
        """This pipeline run's id (a file name), else the execution's output directory name."""
        run_id = getattr(self._context, "pipeline_run_id", None) if self._context else None
        name = run_id or os.path.basename(quarantine_uri.rstrip("/"))
        return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


class QuarantineShareError(ValueError):
    """Too much of the corpus was quarantined for what is left to be trusted."""


def archive_dir(quarantine_uri: str) -> str:
    """<pipeline root>/quarantine: outside every execution's output directory, which TFX
    deletes when the execution fails (the artifact is <root>/<node>/quarantine/<id>)."""
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(quarantine_uri))), "quarantine"
    )


def archive_quarantine(quarantine_uri: str, run_name: str) -> str:
    """Copies quarantine.jsonl to archive_dir()/<run>.jsonl; returns the copy's path."""
    directory = archive_dir(quarantine_uri)
    fileio.makedirs(directory)
    kept = os.path.join(directory, f"{run_name}.jsonl")
    fileio.copy(os.path.join(quarantine_uri, QUARANTINE_FILE), kept, overwrite=True)
    return kept


def _count_and_duration(example: tf.train.Example) -> tuple[int, float]:
    return 1, example.features.feature[features.DURATION_S].float_list.value[0]


def _totals_json(totals: tuple[int, float]) -> str:
    return json.dumps({"examples": totals[0], "audio_s": totals[1]})


def _sum_pairs(pairs) -> tuple[int, float]:
    count, seconds = 0, 0.0
    for c, s in pairs:
        count += c
        seconds += s
    return count, seconds


def _read_split_totals(uri: str, split: str) -> dict:
    path = os.path.join(uri, f"split-{split}.json")
    if not fileio.exists(path):
        return {"examples": 0, "audio_s": 0.0}
    totals = json.loads(io_utils.read_string_file(path))
    fileio.remove(path)
    return {"examples": int(totals["examples"]), "audio_s": round(float(totals["audio_s"]), 3)}


def _finish_quarantine(uri: str) -> dict:
    """Merges Beam's shard into one quarantine.jsonl in corpus order; counts per reason."""
    records = []
    for shard in sorted(fileio.glob(os.path.join(uri, "part*.jsonl"))):
        with fileio.open(shard, "r") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
        fileio.remove(shard)
    records.sort(key=lambda r: (r["source"], r["line_number"]))
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    with fileio.open(os.path.join(uri, QUARANTINE_FILE), "w") as handle:
        handle.write(lines)  # one write, even of nothing: GFile creates no file unwritten
    counts = collections.Counter(record["reason"] for record in records)
    return {
        "quarantined": len(records),
        "quarantined_by_reason": dict(sorted(counts.items())),
        "splits": {},
    }
