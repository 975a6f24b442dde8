"""The mobile bundle: two .tflite files, symbol table, audio config, bundle.json (the tensor
contract), the rule table for app ports, README, and the no-TensorFlow reference runner."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import types

from models.text import rules, symbols
from models.text.normalize import text_to_ids

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOBILE_DIR = os.path.join(REPO_ROOT, "mobile")
RUNNER_FILE = "runner.py"
README_FILE = "README.md"
BUNDLE_FILE = "bundle.json"
ACOUSTIC_FILE = "acoustic.tflite"
VOCODER_FILE = "vocoder.tflite"
TEXT_PACKAGE = "tts_text"
# The text front end's modules, copied into the bundle with their one package import rewritten.
_TEXT_MODULES = ("normalize.py", "rules.py", "symbols.py")
# Sentences whose ids an app port of the text front end must reproduce (golden_tokens.json).
GOLDEN_SENTENCES = (
    "Hello, world!",
    "The quick brown fox paid $3.50 for 2 tickets on May 5th, 1999.",
    "Dr. Smith lives at 221B Baker St. since 1881; he's 42%  sure.",
    "Café déjà vu: ½ of the £20 — gone…",
    "It's 10:30 AM, the 3rd of July, and 1,234,567 people are here.",
)


def mobile_file(name: str) -> str:
    path = os.path.join(MOBILE_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: the bundle template lives in mobile/")
    return path


def load_runner(path: str | None = None) -> types.ModuleType:
    """The reference runner as a module (default: the repository's mobile/runner.py)."""
    path = path or mobile_file(RUNNER_FILE)
    spec = importlib.util.spec_from_file_location("tts_mobile_runner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _java_replacement(replacement: str) -> str:
    r"""Python's \1 replacement syntax -> Java / ICU's $1 (literal $ and \ escaped)."""
    out, i = [], 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement) and replacement[i + 1].isdigit():
            out.append("$" + replacement[i + 1])
            i += 2
            continue
        out.append("\\" + char if char in "$\\" else char)
        i += 1
    return "".join(out)


def rules_json() -> str:
    """The normalisation rule table for app ports (Kotlin/Swift regex engines)."""

    def table(rule_list):
        return [
            {
                "pattern": r.pattern,
                "replacement": r.replacement,
                "replacement_dollar": _java_replacement(r.replacement),
                "repeat": r.repeat,
            }
            for r in rule_list
        ]

    return json.dumps(
        {
            "rules_version": rules.RULES_VERSION,
            "algorithm": (
                "apply pre_lowercase in order (each rule: replace all matches, repeat up to "
                "`repeat` passes, stop early when a pass changes nothing), lowercase ASCII A-Z "
                "only, apply post_lowercase the same way; then map characters to ids with "
                "symbols.json and append eos_id"
            ),
            "pre_lowercase": table(rules.PRE_LOWERCASE_RULES),
            "post_lowercase": table(rules.POST_LOWERCASE_RULES),
        },
        indent=1,
        ensure_ascii=False,
    )


def golden_tokens_json() -> str:
    return json.dumps(
        [{"text": text, "ids": text_to_ids(text)} for text in GOLDEN_SENTENCES],
        indent=1,
        ensure_ascii=False,
    )


def copy_text_frontend(bundle_dir: str) -> None:
    """models/text's pure-Python engine as the bundle's own package (no `models` import)."""
    source_dir = os.path.dirname(os.path.abspath(symbols.__file__))
    target_dir = os.path.join(bundle_dir, TEXT_PACKAGE)
    os.makedirs(target_dir, exist_ok=True)
    with open(os.path.join(target_dir, "__init__.py"), "w", encoding="utf-8") as handle:
        handle.write(
            '"""The server\'s text front end (copied from models/text by the exporter)."""\n'
        )
    for name in _TEXT_MODULES:
        with open(os.path.join(source_dir, name), encoding="utf-8") as handle:
            code = handle.read()
        code = code.replace("from models.text import ", "from . import ")
        if "models." in code:
            raise ValueError(f"{name}: imports from models that the bundle copy cannot follow")
        with open(os.path.join(target_dir, name), "w", encoding="utf-8") as handle:
            handle.write(code)


def _tensor_table(tensors: list[dict]) -> str:
    rows = [f"| {t['index']} | `{t['name']}` | {t['dtype']} | {t['shape']} |" for t in tensors]
    return "\n".join(["| index | name | dtype | shape |", "| --- | --- | --- | --- |", *rows])


def readme_text(config: dict) -> str:
    """This bundle's facts, then the static guide (mobile/README.md)."""
    noise = config.get("prenet_noise")
    noise_line = (
        f"- `prenet_noise`: {noise['steps']} x {sum(noise['units'])} keep masks, each entry 0 or "
        f"{1.0 / (1.0 - noise['dropout']):.6g} (dropout {noise['dropout']}): draw fresh per "
        "utterance (see 'Prenet noise' below)."
        if noise
        else "- no noise input (non-autoregressive family)."
    )
    parity = config.get("parity") or {}
    seconds = config["max_frames"] * config["hop_length"] / config["sample_rate"]
    header = [
        f"# Voice bundle: {config['family']} / {config['preset']}, {config['variant']}",
        "",
        f"- sample rate {config['sample_rate']} Hz, {config['n_mels']} mel bands, hop "
        f"{config['hop_length']}; Griffin-Lim {config['griffin_lim_iterations']} iterations.",
        f"- at most {config['max_tokens']} symbols per acoustic call (end-of-sequence included) "
        f"and {config['max_frames']} frames ({seconds:.1f} s) of speech.",
        noise_line,
        f"- parity with the SavedModel: {parity.get('status', 'not measured')}"
        + (f" ({parity['summary']})" if parity.get("summary") else ""),
        "",
        f"## `{config['acoustic']['file']}` inputs",
        "",
        _tensor_table(config["acoustic"]["inputs"]),
        "",
        f"## `{config['acoustic']['file']}` outputs",
        "",
        _tensor_table(config["acoustic"]["outputs"]),
        "",
        f"## `{config['vocoder']['file']}` inputs",
        "",
        _tensor_table(config["vocoder"]["inputs"]),
        "",
        f"## `{config['vocoder']['file']}` outputs",
        "",
        _tensor_table(config["vocoder"]["outputs"]),
        "",
    ]
    with open(mobile_file(README_FILE), encoding="utf-8") as handle:
        guide = handle.read()
    return "\n".join(header) + "\n" + guide


def write_bundle(
    bundle_dir: str,
    acoustic: bytes,
    vocoder: bytes,
    config: dict,
    symbols_path: str,
    audio_config_path: str,
) -> None:
    """Writes a complete bundle directory (its tflite files, jsons, README, runner)."""
    os.makedirs(bundle_dir, exist_ok=True)
    with open(os.path.join(bundle_dir, ACOUSTIC_FILE), "wb") as handle:
        handle.write(acoustic)
    with open(os.path.join(bundle_dir, VOCODER_FILE), "wb") as handle:
        handle.write(vocoder)
    shutil.copyfile(symbols_path, os.path.join(bundle_dir, "symbols.json"))
    shutil.copyfile(audio_config_path, os.path.join(bundle_dir, "audio_config.json"))
    write_config(bundle_dir, config)
    with open(os.path.join(bundle_dir, "rules.json"), "w", encoding="utf-8") as handle:
        handle.write(rules_json())
    with open(os.path.join(bundle_dir, "golden_tokens.json"), "w", encoding="utf-8") as handle:
        handle.write(golden_tokens_json())
    shutil.copyfile(mobile_file(RUNNER_FILE), os.path.join(bundle_dir, RUNNER_FILE))
    copy_text_frontend(bundle_dir)


def write_config(bundle_dir: str, config: dict) -> None:
    """bundle.json and the README generated from it (rewritten when parity is known)."""
    with open(os.path.join(bundle_dir, BUNDLE_FILE), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
        handle.write("\n")
    with open(os.path.join(bundle_dir, README_FILE), "w", encoding="utf-8") as handle:
        handle.write(readme_text(config))
