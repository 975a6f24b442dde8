"""Synthesis costs what is said: the served mel and audio are as long as the batch's longest
utterance, not the export's max_frames, and the NAR decoders run only that far."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.export import read_voice_info
from models.features import AUDIO
from models.layers.nar_blocks import FrameBound, LengthRegulator
from models.testing import export_untrained_voice

MAX_FRAMES = 400


def _export(family, tmp_path_factory):
    path = export_untrained_voice(
        str(tmp_path_factory.mktemp(family)),
        family,
        max_frames=MAX_FRAMES,
        griffin_lim_iterations=2,
    )
    return path, tf.saved_model.load(path)


@pytest.fixture(scope="module", params=["attention", "tacotron2"])
def voice(request, tmp_path_factory):
    return _export(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def attention_voice(tmp_path_factory):
    return _export("attention", tmp_path_factory)


def test_serving_outputs_end_at_the_longest_utterance(voice):
    _, loaded = voice
    out = loaded.signatures["serving_default"](text=tf.constant(["Hello there.", "Hi."]))
    mel_length = out["mel_length"].numpy()
    longest = int(mel_length.max())
    assert 0 < longest < MAX_FRAMES
    # The contract's names, dtypes and ranks; only the time dimension is the batch's longest.
    assert out["mel"].dtype == tf.float32 and out["audio"].dtype == tf.float32
    assert out["mel_length"].dtype == tf.int32 and out["audio_length"].dtype == tf.int32
    assert tuple(out["mel"].shape) == (2, longest, AUDIO.n_mels)
    assert tuple(out["audio"].shape) == (2, longest * AUDIO.hop_length)
    np.testing.assert_array_equal(out["audio_length"].numpy(), mel_length * AUDIO.hop_length)
    short = int(np.argmin(mel_length))
    assert float(np.abs(out["audio"][short, int(out["audio_length"][short]) :]).max(initial=0)) == 0
    assert float(np.abs(out["mel"][short, int(mel_length[short]) :]).max(initial=0)) == 0


def test_an_utterance_is_the_same_alone_and_beside_a_longer_one(attention_voice):
    # A deterministic (NAR) voice: tacotron2's prenet dropout draws differ per call.
    _, loaded = attention_voice
    serve = loaded.signatures["serving_default"]
    alone = serve(text=tf.constant(["Hi."]))
    both = serve(text=tf.constant(["Hello there, how are you today?", "Hi."]))
    n = int(alone["audio_length"][0])
    assert int(both["audio_length"][1]) == n
    np.testing.assert_allclose(both["mel"][1, : n // 256], alone["mel"][0], atol=1e-4)
    reference = alone["audio"][0].numpy()
    error = both["audio"][1, :n].numpy() - reference
    assert np.sqrt(np.mean(error**2) / np.mean(reference**2)) < 1e-3


def test_voice_records_max_frames_and_vocoder_settings(voice):
    info = read_voice_info(voice[0])
    assert info["max_frames"] == MAX_FRAMES
    assert info["griffin_lim_iterations"] == 2
    assert 0.0 < info["griffin_lim_momentum"] < 1.0
    mel_signature = voice[1].signatures["synthesize_mel"]
    out = mel_signature(
        token_ids=tf.constant([[5, 6, 7, 8, 0, 0], [5, 6, 7, 8, 9, 10]]),
        token_length=tf.constant([4, 6]),
    )
    assert out["mel"].shape[1] == int(out["mel_length"].numpy().max())


def test_frame_bound_is_the_longest_total_at_most_the_bound():
    regulator = LengthRegulator()
    x = tf.ones((2, 3, 4))
    durations = tf.constant([[2, 3, 1], [1, 1, 0]])
    frames, _, length = regulator(x, durations, max_frames=FrameBound(100))
    assert frames.shape[1] == 6 and list(length.numpy()) == [6, 2]
    frames, _, length = regulator(x, durations, max_frames=FrameBound(4))
    assert frames.shape[1] == 4 and list(length.numpy()) == [4, 2]
    frames, _, _ = regulator(x, durations, max_frames=100)  # a plain int still fixes F
    assert frames.shape[1] == 100
