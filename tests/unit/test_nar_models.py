"""Unit tests for the non-autoregressive families (FastSpeech, Mixer-TTS) and their alignment."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest

from models.layers.alignment import (
    beta_binomial_log_prior,
    gaussian_log_likelihood,
    monotonic_alignment_search,
)
from models.layers.nar_blocks import (
    ChunkedDepthwiseConv1D,
    DurationPredictor,
    FFTBlock,
    LengthRegulator,
)
from models.registry import build_model, model_class

FAMILIES = ("attention", "mlp")  # FastSpeech, Mixer-TTS
N_MELS = 80
# Parameter-count ranges per family x preset (FastSpeech base is the paper's 6+6 x 384/1536
# with kernel-3 convs; Mixer-TTS base the paper's 6+9 x 384).
PARAM_RANGES = {
    ("attention", "small"): (0.3e6, 1.0e6),
    ("attention", "base"): (45e6, 56e6),
    ("mlp", "small"): (0.1e6, 0.5e6),
    ("mlp", "base"): (15e6, 24e6),
}
# Overfit: 4 piecewise-constant utterances, small preset, Adam 1e-3, batch 4.
OVERFIT_STEPS = 200
TOTAL_LOSS_FRACTION = 0.5  # last-step total loss < this x first-step total loss
MEL_LOSS_FRACTION = 0.4  # ... and the same for the mel L1 alone
PRIOR_LOSS_FRACTION = 0.5  # ... and for the token means' prior loss
# Token ends within one frame of the true ones after the overfit: an even split of each
# utterance's frames scores 0.35 on these utterances; measured 0.52 (attention), 0.65 (mlp).
BOUNDARY_SHARE = 0.45


def _batch(token_length, mel_length, max_tokens=None, max_frames=None, seed=0, vocab=20):
    """Random batch in the registry's layout, zero-padded to (max_tokens, max_frames)."""
    rng = np.random.default_rng(seed)
    token_length = np.asarray(token_length, "int32")
    mel_length = np.asarray(mel_length, "int32")
    max_tokens = max_tokens or int(token_length.max())
    max_frames = max_frames or int(mel_length.max())
    tokens = np.zeros((len(token_length), max_tokens), "int32")
    mel = np.zeros((len(token_length), max_frames, N_MELS), "float32")
    for b, (t, f) in enumerate(zip(token_length, mel_length, strict=True)):
        tokens[b, :t] = rng.integers(1, vocab, t)
        mel[b, :f] = rng.normal(size=(f, N_MELS))
    return {"token_ids": tokens, "token_length": token_length, "mel": mel, "mel_length": mel_length}


def _repad(batch, max_tokens, max_frames):
    """The same utterances with more padding."""
    tokens = np.zeros((len(batch["token_ids"]), max_tokens), "int32")
    tokens[:, : batch["token_ids"].shape[1]] = batch["token_ids"]
    mel = np.zeros((len(batch["mel"]), max_frames, N_MELS), "float32")
    mel[:, : batch["mel"].shape[1]] = batch["mel"]
    return {**batch, "token_ids": tokens, "mel": mel}


def _smooth_utterances(seed=0, vocab=20):
    """4 utterances of 8-12 tokens whose mels repeat one smooth template per token id for 1-8
    frames, so an exact alignment exists and an even split of the frames is far from it.
    Returns (batch, true durations)."""
    rng = np.random.default_rng(seed)
    templates = np.cumsum(rng.normal(size=(vocab, N_MELS)), axis=1)
    templates = (templates - templates.mean(1, keepdims=True)) / templates.std(1, keepdims=True)
    tokens, mel = np.zeros((4, 12), "int32"), np.zeros((4, 60, N_MELS), "float32")
    durations = []
    for b in range(4):
        ids = rng.integers(1, vocab, int(rng.integers(8, 13)))
        d = rng.integers(1, 9, len(ids))
        while d.sum() > 60:
            d[np.argmax(d)] -= 1
        tokens[b, : len(ids)] = ids
        mel[b, : d.sum()] = np.repeat(templates[ids], d, axis=0)
        durations.append(d)
    batch = {
        "token_ids": tokens,
        "token_length": np.array([len(d) for d in durations], "int32"),
        "mel": mel,
        "mel_length": np.array([d.sum() for d in durations], "int32"),
    }
    return batch, durations


def _boundaries_within_one_frame(durations, true_durations) -> float:
    """Share of token ends that are at most one frame from the true ones."""
    return float(
        np.mean(
            np.concatenate(
                [
                    np.abs(np.cumsum(durations[b, : len(d)]) - np.cumsum(d)) <= 1
                    for b, d in enumerate(true_durations)
                ]
            )
        )
    )


# --- alignment ---


def test_mas_recovers_known_path():
    durations = [[3, 1, 4, 2, 2], [2, 2, 3, 0, 0]]
    token_length, mel_length = np.array([5, 3]), np.array([12, 7])
    log_attn = np.full((2, 14, 5), math.log(0.01), "float32")
    for b, row in enumerate(durations):
        start = np.cumsum([0, *row])
        for t, d in enumerate(row):
            log_attn[b, start[t] : start[t] + d, t] = math.log(0.9)
    hard, found = monotonic_alignment_search(log_attn, token_length, mel_length)
    hard, found = np.asarray(hard), np.asarray(found)
    np.testing.assert_array_equal(found, durations)
    np.testing.assert_array_equal(found.sum(1), mel_length)
    np.testing.assert_array_equal(hard.sum(-1), np.arange(14)[None] < mel_length[:, None])


def test_mas_matches_brute_force_and_keeps_every_token():
    rng = np.random.default_rng(1)
    frames, tokens = 9, 4
    for _ in range(4):
        log_attn = rng.normal(size=(1, frames, tokens)).astype("float32")
        best, best_path = -np.inf, None
        for cuts in itertools.combinations(range(1, frames), tokens - 1):
            bounds = (0, *cuts, frames)
            score = sum(log_attn[0, bounds[t] : bounds[t + 1], t].sum() for t in range(tokens))
            if score > best:
                best, best_path = score, np.diff(bounds)
        _, found = monotonic_alignment_search(log_attn, np.array([tokens]), np.array([frames]))
        np.testing.assert_array_equal(np.asarray(found)[0], best_path)
    # Random scores, ragged lengths: durations sum to mel_length and are >= 1 per real token.
    token_length, mel_length = np.array([7, 3, 5]), np.array([20, 3, 11])
    log_attn = rng.normal(size=(3, 24, 9)).astype("float32") * 5
    _, found = monotonic_alignment_search(log_attn, token_length, mel_length)
    found = np.asarray(found)
    assert found.dtype == np.int32
    # Garbage in the padding changes nothing.
    noisy = log_attn + 50 * (np.arange(24)[None, :, None] >= mel_length[:, None, None])
    noisy = noisy + 50 * (np.arange(9)[None, None, :] >= token_length[:, None, None])
    np.testing.assert_array_equal(
        monotonic_alignment_search(noisy, token_length, mel_length)[1], found
    )
    np.testing.assert_array_equal(found.sum(1), mel_length)
    for b, t in enumerate(token_length):
        assert (found[b, :t] >= 1).all() and (found[b, t:] == 0).all()


def test_gaussian_likelihood_and_prior():
    rng = np.random.default_rng(0)
    mel, means = rng.normal(size=(2, 6, N_MELS)), rng.normal(size=(2, 4, N_MELS))
    expected = -0.5 * ((mel[:, :, None] - means[:, None]) ** 2).sum(-1) / N_MELS
    got = np.asarray(gaussian_log_likelihood(mel.astype("float32"), means.astype("float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # Beta-binomial prior against a math.lgamma reference: log BetaBinom(k; T, f+1, F-f).
    tokens, frames = 5, 12
    prior = np.asarray(beta_binomial_log_prior(np.array([tokens]), np.array([frames]), 7, 14))
    lbeta = lambda x, y: math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    for f in range(frames):
        a, b = f + 1, frames - f
        for k in range(tokens):
            log_choose = math.lgamma(tokens + 1) - math.lgamma(k + 1) - math.lgamma(tokens - k + 1)
            p = math.exp(log_choose + lbeta(k + a, tokens - k + b) - lbeta(a, b))
            assert prior[0, f, k] == pytest.approx(math.log(p + 1e-8), abs=1e-3)
    assert (prior[0, frames:] == 0).all() and (prior[0, :, tokens:] == 0).all()


# --- blocks ---


def test_length_regulator_and_depthwise_conv():
    x = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    frames, alignment, lengths = LengthRegulator()(x, np.array([[1, 2, 0], [3, 1, 1]]))
    np.testing.assert_array_equal(np.asarray(lengths), [3, 5])
    np.testing.assert_array_equal(np.asarray(frames)[0, :3], x[0, [0, 1, 1]])
    np.testing.assert_array_equal(np.asarray(frames)[0, 3:], 0)
    np.testing.assert_array_equal(np.asarray(frames)[1], x[1, [0, 0, 0, 1, 2]])
    assert np.asarray(alignment).shape == (2, 5, 3)
    capped, _, lengths = LengthRegulator()(x, np.array([[1, 2, 0], [3, 1, 1]]), max_frames=4)
    assert np.asarray(capped).shape == (2, 4, 2)
    np.testing.assert_array_equal(np.asarray(lengths), [3, 4])
    # Wide depthwise kernel (TF CPU crashes on these natively) against numpy.
    conv = ChunkedDepthwiseConv1D(17)
    signal = np.random.default_rng(0).normal(size=(2, 9, 3)).astype("float32")
    out = np.asarray(conv(signal))
    kernel, bias = np.asarray(conv.kernel)[:, :, 0], np.asarray(conv.bias)
    padded = np.pad(signal, ((0, 0), (8, 8), (0, 0)))
    expected = sum(padded[:, j : j + 9] * kernel[j] for j in range(17)) + bias
    np.testing.assert_allclose(out, expected, atol=1e-5)


# --- models ---


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("preset", ("small", "base"))
def test_output_shapes_and_param_counts(family, preset):
    model = build_model(family, preset)
    batch = _batch([5, 3], [12, 8])
    out = model(batch, training=False)
    params = model.count_params()
    print(f"{model_class(family).__name__} {preset}: {params:,} parameters")
    low, high = PARAM_RANGES[(family, preset)]
    assert low <= params <= high
    assert tuple(out["mel"].shape) == (2, 12, N_MELS)
    assert tuple(out["alignment"].shape) == (2, 12, 5)
    np.testing.assert_array_equal(np.asarray(out["alignment"]).sum(-1)[1], [1] * 8 + [0] * 4)
    assert tuple(out["aligned_means"].shape) == (2, 12, N_MELS)
    assert tuple(out["durations"].shape) == (2, 5)
    assert tuple(out["log_duration_pred"].shape) == (2, 5)
    np.testing.assert_array_equal(np.asarray(out["durations"]).sum(1), [12, 8])
    if preset == "small":
        synth = model.infer(batch["token_ids"], batch["token_length"], max_frames=16)
        assert tuple(synth["mel"].shape) == (2, 16, N_MELS)
        durations = np.asarray(synth["durations"])
        assert (durations[0] >= 1).all() and (durations[1, 3:] == 0).all()
        np.testing.assert_array_equal(
            np.asarray(synth["mel_length"]), np.minimum(durations.sum(1), 16)
        )


def test_mlp_stacks_end_with_a_layer_norm():
    """Mixer-TTS's blocks are pre-norm, so each stack ends with the reference's LayerNorm:
    its output is normalised over channels at real positions and zero at padding."""
    model = build_model("mlp", "small")
    model(_batch([5, 3], [12, 8]), training=False)
    for stack in (model.encoder_blocks, model.decoder_blocks):
        assert [block.final_norm is not None for block in stack] == [False] * (len(stack) - 1) + [
            True
        ]
    rng = np.random.default_rng(0)
    x = (3.0 + 5.0 * rng.standard_normal((2, 6, model.model_config.hidden_dim))).astype("float32")
    mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
    y = np.asarray(model.encoder_blocks[-1](x, padding_mask=mask, training=False))
    np.testing.assert_allclose(y[mask].mean(-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(y[mask].std(-1), 1.0, atol=1e-2)
    assert np.all(y[~mask] == 0.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_extra_padding_does_not_change_real_positions(family):
    keras.utils.set_random_seed(0)
    model = build_model(family, "small", postnet_layers=2)
    token_length, mel_length = np.array([7, 4, 6]), np.array([21, 13, 17])
    batch = _batch(token_length, mel_length, seed=3)
    out = model(batch, training=False)
    out_padded = model(_repad(batch, 12, 30), training=False)
    np.testing.assert_array_equal(out["durations"], np.asarray(out_padded["durations"])[:, :7])
    for b, (t, f) in enumerate(zip(token_length, mel_length, strict=True)):
        for key in ("mel", "mel_before_postnet"):
            np.testing.assert_allclose(out[key][b, :f], out_padded[key][b, :f], atol=1e-5)
        np.testing.assert_array_equal(
            out["alignment"][b, :f, :t], np.asarray(out_padded["alignment"])[b, :f, :t]
        )
        np.testing.assert_allclose(
            out["log_duration_pred"][b, :t], out_padded["log_duration_pred"][b, :t], atol=1e-5
        )
    synth = model.infer(batch["token_ids"], token_length)
    padded_tokens = _repad(batch, 12, 21)["token_ids"]
    synth_padded = model.infer(padded_tokens, token_length)
    np.testing.assert_array_equal(synth["mel_length"], synth_padded["mel_length"])
    for b, f in enumerate(np.asarray(synth["mel_length"])):
        np.testing.assert_allclose(synth["mel"][b, :f], synth_padded["mel"][b, :f], atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_config_round_trip(family, tmp_path):
    model = build_model(family, "small", postnet_layers=2, vocab_size=31)
    batch = _batch([6, 4], [15, 11], vocab=31)
    expected = model(batch, training=False)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone(batch, training=False)
    clone.set_weights(model.get_weights())
    got = clone(batch, training=False)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(expected[key]), np.asarray(got[key]))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(batch, training=False)["mel"], expected["mel"])
    with pytest.raises(ValueError, match="unknown config fields"):
        build_model(family, "small", hidden=3)


def test_fft_block_attention_dropout_is_its_own_setting():
    """attention_dropout reaches the attention probabilities, round-trips, and a block saved
    before the field existed keeps its old behaviour (attention dropout = dropout)."""
    block = FFTBlock(16, 2, 32, dropout=0.1, attention_dropout=0.0)
    block.build((None, None, 16))
    assert block.attention.dropout == 0.0 and block.dropout_layer.rate == 0.1
    clone = FFTBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    old_config = {k: v for k, v in block.get_config().items() if k != "attention_dropout"}
    old = FFTBlock.from_config(old_config)
    old.build((None, None, 16))
    assert old.attention_dropout == 0.1 and old.attention.dropout == 0.1
    # With attention dropout off and no residual dropout, a training call is deterministic.
    quiet = FFTBlock(16, 2, 32, dropout=0.0, attention_dropout=0.0)
    x = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2])
    np.testing.assert_array_equal(
        quiet(x, padding_mask=mask, training=True), quiet(x, padding_mask=mask, training=True)
    )
    noisy = FFTBlock(16, 2, 32, dropout=0.0, attention_dropout=0.5)
    assert not np.allclose(
        noisy(x, padding_mask=mask, training=True), noisy(x, padding_mask=mask, training=True)
    )


def test_small_presets_dropout_and_embedding_scale():
    """attention/small drops no attention probabilities (a fifth of its CPU step) but keeps the
    residual dropout, and starts its token embeddings at the sine position code's scale; mlp
    keeps Keras's uniform(-0.05, 0.05) start."""
    keras.utils.set_random_seed(0)
    attention = build_model("attention", "small")
    attention(_batch([5, 3], [12, 8]), training=False)
    for block in attention.encoder_blocks + attention.decoder_blocks:
        assert block.attention.dropout == 0.0 and block.dropout == 0.1
    std = float(np.std(np.asarray(attention.embedding.embeddings)))
    assert 0.9 < std < 1.1, std
    mlp = build_model("mlp", "small")
    mlp(_batch([5, 3], [12, 8]), training=False)
    assert float(np.max(np.abs(np.asarray(mlp.embedding.embeddings)))) <= 0.05
    assert build_model("attention", "base").model_config.attention_dropout == 0.1


@pytest.mark.parametrize("family", FAMILIES)
def test_overfits_four_utterances(family):
    import tensorflow as tf  # only to feed model.fit here; the models never import it

    keras.utils.set_random_seed(0)
    batch, true_durations = _smooth_utterances()
    model = build_model(family, "small", vocab_size=20)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = tf.data.Dataset.from_tensors(batch).repeat()
    # One step per epoch, so History holds every step's loss rather than running means.
    history = model.fit(data, epochs=OVERFIT_STEPS, steps_per_epoch=1, verbose=0).history
    first = {key: values[0] for key, values in history.items()}
    last = {key: values[-1] for key, values in history.items()}
    print(f"{family}: first step {first}\n{family}: step {OVERFIT_STEPS} {last}")
    assert last["loss"] < TOTAL_LOSS_FRACTION * first["loss"]
    assert last["mel_loss"] < MEL_LOSS_FRACTION * first["mel_loss"]
    assert last["prior_loss"] < PRIOR_LOSS_FRACTION * first["prior_loss"]

    durations = np.asarray(model(batch, training=False)["durations"])
    np.testing.assert_array_equal(durations.sum(1), batch["mel_length"])
    even = np.zeros_like(durations)
    for b, d in enumerate(true_durations):
        even[b, : len(d)] = np.diff(np.round(np.arange(len(d) + 1) * d.sum() / len(d)))
    share = _boundaries_within_one_frame(durations, true_durations)
    print(f"{family}: {share:.0%} of token ends within a frame of the true ones")
    assert share >= BOUNDARY_SHARE
    assert share >= _boundaries_within_one_frame(even, true_durations) + 0.1
    for b, d in enumerate(true_durations):
        assert (durations[b, : len(d)] >= 1).all()
    # The spread loss reaches the duration spread (it starts at 0, i.e. variance 1, and the
    # residuals of an overfit predictor are far smaller).
    assert float(model.duration_predictor.residual_log_variance) < -0.1


def test_duration_predictor_speaks_at_the_mean_duration():
    """Durations whose log has irreducible noise: frames at the lognormal mean add up to the
    true total, the median (exp of the regression) falls ~20% short, and the spread loss is
    lowest at the residuals' mean square."""
    rng = np.random.default_rng(0)
    predictor = DurationPredictor(8, 3, 0.0)
    predictor.build((None, None, 4))
    mu = rng.uniform(1.0, 2.5, size=(8, 50)).astype("float32")  # the best a predictor can do
    noise = rng.normal(0.0, math.sqrt(0.4), size=mu.shape).astype("float32")
    true_frames = np.maximum(np.round(np.exp(mu + noise) - 1.0), 1.0)
    mask = np.ones_like(mu)

    log_target = np.log(true_frames + 1.0).astype("float32")
    mean_square = float(np.mean(np.square(mu - log_target)))
    losses = {}
    for shift in (-0.3, 0.0, 0.3):
        predictor.residual_log_variance.assign(math.log(mean_square) + shift)
        losses[shift] = float(predictor.spread_loss(mu, log_target, mask))
    assert losses[0.0] < losses[-0.3] and losses[0.0] < losses[0.3]

    predictor.residual_log_variance.assign(math.log(mean_square))
    mean_total = float(np.sum(predictor.frames(mu, mean=True)))
    median_total = float(np.sum(predictor.frames(mu, mean=False)))
    assert 0.95 < mean_total / true_frames.sum() < 1.05
    assert median_total / true_frames.sum() < 0.9
