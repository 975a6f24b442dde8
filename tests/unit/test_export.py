"""The exported SavedModel refuses bad text inside the graph (so real TF Serving does too)."""

import pytest
import tensorflow as tf

from models.export import MAX_TEXT_CHARS
from models.testing import export_untrained_voice


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = export_untrained_voice(
        str(tmp_path_factory.mktemp("voice")),
        "attention",
        max_frames=200,
        griffin_lim_iterations=2,
    )
    return tf.saved_model.load(path).signatures["serving_default"]


def test_good_text_gives_audio(served):
    out = served(text=tf.constant(["Hello there.", "Hi."]))
    assert out["audio"].shape[0] == 2
    assert int(out["audio_length"][0]) > int(out["audio_length"][1]) > 0


@pytest.mark.parametrize(
    "text, message",
    [
        (b"   ", "empty after normalisation"),
        ("\u2122".encode(), "empty after normalisation"),  # a trade mark sign says nothing
        (b"caf\xe9", "Invalid formatting on input string"),  # Latin-1, not UTF-8
        (b"a" * (MAX_TEXT_CHARS + 1), "longer than"),
    ],
)
def test_bad_text_is_an_invalid_argument(served, text, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served(text=tf.constant([text]))


def test_text_limit_counts_characters_not_bytes(served):
    # 600 x "é" is 1200 bytes but 600 characters, under the limit.
    out = served(text=tf.constant(["\u00e9" * 600]))
    assert out["audio"].shape[0] == 1
