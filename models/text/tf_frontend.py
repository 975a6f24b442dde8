"""TensorFlow engine of the text front end: rules.py as stock string ops, for Transform and serving.

Only core ops (regex_replace, lower, decode_raw, gather, ragged), so a SavedModel that embeds it
runs in stock TF Serving with no Python and no tensorflow_text. Expects valid UTF-8 input.
"""

from __future__ import annotations

import tensorflow as tf

from models.text import rules, symbols


def _apply(text: tf.Tensor, table: tuple[rules.Rule, ...]) -> tf.Tensor:
    # One op per rule pass over the whole batch; str pattern/rewrite pick the static (precompiled)
    # RE2 kernel.
    for rule in table:
        for _ in range(rule.repeat):
            text = tf.strings.regex_replace(
                text, rule.pattern, rule.replacement, replace_global=True
            )
    return text


def normalize_text_tf(text: tf.Tensor) -> tf.Tensor:
    """String tensor of any shape -> normalised strings (the same bytes as normalize_text).

    Text that normalises to nothing comes out as "" (the Python engine raises instead).
    """
    text = tf.convert_to_tensor(text, dtype=tf.string)
    with tf.name_scope("normalize_text"):
        text = _apply(text, rules.PRE_LOWERCASE_RULES)
        # ASCII by now, and tf.strings.lower without an encoding only folds A-Z.
        text = tf.strings.lower(text)
        return _apply(text, rules.POST_LOWERCASE_RULES)


def text_to_ids_tf(text: tf.Tensor, add_eos: bool = True) -> tf.RaggedTensor:
    """1-D string tensor [batch] -> int64 RaggedTensor [batch, None] of symbol ids."""
    text = tf.convert_to_tensor(text, dtype=tf.string)
    if text.shape.rank is not None and text.shape.rank != 1:
        raise ValueError(f"text_to_ids_tf expects a 1-D string tensor, got shape {text.shape}")
    with tf.name_scope("text_to_ids"):
        normalized = normalize_text_tf(text)
        lengths = tf.strings.length(normalized)  # bytes; normalised text is ASCII
        # At least 1: decode_raw needs a positive width even for an empty batch or all-"" rows.
        width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], axis=0)), 1)
        padded = tf.io.decode_raw(normalized, tf.uint8, fixed_length=width)
        table = tf.constant(symbols.byte_to_id_table(), dtype=tf.int64)
        ids = tf.gather(table, tf.cast(padded, tf.int32))
        ids = tf.RaggedTensor.from_tensor(ids, lengths=tf.cast(lengths, tf.int64))
        ids = tf.ragged.boolean_mask(ids, ids >= 0)  # bytes outside the table (none expected)
        if add_eos:
            eos = tf.fill(
                [tf.shape(text, out_type=tf.int64)[0], 1], tf.constant(symbols.EOS_ID, tf.int64)
            )
            ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        return ids
