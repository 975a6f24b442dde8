"""Unit tests for models/tacotron2.py and its blocks: shapes, padding invariance, serialisation,
stop rule, and a small overfit run whose attention must come out diagonal."""

from __future__ import annotations

import json
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import registry
from models.layers.tacotron2_blocks import (
    DynamicConvolutionAttention,
    ZoneoutLSTMCell,
    beta_binomial_prior,
)
from models.tacotron2 import CONFIGS, Tacotron2, Tacotron2Config, alignment_score

N_MELS = 80
ATOL = 1e-5  # float32 agreement of the same math on differently padded tensors
BASE_PARAMS = (27_000_000, 29_500_000)  # the paper's model is about 28M parameters
# Overfit run: 4 utterances, batch 4, Adam(2e-3, clipnorm 1), guided attention on.
OVERFIT_STEPS = 300
OVERFIT_LR = 2e-3
OVERFIT_LOSS_FRACTION = 0.3  # eval loss after / before training (measured about 0.13)
OVERFIT_MIN_DIAGONALITY = 0.9  # attention mass within 0.2 of the diagonal (measured ~0.99)
OVERFIT_MIN_FOCUS_RATE = 0.6  # mean max attention weight per step (measured ~0.84)
# Guided attention rewards a diagonal, not a gate that fires or a free-running decoder that
# reproduces its targets: those are checked on synthesis. Stop within this many frames of the
# true end (two decoder steps at r = 2), every utterance.
OVERFIT_STOP_TOLERANCE_FRAMES = 4


def _batch(token_lengths, mel_lengths, vocab_size, seed=0, tokens=None, frames=None):
    """A zero-padded batch of random tokens and mels with the given lengths."""
    rng = np.random.default_rng(seed)
    tokens = tokens or max(token_lengths)
    frames = frames or max(mel_lengths)
    batch = {
        "token_ids": np.zeros((len(token_lengths), tokens), "int32"),
        "token_length": np.asarray(token_lengths, "int32"),
        "mel": np.zeros((len(mel_lengths), frames, N_MELS), "float32"),
        "mel_length": np.asarray(mel_lengths, "int32"),
    }
    for i, (t, f) in enumerate(zip(token_lengths, mel_lengths, strict=True)):
        batch["token_ids"][i, :t] = rng.integers(1, vocab_size, t)
        batch["mel"][i, :f] = rng.normal(size=(f, N_MELS))
    return batch


def _numpy(outputs: dict) -> dict:
    return {k: np.asarray(v) for k, v in outputs.items()}


def test_small_shapes_and_loss():
    model = Tacotron2.from_preset("small", seed=0, guided_attention=True)
    r = model.model_config.reduction_factor
    batch = _batch([7, 4], [13, 8], model.model_config.vocab_size)  # 13 frames: not a multiple of r
    for training in (True, False):
        out = _numpy(model(batch, training=training))
        assert out["mel_before"].shape == (2, 13, N_MELS)
        assert out["mel_after"].shape == (2, 13, N_MELS)
        assert out["gate"].shape == (2, 13)
        assert out["alignment"].shape == (2, -(-13 // r), 7)
        np.testing.assert_allclose(out["alignment"][:, :, :4].sum(-1)[1], 1.0, atol=1e-5)
        assert np.all(out["alignment"][1, :, 4:] == 0.0)  # padded tokens get no attention
        assert np.all(out["mel_after"][1, 8:] == 0.0)  # padded frames are zeroed
    loss = float(model.compute_loss(x=batch, y_pred=model(batch, training=True)))
    assert np.isfinite(loss) and loss > 0.0
    assert {m.name for m in model.metrics} >= {
        "mel_loss",
        "postnet_mel_loss",
        "gate_loss",
        "guided_attention_loss",
    }


def test_base_builds_with_paper_size_and_runs():
    keras.utils.set_random_seed(0)
    model = registry.build_model("tacotron2", "base", seed=0)
    params = model.count_params()
    print(f"base params: {params:,}")
    assert BASE_PARAMS[0] < params < BASE_PARAMS[1]
    assert model.model_config == Tacotron2Config(seed=0)
    out = _numpy(model(_batch([5], [3], model.model_config.vocab_size), training=False))
    assert out["mel_after"].shape == (1, 3, N_MELS)
    assert out["alignment"].shape == (1, 3, 5)
    assert all(np.isfinite(v).all() for v in out.values())


def test_teacher_forced_outputs_ignore_extra_padding():
    # Prenet dropout stays on at inference by design; prenet_dropout=0.0 turns it off so two
    # differently shaped batches see the same prenet. Inference mode for everything else.
    keras.utils.set_random_seed(0)
    model = Tacotron2.from_preset("small", seed=0, prenet_dropout=0.0, guided_attention=True)
    vocab, r = model.model_config.vocab_size, model.model_config.reduction_factor
    tight = _batch([7, 4], [13, 8], vocab)
    padded = _batch([7, 4], [13, 8], vocab, tokens=11, frames=20)
    padded["token_ids"][:, :7] = tight["token_ids"]
    padded["mel"][:, :13] = tight["mel"]
    # Extra padding holds garbage: real positions must not depend on it at all.
    rng = np.random.default_rng(1)
    padded["token_ids"][:, 7:] = rng.integers(1, vocab, (2, 4))
    padded["mel"][:, 13:] = rng.normal(size=(2, 7, N_MELS))

    a = _numpy(model(tight, training=False))
    b = _numpy(model(padded, training=False))
    for i, (t_len, f_len) in enumerate(zip([7, 4], [13, 8], strict=True)):
        steps = -(-f_len // r)
        for key in ("mel_before", "mel_after", "gate"):
            np.testing.assert_allclose(b[key][i, :f_len], a[key][i, :f_len], atol=ATOL)
        np.testing.assert_allclose(
            b["alignment"][i, :steps, :t_len], a["alignment"][i, :steps, :t_len], atol=ATOL
        )
        assert np.all(b["alignment"][i, :steps, t_len:] == 0.0)
    loss_a = float(model.compute_loss(x=tight, y_pred=model(tight, training=False)))
    loss_b = float(model.compute_loss(x=padded, y_pred=model(padded, training=False)))
    np.testing.assert_allclose(loss_b, loss_a, rtol=1e-5)


def test_config_round_trip_with_copied_weights(tmp_path):
    model = Tacotron2.from_preset("small", seed=3)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    clone = keras.saving.deserialize_keras_object(serialized)
    assert clone.model_config == model.model_config
    decoder = model.decoder
    for layer in (model.encoder, decoder, model.postnet, decoder.prenet, decoder.attention_rnn):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    clone.set_weights(model.get_weights())
    model.save(tmp_path / "tacotron2.keras")
    loaded = keras.models.load_model(tmp_path / "tacotron2.keras")

    batch = _batch([7, 4], [13, 8], model.model_config.vocab_size)
    # Same seed in the config and the same number of draws: prenet dropout agrees too.
    expected = _numpy(model(batch, training=False))
    for other in (clone, loaded):
        got = _numpy(other(batch, training=False))
        for key, value in expected.items():
            np.testing.assert_array_equal(got[key], value, err_msg=key)
    expected = _numpy(model.infer(batch["token_ids"], batch["token_length"], max_frames=6))
    got = _numpy(clone.infer(batch["token_ids"], batch["token_length"], max_frames=6))
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_graph_mode_with_dynamic_shapes():
    # The Trainer feeds padded tf.data batches whose time axes are None, and an exporter traces
    # `infer` with unknown batch and token counts: both must trace.
    model = Tacotron2.from_preset("small", seed=0)
    rng = np.random.default_rng(0)
    lengths = [(5, 11), (9, 17), (4, 8), (7, 15)]
    spec = {
        "token_ids": tf.TensorSpec([None], tf.int32),
        "token_length": tf.TensorSpec([], tf.int32),
        "mel": tf.TensorSpec([None, N_MELS], tf.float32),
        "mel_length": tf.TensorSpec([], tf.int32),
    }

    def examples():
        for t, f in lengths:
            yield {
                "token_ids": rng.integers(1, model.model_config.vocab_size, t).astype("int32"),
                "token_length": np.int32(t),
                "mel": rng.normal(size=(f, N_MELS)).astype("float32"),
                "mel_length": np.int32(f),
            }

    dataset = tf.data.Dataset.from_generator(examples, output_signature=spec)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(4)).padded_batch(2)
    model.compile(optimizer="adam")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    infer = tf.function(
        lambda ids, length: model.infer(ids, length, max_frames=12),
        input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)],
    )
    out = infer(np.ones((3, 6), "int32"), np.array([6, 2, 4], "int32"))
    steps = -(-12 // model.model_config.reduction_factor)  # decoder steps for 12 frames
    assert out["mel"].shape == (3, 12, N_MELS) and out["alignment"].shape == (3, steps, 6)


def test_asking_for_xla_on_tensorflow_trains_without_it():
    """jit_compile=True (the Trainer's choice on a GPU) must not crash the first step: TF's XLA
    cannot compile the decoder scan's gradient, so Keras falls back to graph mode."""
    model = Tacotron2.from_preset("small", seed=0)
    batch = _batch([5, 3], [12, 7], model.model_config.vocab_size)
    model(batch, training=False)
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile(optimizer="adam", jit_compile=True)
    assert model.jit_compile is False
    history = model.fit(batch, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _with_constant_gate(model: Tacotron2, logits) -> Tacotron2:
    """Gate logits fixed per frame of a step, whatever the decoder state."""
    gate = model.decoder.gate_layer
    gate.kernel.assign(np.zeros(gate.kernel.shape, "float32"))
    gate.bias.assign(np.asarray(logits, "float32"))
    return model


@pytest.mark.parametrize("logits, length", [([20.0, -20.0], 1), ([-20.0, 20.0], 2)])
def test_infer_stops_at_first_gate_firing(logits, length):
    # r = 2 (the logits are per frame of a step), whatever the preset's default.
    model = _with_constant_gate(Tacotron2.from_preset("small", seed=0, reduction_factor=2), logits)
    batch = _batch([7, 4], [13, 8], model.model_config.vocab_size)
    out = _numpy(model.infer(batch["token_ids"], batch["token_length"], max_frames=10))
    assert out["decoder_steps"] == 1  # the loop ended once every item had stopped
    assert out["stopped"].tolist() == [True, True]
    assert out["mel_length"].tolist() == [length, length]  # up to and including the stop frame
    assert out["mel"].shape == (2, 10, N_MELS)
    assert np.all(out["mel"][:, length:] == 0.0)
    assert np.any(out["mel"][:, :length] != 0.0)
    assert np.all(out["alignment"][:, 1:] == 0.0)


def test_infer_respects_max_decoder_steps_when_gate_never_fires():
    model = _with_constant_gate(
        Tacotron2.from_preset("small", seed=0, max_decoder_steps=4, reduction_factor=2),
        [-20.0, -20.0],
    )
    batch = _batch([7, 4], [13, 8], model.model_config.vocab_size)
    out = _numpy(model.infer(batch["token_ids"], batch["token_length"]))
    assert out["decoder_steps"] == 4
    assert out["stopped"].tolist() == [False, False]
    assert out["mel_length"].tolist() == [8, 8]
    assert out["mel"].shape == (2, 8, N_MELS)
    assert out["alignment"].shape == (2, 4, 7)
    # max_frames overrides the config; a length that is not a multiple of r is cut exactly.
    out = _numpy(model.infer(batch["token_ids"], batch["token_length"], max_frames=7))
    assert out["decoder_steps"] == 4 and out["mel_length"].tolist() == [7, 7]
    assert out["mel"].shape == (2, 7, N_MELS)


@pytest.mark.parametrize("backward, forward", [(1, 2), (0, 1)])
def test_free_running_attention_moves_only_within_its_window(backward, forward):
    """Untrained attention jumps anywhere; with the window its peak starts in the first
    `forward` + 1 tokens and moves at most `backward` back and `forward` on per step."""
    model = Tacotron2.from_preset(
        "small", seed=0, max_decoder_steps=40, attention="location", location_kernel_size=15
    )
    model = _with_constant_gate(model, [-20.0] * model.model_config.reduction_factor)
    batch = _batch([24, 15], [60, 40], model.model_config.vocab_size)
    free = _numpy(model.infer(batch["token_ids"], batch["token_length"]))["alignment"]
    free_moves = np.diff(free.argmax(-1), axis=1)
    assert (free_moves > forward).any() or (free_moves < -backward).any()  # the test can fail

    model.decoder.attention_window_backward = backward
    model.decoder.attention_window_forward = forward
    windowed = _numpy(model.infer(batch["token_ids"], batch["token_length"]))["alignment"]
    peaks = windowed.argmax(-1)
    assert (peaks[:, 0] <= forward).all()
    moves = np.diff(peaks, axis=1)
    assert (moves <= forward).all() and (moves >= -backward).all()
    for row, length in enumerate(batch["token_length"]):
        assert peaks[row].max() < length  # never onto padding


def test_window_config_round_trips():
    model = Tacotron2.from_preset("small", attention_window_backward=2, attention_window_forward=4)
    decoder = model.decoder
    assert (decoder.attention_window_backward, decoder.attention_window_forward) == (2, 4)
    config = decoder.get_config()
    assert (config["attention_window_backward"], config["attention_window_forward"]) == (2, 4)


def test_beta_binomial_prior_is_the_papers():
    prior = beta_binomial_prior(11, 0.1, 0.9)
    assert prior.sum() == pytest.approx(1.0)
    assert (prior * np.arange(11)).sum() == pytest.approx(1.0)  # mean n * alpha / (alpha + beta)
    # Staying put is the likeliest move: P(0) = prod_i (beta + i) / (alpha + beta + i).
    assert prior[0] == pytest.approx(np.prod([(0.9 + i) / (1.0 + i) for i in range(10)]))
    assert np.all(np.diff(prior[:9]) < 0)


def test_dynamic_convolution_attention_moves_forward_by_its_prior():
    """With the learned energies silenced the weights are the prior shifted to where the
    focus was (0 to prior_length - 1 tokens on, cut at the text's end and renormalised); at
    initialisation the learned terms are too small to move it back or past the prior."""
    rng = np.random.default_rng(0)
    batch, tokens, real = 3, 30, np.array([30, 22, 12])
    layer = DynamicConvolutionAttention(16, 4, 4, kernel_size=21, prior_length=11)
    layer.build((None, 24), (None, None, 6))
    previous = np.zeros((batch, tokens), "float32")
    at = np.array([5, 14, 9])
    previous[np.arange(batch), at] = 1.0
    mask = np.arange(tokens)[None, :] < real[:, None]
    query = rng.normal(0, 3.0, size=(batch, 24)).astype("float32")
    memory = rng.normal(size=(batch, tokens, 6)).astype("float32")

    def attend():
        context, weights = layer(query, previous, previous, memory, memory, mask)
        return np.asarray(context), np.asarray(weights)

    context, weights = attend()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(context, np.einsum("bt,btm->bm", weights, memory), atol=1e-5)
    for row in range(batch):
        allowed = np.zeros(tokens, bool)
        allowed[at[row] : min(at[row] + 11, real[row])] = True
        assert weights[row, ~allowed].sum() < 1e-4, (row, weights[row].round(3))

    layer.energy.kernel.assign(np.zeros(layer.energy.kernel.shape, "float32"))
    _, weights = attend()
    prior = beta_binomial_prior(11, 0.1, 0.9)
    for row in range(batch):
        moves = min(11, real[row] - at[row])
        expected = np.full(tokens, 1e-6)  # the log floor: the learned terms can only overcome it
        expected[at[row] : at[row] + moves] = np.maximum(prior[:moves], 1e-6)
        expected[real[row] :] = 0.0
        np.testing.assert_allclose(weights[row], expected / expected.sum(), rtol=1e-4, atol=1e-7)


def test_dynamic_convolution_attention_config_round_trips_and_rejects_bad_sizes():
    model = Tacotron2.from_preset(
        "small", attention="dynamic_convolution", location_kernel_size=21, dynamic_filters=3
    )
    layer = model.decoder.attention
    assert isinstance(layer, DynamicConvolutionAttention) and layer.dynamic_filters == 3
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    assert model.decoder.get_config()["attention"] == "dynamic_convolution"
    with pytest.raises(ValueError, match="prior_length"):
        DynamicConvolutionAttention(8, 4, 4, kernel_size=15, prior_length=11)
    with pytest.raises(ValueError, match="'location' or 'dynamic_convolution'"):
        Tacotron2Config(attention="gmm")


def test_zoneout_cell_and_always_on_prenet_dropout():
    cell = ZoneoutLSTMCell(8, zoneout=0.5, seed=0)
    cell.build((None, 4))
    x = np.ones((3, 4), "float32")
    h0, c0 = np.full((3, 8), 0.3, "float32"), np.full((3, 8), -0.2, "float32")
    # Inference: the expectation 0.5 * previous + 0.5 * plain LSTM update.
    plain = ZoneoutLSTMCell(8, zoneout=0.0)
    plain.build((None, 4))
    plain.set_weights(cell.get_weights())
    h_new, c_new = (np.asarray(v) for v in plain(x, (h0, c0)))
    h, c = (np.asarray(v) for v in cell(x, (h0, c0), training=False))
    np.testing.assert_allclose(h, 0.5 * h0 + 0.5 * h_new, atol=1e-6)
    np.testing.assert_allclose(c, 0.5 * c0 + 0.5 * c_new, atol=1e-6)
    # Training: every unit is either kept or updated.
    h, _ = (np.asarray(v) for v in cell(x, (h0, c0), training=True))
    kept, updated = np.isclose(h, h0), np.isclose(h, h_new)
    assert np.all(kept | updated) and kept.any() and updated.any()

    model = Tacotron2.from_preset("small", seed=0)
    frame = np.ones((2, N_MELS), "float32")
    first, second = (np.asarray(model.decoder.prenet(frame)) for _ in range(2))
    assert not np.allclose(first, second)  # no `training` flag: dropout is always on


def test_alignment_score_separates_diagonal_from_uniform():
    steps, tokens = 12, 6
    diagonal = np.zeros((1, steps, tokens))
    diagonal[0, np.arange(steps), np.arange(steps) * tokens // steps] = 1.0
    uniform = np.full((1, steps, tokens), 1.0 / tokens)
    good = alignment_score(diagonal, [tokens], [2 * steps], reduction_factor=2)
    flat = alignment_score(uniform, [tokens], [2 * steps], reduction_factor=2)
    assert good == {"focus_rate": 1.0, "diagonality": 1.0}
    assert flat["focus_rate"] == pytest.approx(1.0 / tokens)
    assert flat["diagonality"] < 0.5


def test_presets_and_overrides():
    assert set(CONFIGS) == set(registry.PRESETS)
    model = Tacotron2.from_preset("small", reduction_factor=4, mel_loss="l1")
    assert model.model_config.reduction_factor == 4 and model.model_config.mel_loss == "l1"
    with pytest.raises(ValueError, match="preset"):
        Tacotron2.from_preset("huge")
    with pytest.raises(ValueError, match="no_such_field"):
        Tacotron2.from_preset("small", no_such_field=1)


def _overfit_batch(vocab_size: int) -> dict:
    """4 utterances of 6-10 tokens; each token holds its own mel vector for 3-4 frames."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(vocab_size, N_MELS)).astype("float32")
    token_lengths = [6, 8, 9, 10]
    tokens, mels = [], []
    for length in token_lengths:
        ids = rng.integers(1, vocab_size, length)
        durations = rng.integers(3, 5, length)
        while not 20 <= durations.sum() <= 40:
            durations = rng.integers(3, 5, length)
        tokens.append(ids)
        mels.append(np.repeat(table[ids], durations, axis=0))
    mel_lengths = [len(m) for m in mels]
    batch = _batch(token_lengths, mel_lengths, vocab_size)
    for i, (ids, mel) in enumerate(zip(tokens, mels, strict=True)):
        batch["token_ids"][i, : len(ids)] = ids
        batch["mel"][i, : len(mel)] = mel
    return batch


def test_small_overfits_and_aligns_diagonally():
    keras.utils.set_random_seed(0)
    model = Tacotron2.from_preset("small", seed=0, guided_attention=True)
    batch = _overfit_batch(model.model_config.vocab_size)
    model.compile(optimizer=keras.optimizers.Adam(OVERFIT_LR, clipnorm=1.0))
    start = model.evaluate(batch, batch_size=4, verbose=0, return_dict=True)

    repeated = {k: np.concatenate([v] * OVERFIT_STEPS) for k, v in batch.items()}
    times = []  # end of each step: steps/s after the first (compiling) one
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda *_, **__: times.append(time.perf_counter())
    )
    history = model.fit(
        repeated, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[clock]
    )
    end = model.evaluate(batch, batch_size=4, verbose=0, return_dict=True)
    for name in ("mel_loss", "postnet_mel_loss", "gate_loss", "guided_attention_loss"):
        assert name in history.history

    alignment = np.asarray(model(batch, training=False)["alignment"])
    score = alignment_score(
        alignment, batch["token_length"], batch["mel_length"], model.model_config.reduction_factor
    )
    print(
        f"overfit: loss {start['loss']:.3f} -> {end['loss']:.3f} in {OVERFIT_STEPS} steps "
        f"({(len(times) - 1) / (times[-1] - times[0]):.1f} steps/s), alignment {score}"
    )
    assert end["loss"] < OVERFIT_LOSS_FRACTION * start["loss"]
    assert score["diagonality"] > OVERFIT_MIN_DIAGONALITY
    assert score["focus_rate"] > OVERFIT_MIN_FOCUS_RATE

    # The gate learned the end: free-running synthesis stops near each true length.
    synthesis = model.infer(batch["token_ids"], batch["token_length"], max_frames=80)
    stopped_at = np.asarray(synthesis["mel_length"])
    print(f"overfit: stops at {stopped_at.tolist()}, true ends {batch['mel_length'].tolist()}")
    assert np.asarray(synthesis["stopped"]).all()
    np.testing.assert_allclose(
        stopped_at, batch["mel_length"], atol=OVERFIT_STOP_TOLERANCE_FRAMES, rtol=0
    )
