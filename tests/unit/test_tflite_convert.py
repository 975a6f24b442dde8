"""TFLite conversion: every family and the vocoder convert to builtin ops only, in all three
precisions, and the builtin Griffin-Lim is the server's Griffin-Lim."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from models.testing import export_untrained_voice
from models.tflite import convert
from models.tflite.acoustic import acoustic_function
from models.tflite.source import load_source
from models.tflite.vocoder import griffin_lim_builtin, initial_phase, vocoder_function
from models.vocoder import griffin_lim

BUILTIN_NAMES = {n for n in vars(schema.BuiltinOperator) if not n.startswith("_")} - {"CUSTOM"}
MAX_FRAMES = 48
MAX_TOKENS = 24


def small_voice(family: str, directory: str, max_frames: int = MAX_FRAMES) -> str:
    """A small, untrained voice exported as the Trainer would (tacotron2 never stops early)."""
    return export_untrained_voice(
        directory,
        family,
        max_frames=max_frames,
        griffin_lim_iterations=3,
        mel_mean=-4.0,
        mel_std=2.0,
        decode_to_max=True,
    )


def run_model(model: bytes, feeds: list[np.ndarray]) -> list[np.ndarray]:
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def assert_builtin_only(model: bytes) -> dict[str, int]:
    ops = convert.operator_counts(model)
    assert ops, "no operators read back"
    assert convert.non_builtin_ops(model) == []
    assert set(ops) <= BUILTIN_NAMES, set(ops) - BUILTIN_NAMES
    return ops


def test_builtin_griffin_lim_is_the_servers():
    rng = np.random.default_rng(0)
    mel = (rng.standard_normal((1, 40, 80)) - 4.0).astype(np.float32)
    for length in (40, 25, 1):
        reference, reference_length = griffin_lim(mel, np.array([length]), n_iter=3)
        audio, audio_length = griffin_lim_builtin(mel, np.array([length]), initial_phase(40), 3)
        audio, reference = audio.numpy()[0], reference.numpy()[0]
        assert int(audio_length[0]) == int(reference_length[0]) == length * 256
        # Only min(length + 3, 40) frames are run; the rest of the server's output is silence.
        assert np.abs(reference[len(audio) :]).max(initial=0.0) == 0.0
        assert np.abs(audio - reference[: len(audio)]).max() < 1e-5 * np.abs(reference).max()


def test_start_phases_of_a_short_clip_are_a_prefix_of_a_long_one():
    np.testing.assert_array_equal(initial_phase(7), initial_phase(30)[:7])


def test_vocoder_converts_to_builtins_in_every_precision_and_matches():
    function = vocoder_function(MAX_FRAMES, n_iter=2)
    rng = np.random.default_rng(1)
    mel = (rng.standard_normal((1, MAX_FRAMES, 80)) - 4.0).astype(np.float32)
    length = np.array([30], np.int32)
    expected, expected_length = function(tf.constant(mel), tf.constant(length))
    for quantize in convert.VARIANTS:
        model = convert.convert(function, quantize)
        ops = assert_builtin_only(model)
        # The rounds are unrolled: two RFFT2D each, one more for the final inverse.
        assert "WHILE" not in ops and ops["RFFT2D"] == 2 * 2 + 1 and ops["RSQRT"] == 2
        if quantize == "none":
            audio, audio_length = run_model(model, [mel, length])
            assert int(audio_length[0]) == int(expected_length[0]) == 30 * 256
            peak = np.abs(expected.numpy()).max()
            assert np.abs(audio - expected.numpy()).max() < 1e-4 * peak


def test_vector_matrix_einsum_in_a_loop_converts():
    def attend(weights, memory):  # tacotron2's context: einsum("bt,btm->bm") in a while loop
        def body(step, total):
            scaled = tf.nn.softmax(weights * tf.cast(step + 1, tf.float32))
            return step + 1, total + tf.einsum("bt,btm->bm", scaled, memory)

        return tf.while_loop(lambda step, _: step < 3, body, (0, tf.zeros([1, 5])))[1]

    function = tf.function(attend).get_concrete_function(
        tf.TensorSpec([1, 7], tf.float32), tf.TensorSpec([1, 7, 5], tf.float32)
    )
    model = convert.convert(function)
    assert_builtin_only(model)
    rng = np.random.default_rng(2)
    weights = rng.standard_normal((1, 7)).astype(np.float32)
    memory = rng.standard_normal((1, 7, 5)).astype(np.float32)
    (got,) = run_model(model, [weights, memory])
    np.testing.assert_allclose(got, function(weights, memory).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["mlp", "attention", "tacotron2"])
def test_every_family_converts_with_builtin_ops_only(family, tmp_path):
    source = load_source(small_voice(family, str(tmp_path / family)))
    function, noise = acoustic_function(
        source.model, source.mel_mean, source.mel_std, MAX_TOKENS, MAX_FRAMES
    )
    ids = np.zeros((1, MAX_TOKENS), np.int32)
    ids[0, :9] = [20, 31, 24, 24, 27, 7, 2, 8, 1]
    feeds = [ids, np.array([9], np.int32)]
    if family == "tacotron2":
        r = source.model.model_config.reduction_factor
        assert noise is not None and noise.steps == -(-MAX_FRAMES // r)  # one row per step
        feeds.append(noise.sample(np.random.default_rng(0)))
    else:
        assert noise is None
    expected_mel, expected_length = (t.numpy() for t in function(*feeds))
    for quantize in convert.VARIANTS:
        model = convert.convert(function, quantize)
        ops = assert_builtin_only(model)
        if family == "tacotron2":
            assert "WHILE" in ops  # the autoregressive loop itself, not unrolled
        if quantize == "none":
            mel, length = run_model(model, feeds)
            assert int(length[0]) == int(expected_length[0]) > 0
            np.testing.assert_allclose(mel, expected_mel, atol=1e-4)


@pytest.mark.parametrize("family", ["mlp", "attention"])
def test_nar_acoustic_work_follows_the_utterance(family, tmp_path):
    """The NAR decoder's tensors take the utterance's frame count (FrameBound), not
    max_frames, while the mel output keeps its static shape, zero past mel_length."""
    directory = str(tmp_path / family)
    export_untrained_voice(directory, family, max_frames=MAX_FRAMES, frames_per_token=3)
    source = load_source(directory)
    function, _ = acoustic_function(
        source.model, source.mel_mean, source.mel_std, MAX_TOKENS, MAX_FRAMES
    )
    ids = np.zeros((1, MAX_TOKENS), np.int32)
    ids[0, :9] = [20, 31, 24, 24, 27, 7, 2, 8, 1]
    feeds = [ids, np.array([9], np.int32)]
    # Without the default XNNPack delegate every intermediate tensor keeps its own shape.
    interpreter = Interpreter(
        model_content=convert.convert(function),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), feeds, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    outputs = {d["dtype"]: d for d in interpreter.get_output_details()}
    mel_detail = outputs[np.float32]
    assert list(mel_detail["shape"]) == list(mel_detail["shape_signature"]) == [1, MAX_FRAMES, 80]
    mel = interpreter.get_tensor(mel_detail["index"])
    length = int(interpreter.get_tensor(outputs[np.int32]["index"])[0])
    assert length == 9 * 3
    hidden = source.model.model_config.hidden_dim
    # Shapes of the tensors computed per call (constants, e.g. a position table, are static).
    computed = {
        tuple(d["shape"]) for d in interpreter.get_tensor_details() if -1 in d["shape_signature"]
    }
    assert (1, length, hidden) in computed and (1, MAX_FRAMES, hidden) not in computed
    assert not mel[0, length:].any()
    np.testing.assert_allclose(mel, function(*feeds)[0].numpy(), atol=1e-4)


def test_unknown_quantization_is_refused():
    function = tf.function(lambda x: x * 2.0).get_concrete_function(tf.TensorSpec([2]))
    with pytest.raises(ValueError, match="int4"):
        convert.convert(function, "int4")
