"""Tacotron 2 building blocks (NVIDIA model.py's LocationLayer/Attention/Prenet/Postnet/
Encoder/Decoder), with teacher-forced and free-running decoding side by side."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
from keras import ops

NEG_INF = -1e9  # masked attention energy; the softmax runs in float32, where -1e9 is finite


def offset_seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


def attend(energies, token_mask, memory, dtype):
    """(context [B, M], weights [B, T]): softmax of the energies over the real tokens.

    In float32 under mixed precision: in float16 -1e9 is -inf and small weights underflow."""
    energies = ops.where(token_mask, ops.cast(energies, "float32"), NEG_INF)
    weights = ops.cast(ops.softmax(energies, axis=-1), dtype)
    return ops.einsum("bt,btm->bm", weights, memory), weights


@keras.saving.register_keras_serializable(package="tts")
class ZoneoutLSTMCell(keras.layers.Layer):
    """LSTM cell with zoneout (Krueger et al. 2017) on h and c.

    Training keeps each unit's previous value with probability `zoneout`; inference uses the
    expectation, a fixed blend of previous and new state.
    """

    def __init__(self, units: int, zoneout: float = 0.1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.zoneout = zoneout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        four = 4 * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], four), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, four), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(four,), initializer=self._bias_init, name="bias")

    def _bias_init(self, shape, dtype=None):
        # Forget-gate bias 1 (Jozefowicz et al. 2015), as keras.layers.LSTM.
        u = self.units
        return ops.concatenate(
            [ops.zeros((u,), dtype), ops.ones((u,), dtype), ops.zeros((2 * u,), dtype)]
        )

    def sample_zoneout_masks(self, steps, batch) -> tuple:
        """Float 0/1 [steps, batch, units] pair (h, c): 1 keeps the previous value.

        Drawn outside the recurrence so no random state is touched inside scan bodies.
        """
        shape = (steps, batch, self.units)
        return tuple(
            ops.cast(
                keras.random.uniform(shape, seed=self.seed_generator) < self.zoneout, "float32"
            )
            for _ in range(2)
        )

    def call(self, inputs, states, zoneout_masks=None, training=False):
        h_prev, c_prev = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c_prev + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        if self.zoneout == 0.0:
            return h, c
        if not training:
            keep_h = keep_c = self.zoneout  # the expectation of the training-time blend
        elif zoneout_masks is None:
            keep_h, keep_c = (m[0] for m in self.sample_zoneout_masks(1, ops.shape(h)[0]))
        else:
            keep_h, keep_c = zoneout_masks
        return keep_h * h_prev + (1.0 - keep_h) * h, keep_c * c_prev + (1.0 - keep_c) * c

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "zoneout": self.zoneout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="tts")
class Tacotron2Prenet(keras.layers.Layer):
    """Dense + ReLU stack whose dropout ignores `training` (Tacotron 2's source of variety).

    Pass `noise` (from `sample_noise`) to use pre-drawn keep masks, as loop bodies must.
    """

    def __init__(self, units: tuple[int, ...], dropout: float = 0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(units)
        self.dropout = dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.dense_layers = [
            keras.layers.Dense(u, use_bias=False, name=f"dense_{i}")
            for i, u in enumerate(self.units)
        ]

    def build(self, input_shape):
        dim = input_shape[-1]
        for layer, units in zip(self.dense_layers, self.units, strict=True):
            layer.build((None, dim))
            dim = units

    def sample_noise(self, steps, batch) -> tuple:
        """Scaled keep masks, one float [steps, batch, units_i] per layer."""
        if self.dropout == 0.0:
            return tuple(ops.ones((steps, batch, u)) for u in self.units)
        scale = 1.0 / (1.0 - self.dropout)
        return tuple(
            ops.cast(
                keras.random.uniform((steps, batch, u), seed=self.seed_generator) >= self.dropout,
                self.compute_dtype,
            )
            * scale
            for u in self.units
        )

    def call(self, inputs, noise=None):
        x = inputs
        for i, layer in enumerate(self.dense_layers):
            x = ops.relu(layer(x))
            if noise is not None:
                x = x * noise[i]
            elif self.dropout > 0.0:
                x = keras.random.dropout(x, self.dropout, seed=self.seed_generator)
        return x

    def get_config(self):
        return {
            **super().get_config(),
            "units": list(self.units),
            "dropout": self.dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="tts")
class LocationSensitiveAttention(keras.layers.Layer):
    """Additive attention whose energies also see conv features of previous and cumulative
    weights (Chorowski et al. 2015); padded tokens get zero weight."""

    def __init__(
        self, attention_dim: int, location_filters: int, location_kernel_size: int, **kwargs
    ):
        super().__init__(**kwargs)
        self.attention_dim = attention_dim
        self.location_filters = location_filters
        self.location_kernel_size = location_kernel_size
        self.query_layer = keras.layers.Dense(attention_dim, use_bias=False, name="query")
        self.memory_layer = keras.layers.Dense(attention_dim, use_bias=False, name="memory")
        self.location_conv = keras.layers.Conv1D(
            location_filters,
            location_kernel_size,
            padding="same",
            use_bias=False,
            name="location_conv",
        )
        self.location_dense = keras.layers.Dense(
            attention_dim, use_bias=False, name="location_dense"
        )
        self.energy = keras.layers.Dense(1, use_bias=False, name="energy")

    def build(self, query_shape, memory_shape):
        self.query_layer.build(query_shape)
        self.memory_layer.build(memory_shape)
        self.location_conv.build((None, None, 2))
        self.location_dense.build((None, None, self.location_filters))
        self.energy.build((None, None, self.attention_dim))

    def initial_alignment(self, batch, tokens, dtype):
        return ops.zeros((batch, tokens), dtype)

    def process_memory(self, memory):
        """Memory projection: computed once per utterance, reused at every step."""
        return self.memory_layer(memory)

    def call(self, query, alignment, alignment_cum, memory, processed_memory, token_mask):
        # query [B, Q]; alignment, alignment_cum [B, T]; memory [B, T, M]; token_mask bool [B, T]
        location = self.location_dense(
            self.location_conv(ops.stack([alignment, alignment_cum], axis=-1))
        )
        energies = self.energy(
            ops.tanh(self.query_layer(query)[:, None, :] + location + processed_memory)
        )[..., 0]
        return attend(energies, token_mask, memory, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "attention_dim": self.attention_dim,
            "location_filters": self.location_filters,
            "location_kernel_size": self.location_kernel_size,
        }


def beta_binomial_prior(length: int, alpha: float, beta: float) -> np.ndarray:
    """P(k) for k = 0..length-1 under BetaBinomial(length - 1, alpha, beta): how many tokens
    the attention moves on per decoder step, a priori."""
    n = length - 1

    def log_beta(a, b):
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def log_choose(k):
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    return np.array(
        [
            math.exp(log_choose(k) + log_beta(k + alpha, n - k + beta) - log_beta(alpha, beta))
            for k in range(length)
        ]
    )


@keras.saving.register_keras_serializable(package="tts")
class DynamicConvolutionAttention(keras.layers.Layer):
    """Location-relative attention (Battenberg et al. 2020, "DCA"): the energies see only the
    previous alignment, through static filters, filters the query predicts, and a causal
    beta-binomial prior over moving 0 to `prior_length - 1` tokens on per step; moving back or
    further costs log(1e-6) in energy.

    No content term: where the attention goes next does not depend on what the (blurry,
    free-running) frames look like, only on how far it should move, so a voice that aligns
    teacher-forced also reads its text in order on its own outputs. Same call signature as
    LocationSensitiveAttention; the alignment starts on the first token.
    """

    def __init__(
        self,
        attention_dim: int,
        static_filters: int,
        dynamic_filters: int,
        kernel_size: int,
        prior_length: int = 11,
        prior_alpha: float = 0.1,
        prior_beta: float = 0.9,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kernel_size % 2 == 0 or prior_length > kernel_size // 2 + 1:
            raise ValueError(
                f"DynamicConvolutionAttention needs an odd kernel_size and prior_length <= "
                f"kernel_size // 2 + 1, got kernel_size={kernel_size}, "
                f"prior_length={prior_length}"
            )
        self.attention_dim = attention_dim
        self.static_filters = static_filters
        self.dynamic_filters = dynamic_filters
        self.kernel_size = kernel_size
        self.prior_length = prior_length
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.filter_hidden = keras.layers.Dense(
            attention_dim, activation="tanh", name="filter_hidden"
        )
        self.filter_output = keras.layers.Dense(
            kernel_size * dynamic_filters, use_bias=False, name="filter_output"
        )
        self.static_dense = keras.layers.Dense(attention_dim, name="static_dense")
        self.dynamic_dense = keras.layers.Dense(attention_dim, use_bias=False, name="dynamic_dense")
        self.energy = keras.layers.Dense(1, use_bias=False, name="energy")
        # Window offset of column k is k - centre; the prior weighs offsets 0, -1, ..., i.e. a
        # move of 0, 1, ... tokens forward from where the previous step attended.
        centre = kernel_size // 2
        prior = np.zeros((kernel_size,), "float32")
        prior[centre - np.arange(prior_length)] = beta_binomial_prior(
            prior_length, prior_alpha, prior_beta
        )
        self.prior = prior

    def build(self, query_shape, memory_shape):
        self.static_kernel = self.add_weight(
            shape=(self.kernel_size, self.static_filters),
            initializer="glorot_uniform",
            name="static_kernel",
        )
        self.filter_hidden.build(query_shape)
        self.filter_output.build((None, self.attention_dim))
        self.static_dense.build((None, None, self.static_filters))
        self.dynamic_dense.build((None, None, self.dynamic_filters))
        self.energy.build((None, None, self.attention_dim))

    def initial_alignment(self, batch, tokens, dtype):
        return ops.one_hot(ops.zeros((batch,), "int32"), tokens, dtype=dtype)

    def process_memory(self, memory):
        return memory  # no content term: nothing to precompute

    def _windows(self, alignment):
        """[B, T, K]: alignment[b, t + k - K // 2], zero outside the sequence.

        One convolution with an identity kernel: O(T * K) like a GATHER, whose gradient in
        TensorFlow's while loop is slow (training small, batch 8, 95 tokens, 480 frames: 1.44
        steps/s, 1.16 with a GATHER). A [T, T * K] shift matrix measured 1.70 at that size but
        grows with the square of the text (756 MB at 3,000 tokens)."""
        identity = ops.eye(self.kernel_size, dtype="float32")[:, None, :]  # [K, 1, K]
        return ops.conv(alignment[..., None], identity, padding="same")

    def call(self, query, alignment, alignment_cum, memory, processed_memory, token_mask):
        windows = self._windows(ops.cast(alignment, "float32"))  # [B, T, K]
        static = ops.einsum("btk,kf->btf", windows, ops.cast(self.static_kernel, "float32"))
        filters = ops.reshape(
            self.filter_output(self.filter_hidden(query)),
            (-1, self.kernel_size, self.dynamic_filters),
        )
        dynamic = ops.einsum("btk,bkf->btf", windows, ops.cast(filters, "float32"))
        hidden = ops.tanh(
            self.static_dense(ops.cast(static, self.compute_dtype))
            + self.dynamic_dense(ops.cast(dynamic, self.compute_dtype))
        )
        prior = ops.einsum("btk,k->bt", windows, ops.convert_to_tensor(self.prior, "float32"))
        energies = ops.cast(self.energy(hidden)[..., 0], "float32") + ops.log(
            ops.maximum(prior, 1e-6)
        )
        return attend(energies, token_mask, memory, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "attention_dim": self.attention_dim,
            "static_filters": self.static_filters,
            "dynamic_filters": self.dynamic_filters,
            "kernel_size": self.kernel_size,
            "prior_length": self.prior_length,
            "prior_alpha": self.prior_alpha,
            "prior_beta": self.prior_beta,
        }


@keras.saving.register_keras_serializable(package="tts")
class Tacotron2Encoder(keras.layers.Layer):
    """Embedding, conv + batch norm + ReLU + dropout blocks, then a masked BiLSTM."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 512,
        conv_layers: int = 3,
        conv_filters: int = 512,
        kernel_size: int = 5,
        dropout: float = 0.5,
        lstm_units: int = 256,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.conv_layers = conv_layers
        self.conv_filters = conv_filters
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.lstm_units = lstm_units
        self.seed = seed
        # glorot_uniform = NVIDIA's uniform(+-sqrt(3) * sqrt(2 / (vocab + dim))).
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer="glorot_uniform", name="embedding"
        )
        self.convs = [
            keras.layers.Conv1D(conv_filters, kernel_size, padding="same", name=f"conv_{i}")
            for i in range(conv_layers)
        ]
        self.norms = [keras.layers.BatchNormalization(name=f"norm_{i}") for i in range(conv_layers)]
        self.dropouts = [
            keras.layers.Dropout(dropout, seed=offset_seed(seed, i), name=f"dropout_{i}")
            for i in range(conv_layers)
        ]
        self.lstm = keras.layers.Bidirectional(
            keras.layers.LSTM(lstm_units, return_sequences=True), name="bilstm"
        )

    @property
    def output_dim(self) -> int:
        return 2 * self.lstm_units

    def build(self, input_shape=None):
        self.embedding.build((None, None))
        dim = self.embedding_dim
        for conv, norm in zip(self.convs, self.norms, strict=True):
            conv.build((None, None, dim))
            dim = self.conv_filters
            norm.build((None, None, dim))
        self.lstm.build((None, None, dim))

    def call(self, token_ids, token_mask, training=False):
        keep = ops.cast(token_mask, self.compute_dtype)[..., None]
        x = self.embedding(token_ids)
        for conv, norm, dropout in zip(self.convs, self.norms, self.dropouts, strict=True):
            # Zeroing pads before each conv makes real positions blind to how much padding follows.
            x = conv(x * keep)
            x = norm(x, training=training, mask=token_mask)
            x = dropout(ops.relu(x), training=training)
        x = self.lstm(x * keep, mask=token_mask, training=training)
        return x * keep

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "conv_layers": self.conv_layers,
            "conv_filters": self.conv_filters,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout,
            "lstm_units": self.lstm_units,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="tts")
class Tacotron2Decoder(keras.layers.Layer):
    """Autoregressive decoder: prenet, attention LSTM, attention, decoder LSTM, frame + gate.

    `call` is teacher-forced (keras.ops.scan); `infer` free-runs (keras.ops.while_loop into
    fixed-size buffers); both go through `step`, which an exporter can wrap on its own.
    """

    def __init__(
        self,
        n_mels: int = 80,
        reduction_factor: int = 1,
        prenet_units: tuple[int, ...] = (256, 256),
        prenet_dropout: float = 0.5,
        attention_rnn_units: int = 1024,
        decoder_rnn_units: int = 1024,
        attention_dim: int = 128,
        location_filters: int = 32,
        location_kernel_size: int = 31,
        zoneout: float = 0.1,
        seed: int | None = None,
        attention_window_backward: int = 1,
        attention_window_forward: int = 0,
        attention: str = "location",
        dynamic_filters: int = 8,
        prior_length: int = 11,
        prior_alpha: float = 0.1,
        prior_beta: float = 0.9,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # TensorFlow's XLA cannot compile the gradient of a scan of dynamic length ("tf2xla
        # conversion failed" at the first step); Keras reads this and trains without XLA there.
        # JAX's scan compiles.
        self.supports_jit = keras.backend.backend() != "tensorflow"
        self.n_mels = n_mels
        self.reduction_factor = reduction_factor
        self.attention_window_backward = attention_window_backward
        self.attention_window_forward = attention_window_forward
        self.prenet_units = tuple(prenet_units)
        self.prenet_dropout = prenet_dropout
        self.attention_rnn_units = attention_rnn_units
        self.decoder_rnn_units = decoder_rnn_units
        self.attention_dim = attention_dim
        self.location_filters = location_filters
        self.location_kernel_size = location_kernel_size
        self.zoneout = zoneout
        self.seed = seed
        self.attention_kind = attention
        self.dynamic_filters = dynamic_filters
        self.prior_length = prior_length
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.prenet = Tacotron2Prenet(
            self.prenet_units, prenet_dropout, seed=offset_seed(seed, 0), name="prenet"
        )
        self.attention_rnn = ZoneoutLSTMCell(
            attention_rnn_units, zoneout, seed=offset_seed(seed, 1), name="attention_rnn"
        )
        if attention == "location":
            self.attention = LocationSensitiveAttention(
                attention_dim, location_filters, location_kernel_size, name="attention"
            )
        elif attention == "dynamic_convolution":
            self.attention = DynamicConvolutionAttention(
                attention_dim,
                location_filters,
                dynamic_filters,
                location_kernel_size,
                prior_length,
                prior_alpha,
                prior_beta,
                name="attention",
            )
        else:
            raise ValueError(
                f"unknown attention {attention!r}; choose 'location' or 'dynamic_convolution'"
            )
        self.decoder_rnn = ZoneoutLSTMCell(
            decoder_rnn_units, zoneout, seed=offset_seed(seed, 2), name="decoder_rnn"
        )
        self.frame_projection = keras.layers.Dense(
            n_mels * reduction_factor, name="frame_projection"
        )
        self.gate_layer = keras.layers.Dense(reduction_factor, name="gate")  # one logit per frame

    def build(self, memory_shape):
        memory_dim = memory_shape[-1]
        self.prenet.build((None, self.n_mels))
        self.attention_rnn.build((None, self.prenet_units[-1] + memory_dim))
        self.attention.build((None, self.attention_rnn_units), (None, None, memory_dim))
        self.decoder_rnn.build((None, self.attention_rnn_units + memory_dim))
        self.frame_projection.build((None, self.decoder_rnn_units + memory_dim))
        self.gate_layer.build((None, self.decoder_rnn_units + memory_dim))

    def initial_state(self, memory) -> dict:
        batch, tokens = ops.shape(memory)[0], ops.shape(memory)[1]
        dtype = self.compute_dtype
        return {
            "attention_h": ops.zeros((batch, self.attention_rnn_units), dtype),
            "attention_c": ops.zeros((batch, self.attention_rnn_units), dtype),
            "decoder_h": ops.zeros((batch, self.decoder_rnn_units), dtype),
            "decoder_c": ops.zeros((batch, self.decoder_rnn_units), dtype),
            "alignment": self.attention.initial_alignment(batch, tokens, dtype),
            "alignment_cum": ops.zeros((batch, tokens), dtype),
            "context": ops.zeros((batch, ops.shape(memory)[2]), dtype),
        }

    def step(
        self,
        prenet_output,
        state,
        memory,
        processed_memory,
        token_mask,
        zoneout_masks=None,
        training=False,
    ):
        """One decoder step: (frames [B, r * n_mels], gate logits [B, r], alignment [B, T], state).

        `zoneout_masks` ({"attention": (h, c), "decoder": (h, c)}, one step's slice) is only
        read when training.
        """
        zoneout_masks = zoneout_masks or {}
        attention_h, attention_c = self.attention_rnn(
            ops.concatenate([prenet_output, state["context"]], axis=-1),
            (state["attention_h"], state["attention_c"]),
            zoneout_masks=zoneout_masks.get("attention"),
            training=training,
        )
        context, alignment = self.attention(
            attention_h,
            state["alignment"],
            state["alignment_cum"],
            memory,
            processed_memory,
            token_mask,
        )
        decoder_h, decoder_c = self.decoder_rnn(
            ops.concatenate([attention_h, context], axis=-1),
            (state["decoder_h"], state["decoder_c"]),
            zoneout_masks=zoneout_masks.get("decoder"),
            training=training,
        )
        hidden = ops.concatenate([decoder_h, context], axis=-1)
        new_state = {
            "attention_h": attention_h,
            "attention_c": attention_c,
            "decoder_h": decoder_h,
            "decoder_c": decoder_c,
            "alignment": alignment,
            "alignment_cum": state["alignment_cum"] + alignment,
            "context": context,
        }
        return self.frame_projection(hidden), self.gate_layer(hidden), alignment, new_state

    def inference_step(self, frame, prenet_noise, state, memory, processed_memory, token_mask):
        """Free-running step from the previous output frame [B, n_mels] (what an exporter wraps)."""
        if self.attention_window_forward > 0:
            token_mask = ops.logical_and(token_mask, self._attention_window(state["alignment"]))
        return self.step(
            self.prenet(frame, noise=prenet_noise), state, memory, processed_memory, token_mask
        )

    def _attention_window(self, previous_alignment):
        """Bool [B, T]: the tokens within [peak - backward, peak + forward] of the previous
        step's attention peak (token 0 at the first step).

        Teacher-forced, a young Tacotron 2's attention walks the diagonal long before it does
        so on its own blurry outputs: free-running it stalls or jumps, and the voice babbles
        until the gate cuts it. Only letting the peak move a few tokens per step (the attention
        constraint of ESPnet's Tacotron 2 inference) makes it read the text in order. Training
        is unchanged."""
        peak = ops.cast(ops.argmax(previous_alignment, axis=-1), "int32")[:, None]
        positions = ops.arange(ops.shape(previous_alignment)[1], dtype="int32")[None, :]
        return ops.logical_and(
            positions >= peak - self.attention_window_backward,
            positions <= peak + self.attention_window_forward,
        )

    def call(self, memory, token_mask, decoder_inputs, training=False):
        """Teacher-forced: decoder_inputs [B, steps, n_mels] are the previous frames (go first).

        Returns frames [B, steps * r, n_mels], gate logits [B, steps * r], alignments [B, steps, T].
        """
        batch, steps = ops.shape(decoder_inputs)[0], ops.shape(decoder_inputs)[1]
        # The prenet runs on all steps at once and zoneout masks are drawn up front, so no
        # random state is touched inside the scan. They travel as one [steps, B, ...] tensor:
        # keras.ops.scan on TensorFlow cannot take several xs of dynamic length.
        xs = [ops.transpose(self.prenet(decoder_inputs), (1, 0, 2))]
        use_zoneout = training and self.zoneout > 0.0
        if use_zoneout:
            xs += self.attention_rnn.sample_zoneout_masks(steps, batch)
            xs += self.decoder_rnn.sample_zoneout_masks(steps, batch)
        a, d = self.attention_rnn_units, self.decoder_rnn_units
        offsets = list(itertools.accumulate([0, self.prenet_units[-1], a, a, d, d]))
        xs = ops.concatenate(xs, axis=-1) if use_zoneout else xs[0]
        processed_memory = self.attention.process_memory(memory)

        # keras.ops.scan on TensorFlow stacks ys in the carry's structure, so the step's
        # outputs ride in the carry and the carry itself is what gets stacked.
        def body(carry, x):
            parts = [x[:, offsets[i] : offsets[i + 1]] for i in range(5 if use_zoneout else 1)]
            masks = {"attention": parts[1:3], "decoder": parts[3:5]} if use_zoneout else None
            frames, gate, _, state = self.step(
                parts[0], carry["state"], memory, processed_memory, token_mask, masks, training
            )
            carry = {"state": state, "frames": frames, "gate": gate}
            return carry, carry

        r, dtype = self.reduction_factor, self.compute_dtype
        init = {
            "state": self.initial_state(memory),
            "frames": ops.zeros((batch, r * self.n_mels), dtype),
            "gate": ops.zeros((batch, r), dtype),
        }
        _, ys = ops.scan(body, init, xs)
        return self._batch_major(ys["frames"], ys["gate"], ys["state"]["alignment"])

    def infer(self, memory, token_mask, max_steps: int, gate_threshold: float = 0.5) -> dict:
        """Free-running until every item's gate fires or after `max_steps` steps.

        An item stops at the first frame with sigmoid(gate) > gate_threshold; its mel_length
        counts frames up to and including that one. Items that never fire get
        max_steps * r frames and stopped=False.
        """
        r, n_mels = self.reduction_factor, self.n_mels
        batch, tokens = ops.shape(memory)[0], ops.shape(memory)[1]
        processed_memory = self.attention.process_memory(memory)
        prenet_noise = self.prenet.sample_noise(max_steps, batch)

        def cond(step, frame, state, frames_buffer, alignment_buffer, stopped, mel_length):
            return ops.logical_and(step < max_steps, ops.logical_not(ops.all(stopped)))

        def body(step, frame, state, frames_buffer, alignment_buffer, stopped, mel_length):
            noise = tuple(ops.take(n, step, axis=0) for n in prenet_noise)
            frames, gate, alignment, state = self.inference_step(
                frame, noise, state, memory, processed_memory, token_mask
            )
            # Fixed-size buffers written by scatter (builtin SCATTER_ND in TFLite).
            row = ops.reshape(step, (1, 1))
            frames_buffer = ops.scatter_update(frames_buffer, row, frames[None])
            alignment_buffer = ops.scatter_update(alignment_buffer, row, alignment[None])
            fired = ops.sigmoid(gate) > gate_threshold  # [B, r]
            first = ops.cast(ops.argmax(ops.cast(fired, "int32"), axis=-1), "int32")
            newly_stopped = ops.logical_and(ops.any(fired, axis=-1), ops.logical_not(stopped))
            mel_length = ops.where(newly_stopped, step * r + first + 1, mel_length)
            stopped = ops.logical_or(stopped, newly_stopped)
            frame = ops.reshape(frames, (-1, r, n_mels))[:, -1, :]
            return step + 1, frame, state, frames_buffer, alignment_buffer, stopped, mel_length

        dtype = self.compute_dtype
        loop_vars = (
            ops.convert_to_tensor(0, "int32"),
            ops.zeros((batch, n_mels), dtype),  # go frame
            self.initial_state(memory),
            ops.zeros((max_steps, batch, r * n_mels), dtype),
            ops.zeros((max_steps, batch, tokens), dtype),
            ops.zeros((batch,), "bool"),
            ops.full((batch,), max_steps * r, "int32"),
        )
        steps_run, _, _, frames, alignments, stopped, mel_length = ops.while_loop(
            cond, body, loop_vars
        )
        mel, _, alignments = self._batch_major(frames, None, alignments)
        return {
            "mel": mel,
            "mel_length": mel_length,
            "alignment": alignments,
            "stopped": stopped,
            "decoder_steps": steps_run,
        }

    def _batch_major(self, frames, gates, alignments):
        """Time-major step outputs -> batch-major frame outputs."""
        batch = ops.shape(frames)[1]
        mel = ops.reshape(ops.transpose(frames, (1, 0, 2)), (batch, -1, self.n_mels))
        if gates is not None:
            gates = ops.reshape(ops.transpose(gates, (1, 0, 2)), (batch, -1))
        return mel, gates, ops.transpose(alignments, (1, 0, 2))

    def get_config(self):
        return {
            **super().get_config(),
            "n_mels": self.n_mels,
            "reduction_factor": self.reduction_factor,
            "prenet_units": list(self.prenet_units),
            "prenet_dropout": self.prenet_dropout,
            "attention_rnn_units": self.attention_rnn_units,
            "decoder_rnn_units": self.decoder_rnn_units,
            "attention_dim": self.attention_dim,
            "location_filters": self.location_filters,
            "location_kernel_size": self.location_kernel_size,
            "zoneout": self.zoneout,
            "seed": self.seed,
            "attention_window_backward": self.attention_window_backward,
            "attention_window_forward": self.attention_window_forward,
            "attention": self.attention_kind,
            "dynamic_filters": self.dynamic_filters,
            "prior_length": self.prior_length,
            "prior_alpha": self.prior_alpha,
            "prior_beta": self.prior_beta,
        }


@keras.saving.register_keras_serializable(package="tts")
class Tacotron2Postnet(keras.layers.Layer):
    """Conv + batch norm (+ tanh except last) + dropout stack; its output is a residual."""

    def __init__(
        self,
        n_mels: int = 80,
        num_layers: int = 5,
        filters: int = 512,
        kernel_size: int = 5,
        dropout: float = 0.5,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_mels = n_mels
        self.num_layers = num_layers
        self.filters = filters
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.seed = seed
        widths = [filters] * (num_layers - 1) + [n_mels]
        self.convs = [
            keras.layers.Conv1D(w, kernel_size, padding="same", name=f"conv_{i}")
            for i, w in enumerate(widths)
        ]
        self.norms = [keras.layers.BatchNormalization(name=f"norm_{i}") for i in range(num_layers)]
        self.dropouts = [
            keras.layers.Dropout(dropout, seed=offset_seed(seed, i), name=f"dropout_{i}")
            for i in range(num_layers)
        ]

    def build(self, input_shape=None):
        dim = self.n_mels
        for conv, norm in zip(self.convs, self.norms, strict=True):
            conv.build((None, None, dim))
            dim = conv.filters
            norm.build((None, None, dim))

    def call(self, mel, frame_mask, training=False):
        keep = ops.cast(frame_mask, self.compute_dtype)[..., None]
        x = mel
        for i, (conv, norm, dropout) in enumerate(
            zip(self.convs, self.norms, self.dropouts, strict=True)
        ):
            x = norm(conv(x * keep), training=training, mask=frame_mask)
            if i < self.num_layers - 1:
                x = ops.tanh(x)
            x = dropout(x, training=training)
        return x * keep

    def get_config(self):
        return {
            **super().get_config(),
            "n_mels": self.n_mels,
            "num_layers": self.num_layers,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout,
            "seed": self.seed,
        }
