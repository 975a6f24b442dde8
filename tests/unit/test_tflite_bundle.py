"""The bundle's text front end: the copied package tokenises as the server does with no
TensorFlow (and no `models` package) importable, and the rule table app ports read is faithful."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from models.text import rules
from models.text.normalize import normalize_text, text_to_ids
from models.tflite import bundle

# A sitecustomize that makes `import tensorflow` (and keras, and the repo's models) fail.
BLOCK_IMPORTS = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "models"):
            raise ImportError(name + " is blocked here")
sys.meta_path.insert(0, _Block())
"""
TEXTS = [
    "Hello, world!",
    "It costs $4.20 (or £3) on the 21st; call 555-0199 at 9:45 PM.",
    "Ünïcödé — «quotes» and ½ cup…",
]


def blocked_env(directory: str) -> dict:
    with open(os.path.join(directory, "sitecustomize.py"), "w", encoding="utf-8") as handle:
        handle.write(BLOCK_IMPORTS)
    return {**os.environ, "PYTHONPATH": directory}


def test_copied_text_frontend_matches_the_server_without_tensorflow(tmp_path):
    bundle.copy_text_frontend(str(tmp_path))
    (tmp_path / "shim").mkdir()
    env = blocked_env(str(tmp_path / "shim"))
    script = (
        "import json, sys\n"
        "from tts_text.normalize import text_to_ids\n"
        "try:\n    import tensorflow\nexcept ImportError:\n    blocked = True\n"
        "else:\n    blocked = False\n"
        "ids = [text_to_ids(t) for t in json.loads(sys.argv[1])]\n"
        "print(json.dumps({'blocked': blocked, 'ids': ids}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(TEXTS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(result.stdout)
    assert out["blocked"] is True
    assert out["ids"] == [text_to_ids(t) for t in TEXTS]


def test_rules_json_is_the_rule_table_in_both_replacement_syntaxes():
    table = json.loads(bundle.rules_json())
    assert table["rules_version"] == rules.RULES_VERSION
    assert [r["pattern"] for r in table["pre_lowercase"]] == [
        r.pattern for r in rules.PRE_LOWERCASE_RULES
    ]
    assert len(table["post_lowercase"]) == len(rules.POST_LOWERCASE_RULES)
    assert bundle._java_replacement(r"\1 and \2") == "$1 and $2"
    assert bundle._java_replacement("5$ \\x") == "5\\$ \\\\x"

    # Applying the table with the $-syntax (converted back for Python) gives the server's text.
    def apply(text, entries):
        for entry in entries:
            pattern = re.compile(entry["pattern"])
            replacement = re.sub(r"\$(\d)", r"\\\1", entry["replacement_dollar"]).replace(
                "\\$", "$"
            )
            for _ in range(entry["repeat"]):
                rewritten = pattern.sub(replacement, text)
                if rewritten == text:
                    break
                text = rewritten
        return text

    for text in TEXTS:
        lowered = re.sub("[A-Z]", lambda m: m.group().lower(), apply(text, table["pre_lowercase"]))
        assert apply(lowered, table["post_lowercase"]) == normalize_text(text)


# Written by hand from models/text/symbols.py: 0 "_" (pad), 1 "~" (end), 2 " ", 3-13
# ! ' ( ) , - . : ; ? ", then a-z from 14 (h 21, e 18, l 25, o 28, w 36, r 31, d 17).
HELLO_WORLD_IDS = [21, 18, 25, 25, 28, 7, 2, 36, 28, 31, 25, 17, 3, 1]  # "hello, world!" + end


def test_golden_tokens_are_the_ids_written_by_hand():
    golden = json.loads(bundle.golden_tokens_json())
    assert [g["text"] for g in golden] == list(bundle.GOLDEN_SENTENCES)
    assert golden[0] == {"text": "Hello, world!", "ids": HELLO_WORLD_IDS}
    assert text_to_ids("Hello, world!") == HELLO_WORLD_IDS  # the server's tokeniser, too
    for entry in golden:
        *text_ids, end = entry["ids"]
        assert end == 1 and all(2 <= i <= 39 for i in text_ids), entry
        assert entry["ids"] == text_to_ids(entry["text"])  # the bundle's file is the server's
