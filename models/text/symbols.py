"""The fixed symbol table: normalised text characters and the ids the acoustic model embeds.

Written beside every exported model as an asset (`symbols_json`), so a voice carries its alphabet.
"""

from __future__ import annotations

import json
import string

SYMBOLS_VERSION = 1

PAD = "_"
EOS = "~"
PUNCTUATION = ("!", "'", "(", ")", ",", "-", ".", ":", ";", "?", '"')

SYMBOLS: tuple[str, ...] = (PAD, EOS, " ", *PUNCTUATION, *string.ascii_lowercase)
PAD_ID = 0
EOS_ID = 1
SYMBOL_TO_ID: dict[str, int] = {symbol: i for i, symbol in enumerate(SYMBOLS)}


def symbols_json() -> str:
    """The table as the JSON asset exported with a model."""
    return json.dumps(
        {
            "version": SYMBOLS_VERSION,
            "symbols": list(SYMBOLS),
            "pad_id": PAD_ID,
            "eos_id": EOS_ID,
        },
        indent=2,
    )


def byte_to_id_table() -> list[int]:
    """ASCII byte -> symbol id, -1 for bytes that are not text symbols (the TF engine's lookup).

    The pad and end-of-sequence characters map to -1 as well: they are reserved ids that text
    never produces (normalisation deletes "_" and "~"), so a stray byte can't fake one.
    """
    table = [-1] * 256
    for symbol, symbol_id in SYMBOL_TO_ID.items():
        if symbol_id not in (PAD_ID, EOS_ID):
            table[ord(symbol)] = symbol_id
    return table
