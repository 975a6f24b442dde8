"""export_tflite(): a SavedModel voice -> builtin-ops TFLite variants, each a complete mobile
bundle with its parity report; the best passing variant becomes `<out>/bundle`."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence

from absl import logging

from models import voice_card
from models.features import AudioConfig
from models.tflite import DEFAULT_MAX_TOKENS, bundle, convert, parity
from models.tflite.acoustic import MEL, MEL_LENGTH, acoustic_function
from models.tflite.source import SourceModel, load_source
from models.tflite.vocoder import AUDIO_LENGTH_OUTPUT, AUDIO_OUTPUT, vocoder_function

REPORT_FILE = "report.json"
REPORT_MARKDOWN = "report.md"
BUNDLE_DIR = "bundle"
VARIANTS_DIR = "variants"
BUNDLE_FORMAT = 1


def variant_choices() -> str:
    """The selectable variants, for messages and help: "none (float32), float16 (...)"."""
    return ", ".join(f"{q} ({name})" for q, name in convert.VARIANTS.items())


def _quantize_list(quantize: str | Sequence[str]) -> list[str]:
    names = (
        list(convert.VARIANTS)
        if quantize == "all"
        else ([quantize] if isinstance(quantize, str) else list(quantize))
    )
    unknown = [q for q in names if q not in convert.VARIANTS]
    if unknown or not names:
        raise ValueError(
            f"unknown quantize {unknown or names}; choose from {variant_choices()} or all"
        )
    return list(dict.fromkeys(names))


def _tensor_rows(details: list[dict], names: list[str]) -> list[dict]:
    return [
        {
            "index": position,
            "name": name,
            "tensor_name": d["name"],
            "dtype": d["dtype"].__name__,
            "shape": [int(s) for s in d["shape"]],
        }
        for position, (d, name) in enumerate(zip(details, names, strict=True))
    ]


def _output_names(details: list[dict], float_name: str, int_name: str) -> list[str]:
    """Outputs lose their names in conversion; the float one is the mel/audio, the int one its
    length (so the order the converter chose is read back, not assumed)."""
    names = [float_name if d["dtype"].__name__.startswith("float") else int_name for d in details]
    if sorted(names) != sorted([float_name, int_name]):
        raise convert.ConversionError(f"unexpected outputs {[d['name'] for d in details]}")
    return names


def tensor_contract(acoustic: bytes, vocoder: bytes) -> dict:
    """Inputs/outputs of both models in interpreter order (the indices apps use)."""
    from ai_edge_litert.interpreter import Interpreter

    contract = {}
    for key, model, out_names in (
        ("acoustic", acoustic, (MEL, MEL_LENGTH)),
        ("vocoder", vocoder, (AUDIO_OUTPUT, AUDIO_LENGTH_OUTPUT)),
    ):
        interpreter = Interpreter(model_content=model)
        inputs = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
        contract[key] = {
            "file": bundle.ACOUSTIC_FILE if key == "acoustic" else bundle.VOCODER_FILE,
            "bytes": len(model),
            "inputs": _tensor_rows(inputs, [d["name"] for d in inputs]),
            "outputs": _tensor_rows(outputs, _output_names(outputs, *out_names)),
            "ops": convert.operator_counts(model),
        }
    return contract


def _read_asset(source: SourceModel, name: str) -> str:
    with open(source.asset(name), encoding="utf-8") as handle:
        return handle.read()


def bundle_config(source: SourceModel, variant: str, max_tokens: int, contract: dict, noise):
    """bundle.json: what an app needs besides the two models."""
    audio = AudioConfig.from_json(_read_asset(source, "audio_config.json"))
    symbols = json.loads(_read_asset(source, "symbols.json"))
    return {
        "format": BUNDLE_FORMAT,
        "family": source.family,
        "preset": source.voice.get("preset"),
        "variant": variant,
        "sample_rate": audio.sample_rate,
        "hop_length": audio.hop_length,
        "n_mels": audio.n_mels,
        "max_tokens": max_tokens,
        "max_frames": source.max_frames,
        "griffin_lim_iterations": source.griffin_lim_iterations,
        "griffin_lim_momentum": source.griffin_lim_momentum,
        "prenet_noise": noise.to_json() if noise else None,
        "text": {
            "pad_id": symbols["pad_id"],
            "eos_id": symbols["eos_id"],
            "symbols_version": symbols["version"],
            "rules_version": bundle.rules.RULES_VERSION,
            "long_text": "split at sentence ends (. ! ? ;) into groups of at most max_tokens; "
            "a sentence over max_tokens is an error",
        },
        **contract,
        "source": {"saved_model_dir": os.path.abspath(source.saved_model_dir)},
    }


def _variant_markdown(name: str, entry: dict) -> str:
    files = entry.get("files", {})
    size = "/".join(f"{files[k]['bytes'] / 1e6:.2f}" for k in ("acoustic", "vocoder") if k in files)
    worst = entry.get("parity", {}).get("worst", {})
    speeds = {s["threads"]: s for s in entry.get("speed", []) if s}
    rtf = " / ".join(str(speeds[t]["rtf"]) for t in sorted(speeds)) or "-"
    return (
        f"| {name} | {entry['status']} | {size or '-'} | {worst.get('mel_l1', '-')} | "
        f"{worst.get('mcd_db', '-')} | {worst.get('length_frames', '-')} | "
        f"{worst.get('vocoder_snr_db', '-')} | {worst.get('audio_snr_db', '-')} | {rtf} | "
        f"{'; '.join(entry.get('reasons', [])) or '-'} |"
    )


def _bundle_line(shipped: dict) -> str:
    if not shipped["shipped"]:
        return f"Bundle: **not written**: {shipped['reason']}."
    skipped = f" (failed first: {', '.join(shipped['skipped'])})" if shipped["skipped"] else ""
    return f"Bundle: {shipped['variant']}{skipped} -> `{shipped['path']}`."


def write_report(out_dir: str, report: dict) -> None:
    """report.json (everything) and report.md (one row per variant)."""
    with open(os.path.join(out_dir, REPORT_FILE), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    source = report["source"]
    lines = [
        f"# TFLite export: {source['family']}/{source['preset']}",
        "",
        f"SavedModel `{source['saved_model_dir']}`; max {report['max_tokens']} tokens, "
        f"{source['max_frames']} frames; {len(report['sentences'])} eval sentences. Worst "
        "sentence per column; sizes in MB (acoustic/vocoder); RTF with 1 / 2 threads.",
        "",
        "| variant | status | MB | mel L1 | MCD dB | length diff | vocoder SNR dB | "
        "audio SNR dB | RTF | reasons |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(_variant_markdown(n, e) for n, e in report["variants"].items()),
        "",
        _bundle_line(report["bundle"]),
        "",
    ]
    with open(os.path.join(out_dir, REPORT_MARKDOWN), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def export_variant(
    source: SourceModel,
    quantize: str,
    functions: tuple,
    max_tokens: int,
    variant_dir: str,
    references: list,
    threads: Sequence[int],
    tolerance: parity.Tolerance,
    timing_repeats: int = 1,
) -> dict:
    """Converts, writes the variant's bundle, measures parity and speed; never raises for a
    variant that fails (its entry says failed, and why)."""
    acoustic_fn, noise, vocoder_fn = functions
    name = convert.VARIANTS[quantize]
    entry: dict = {"quantize": quantize, "status": "failed", "reasons": []}
    started = time.monotonic()
    try:
        acoustic = convert.convert(acoustic_fn, quantize)
        vocoder = convert.convert(vocoder_fn, quantize)
        contract = tensor_contract(acoustic, vocoder)
    except convert.ConversionError as error:
        entry["reasons"].append(f"conversion: {error}")
        logging.error("TFLite %s: conversion failed: %s", name, error)
        return entry
    entry["convert_s"] = round(time.monotonic() - started, 2)
    entry["files"] = {
        key: {
            "path": os.path.join(variant_dir, contract[key]["file"]),
            "bytes": contract[key]["bytes"],
            "ops": contract[key]["ops"],
        }
        for key in ("acoustic", "vocoder")
    }
    config = bundle_config(source, name, max_tokens, contract, noise)
    bundle.write_bundle(
        variant_dir,
        acoustic,
        vocoder,
        config,
        source.asset("symbols.json"),
        source.asset("audio_config.json"),
    )
    try:
        runner = bundle.load_runner()
        voice = runner.Voice(variant_dir, num_threads=1, seed=0)
        rows = parity.compare(voice, references, config["hop_length"])
        worst, reasons = parity.judge(rows, tolerance)
        entry["parity"] = {"worst": worst, "sentences": rows}
        entry["reasons"] += reasons
        entry["speed"] = [
            parity.speed(runner, variant_dir, references, t, config["sample_rate"], timing_repeats)
            for t in threads
        ]
    except Exception as error:  # an interpreter that cannot run is a failed variant
        entry["reasons"].append(f"runtime: {type(error).__name__}: {error}")
        logging.exception("TFLite %s: running the variant failed", name)
    entry["status"] = "failed" if entry["reasons"] else "passed"
    summary = ", ".join(f"{k} {v}" for k, v in (entry.get("parity", {}).get("worst") or {}).items())
    config["parity"] = {
        "status": entry["status"],
        "summary": summary,
        "reasons": entry["reasons"],
        "tolerance": {k: _json_number(v) for k, v in dataclasses.asdict(tolerance).items()},
    }
    bundle.write_config(variant_dir, config)
    logging.info("TFLite %s: %s %s", name, entry["status"], "; ".join(entry["reasons"]) or summary)
    return entry


def export_tflite(
    model_dir: str,
    out_dir: str,
    quantize: str | Sequence[str] = "none",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    sentences: Sequence[str] | None = None,
    bundle_preference: Sequence[str] | None = None,
    threads: Sequence[int] = (1, 2),
    tolerances: dict[str, parity.Tolerance] | None = None,
    timing_repeats: int = 1,
    progress: Callable[[str], None] | None = None,
    griffin_lim_iterations: int | None = None,
) -> dict:
    """Exports the SavedModel voice at model_dir to out_dir and returns the report.

    quantize: "none" (float32), "float16", "dynamic" (dynamic-range int8), a list of them or
    "all". Every variant is written to out_dir/variants/<variant>/ as a complete bundle and
    judged against the SavedModel (parity.TOLERANCES); the first passing variant in
    bundle_preference (default: the order of quantize) is copied to out_dir/bundle. A failing
    variant is reported as failed and never copied there.

    griffin_lim_iterations: the vocoder rounds the phone runs (default: the voice's own).
    Fewer rounds cost proportionally less vocoder time; the parity references are then the
    SavedModel's mel vocoded with the same rounds, so parity still compares like with like.

    progress gets one line per variant as it finishes ("TFLite 2/3 float16: passed in 41.2 s
    ..."), and one for the shared preparation; by default the lines are logged.
    """
    report_line = progress or (lambda line: logging.info("%s", line))
    started = time.monotonic()
    quantizes = _quantize_list(quantize)
    preference = _quantize_list(bundle_preference) if bundle_preference else quantizes
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2, got {max_tokens}")
    tolerances = {**parity.TOLERANCES, **(tolerances or {})}
    sentences = list(sentences or parity.EVAL_SENTENCES)
    os.makedirs(out_dir, exist_ok=True)
    source = load_source(model_dir).with_griffin_lim_iterations(griffin_lim_iterations)
    acoustic_fn, noise = acoustic_function(
        source.model, source.mel_mean, source.mel_std, max_tokens, source.max_frames
    )
    vocoder_fn = vocoder_function(
        source.max_frames, source.griffin_lim_iterations, momentum=source.griffin_lim_momentum
    )
    references = parity.savedmodel_references(source, sentences)
    report_line(
        f"TFLite: traced and referenced {len(references)} sentences in "
        f"{time.monotonic() - started:.1f} s; variants: {', '.join(quantizes)}"
    )
    report = {
        "source": {
            "saved_model_dir": os.path.abspath(source.saved_model_dir),
            "family": source.family,
            "preset": source.voice.get("preset"),
            "max_frames": source.max_frames,
            "griffin_lim_iterations": source.griffin_lim_iterations,
            "served_griffin_lim_iterations": source.served_griffin_lim_iterations,
            "griffin_lim_momentum": source.griffin_lim_momentum,
        },
        "max_tokens": max_tokens,
        "sentences": sentences,
        "tolerances": {
            convert.VARIANTS[q]: {
                k: _json_number(v)
                for k, v in dataclasses.asdict(tolerances[convert.VARIANTS[q]]).items()
            }
            for q in quantizes
        },
        "variants": {},
    }
    for number, q in enumerate(quantizes, start=1):
        name = convert.VARIANTS[q]
        variant_started = time.monotonic()
        entry = report["variants"][name] = export_variant(
            source,
            q,
            (acoustic_fn, noise, vocoder_fn),
            max_tokens,
            os.path.join(out_dir, VARIANTS_DIR, name),
            references,
            threads,
            tolerances[name],
            timing_repeats,
        )
        entry["elapsed_s"] = round(time.monotonic() - variant_started, 1)
        sizes = entry.get("files") or {}
        megabytes = " + ".join(f"{sizes[k]['bytes'] / 1e6:.2f}" for k in sizes)
        report_line(
            f"TFLite {number}/{len(quantizes)} {name}: {entry['status']} in "
            f"{entry['elapsed_s']:.1f} s"
            + (f" ({megabytes} MB)" if megabytes else "")
            + f", {time.monotonic() - started:.0f} s so far"
        )
    report["bundle"] = _ship(out_dir, report, preference)
    if report["bundle"]["shipped"]:  # the pipeline's TFLiteExporter rewrites it from its blessing
        card = voice_card.bundle_card(
            source.saved_model_dir, source.voice, report["bundle"]["variant"]
        )
        voice_card.write_card(report["bundle"]["path"], card)
    write_report(out_dir, report)
    return report


def _json_number(value: float):
    return value if not isinstance(value, float) or math.isfinite(value) else str(value)


def _ship(out_dir: str, report: dict, preference: list[str]) -> dict:
    target = os.path.join(out_dir, BUNDLE_DIR)
    if os.path.exists(target):
        shutil.rmtree(target)
    tried = []
    for q in preference:
        name = convert.VARIANTS[q]
        entry = report["variants"].get(name)
        if entry is None:
            continue
        if entry["status"] == "passed":
            shutil.copytree(os.path.join(out_dir, VARIANTS_DIR, name), target)
            note = f"; preferred {', '.join(tried)} failed" if tried else ""
            logging.info("TFLite bundle: %s -> %s%s", name, target, note)
            return {"shipped": True, "variant": name, "path": target, "skipped": tried}
        tried.append(name)
    reason = f"no variant passed parity (tried {', '.join(tried) or 'none'})"
    logging.error("TFLite bundle not written: %s", reason)
    return {"shipped": False, "variant": None, "path": None, "reason": reason}
