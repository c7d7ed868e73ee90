"""SimpleRNN, LSTM and GRU compute, mask, initialise, count and train like Keras on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit.layers import GRU, LSTM, Dense, Input, Masking, SimpleRNN
from nnkit.layers.recurrent_modules import RecurrentNetwork
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.sequence_twins import assert_same_predictions, padded_features, twins

KINDS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


def _pair(keras, kind: str, rng, sample_shape=(7, 3), masking: bool = False, **kwargs):
    k_layers = [getattr(keras.layers, kind)(4, **kwargs)]
    n_layers = [KINDS[kind](4, **kwargs)]
    if masking:
        k_layers.insert(0, keras.layers.Masking())
        n_layers.insert(0, Masking())
    return twins(keras, k_layers, n_layers, sample_shape, rng)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"go_backwards": True},
                                     {"go_backwards": True, "return_sequences": True}, {"use_bias": False}])
def test_outputs_match_keras_on_same_weights(keras, rng, kind, options):
    n_model, k_model = _pair(keras, kind, rng, **options)
    assert_same_predictions(n_model, k_model, rng.normal(size=(6, 7, 3)).astype("float32"))


@pytest.mark.parametrize(("kind", "options"), [
    ("SimpleRNN", {"activation": "relu"}),  # fused relu kernel
    ("SimpleRNN", {"activation": "sigmoid"}),  # step loop
    ("SimpleRNN", {"activation": None, "return_sequences": True}),
    ("LSTM", {"activation": "relu"}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid", "return_sequences": True}),
    ("GRU", {"activation": "softsign", "go_backwards": True}),
    ("GRU", {"recurrent_activation": "hard_sigmoid", "activation": "relu", "return_sequences": True}),
])
def test_other_activations_match_keras(keras, rng, kind, options):
    n_model, k_model = _pair(keras, kind, rng, **options)
    assert_same_predictions(n_model, k_model, rng.normal(size=(6, 7, 3)).astype("float32"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post", "holes"])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"go_backwards": True},
                                     {"go_backwards": True, "return_sequences": True}])
def test_masked_steps_are_skipped_like_keras(keras, rng, kind, padding, options):
    n_model, k_model = _pair(keras, kind, rng, sample_shape=(8, 3), masking=True, **options)
    assert_same_predictions(n_model, k_model, padded_features(rng, padding))


def test_masking_with_the_step_loop_matches_keras(keras, rng):
    n_model, k_model = _pair(keras, "LSTM", rng, sample_shape=(8, 3), masking=True, activation="relu",
                             return_sequences=True)
    assert not n_model.layers[1].module.fused
    assert_same_predictions(n_model, k_model, padded_features(rng, "pre"))


def test_pre_padding_gives_the_state_after_the_last_real_step(rng):
    """With padding first, the last output equals running the unpadded sequence alone."""
    model = Sequential([Input((8, 3)), Masking(), GRU(5)])
    x = padded_features(rng, "pre")
    lengths = (np.abs(x).sum(-1) > 0).sum(1)
    outputs = model.predict(x, verbose=0)
    single = Sequential([Input((3, 3)), GRU(5)])
    single.set_weights(model.get_weights())
    row = int(np.flatnonzero(lengths == 3)[0])
    assert_close(outputs[row], single.predict(x[row:row + 1, -3:], verbose=0)[0], atol=1e-6)
    assert_close(outputs[lengths == 0], 0.0)  # an empty sequence keeps the zero state


@pytest.mark.parametrize("kind", KINDS)
def test_weights_have_keras_shapes_and_order(keras, rng, kind):
    n_model, k_model = _pair(keras, kind, rng)
    ours, theirs = n_model.get_weights(), k_model.get_weights()
    assert [w.shape for w in ours] == [w.shape for w in theirs]
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=0, atol=0)


def test_gru_gates_are_reordered_between_keras_and_torch(keras, rng):
    n_model, _ = _pair(keras, "GRU", rng)
    kernel = n_model.get_weights()[0]  # Keras order: z, r, h
    weight_ih = n_model.layers[0].module.rnn.weight_ih_l0.detach().numpy()  # torch order: r, z, n
    assert_close(weight_ih[:4], kernel[:, 4:8].T)
    assert_close(weight_ih[4:8], kernel[:, :4].T)
    assert_close(weight_ih[8:], kernel[:, 8:].T)


@pytest.mark.parametrize(("kind", "extra"), [("SimpleRNN", 4), ("LSTM", 16), ("GRU", 0)])
def test_parameter_counts_match_keras_except_torchs_second_bias(keras, rng, kind, extra):
    """Documented difference: torch's RNN/LSTM kernels carry a second (zero, frozen) bias vector."""
    n_model, k_model = _pair(keras, kind, rng)
    assert n_model.count_params() == k_model.count_params() + extra
    trainable = sum(p.numel() for p in n_model.module.parameters() if p.requires_grad)
    assert trainable == k_model.count_params()
    lines = []
    n_model.summary(print_fn=lines.append)
    assert f"Trainable params: {k_model.count_params():,}" in lines[0]
    assert f"Non-trainable params: {extra:,}" in lines[0]


def test_the_surplus_bias_stays_zero_and_frozen(rng):
    model = Sequential([Input((5, 2)), LSTM(3), Dense(1)])
    rnn = model.module[0].rnn
    model.trainable = False
    model.trainable = True
    assert not rnn.bias_hh_l0.requires_grad and rnn.bias_ih_l0.requires_grad
    model.compile(optimizer="adam", loss="mse")
    model.fit(rng.normal(size=(32, 5, 2)), rng.normal(size=(32, 1)), epochs=2, verbose=0)
    assert torch.count_nonzero(rnn.bias_hh_l0) == 0


def test_keras_default_initializers(keras):
    layer = LSTM(8)
    Sequential([Input((5, 6)), layer]).build()
    kernel, recurrent, bias = layer.get_weights()
    limit = np.sqrt(6 / (6 + 32))  # glorot_uniform on (features, 4 * units)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
    assert_close(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthogonal rows, as Keras's (units, 4 units)
    assert_close(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])  # unit_forget_bias=True
    k_layer = keras.layers.LSTM(8)
    k_layer.build((None, 5, 6))
    assert_close(bias, k_layer.get_weights()[2])
    _, _, plain_bias = _built(LSTM(8, unit_forget_bias=False)).get_weights()
    assert not plain_bias.any()
    _, _, gru_bias = _built(GRU(8)).get_weights()
    assert gru_bias.shape == (2, 24) and not gru_bias.any()


def _built(layer):
    Sequential([Input((5, 6)), layer]).build()
    return layer


@pytest.mark.parametrize("kind", KINDS)
def test_weight_regularizers_add_keras_penalties(keras, rng, kind):
    regs = {"kernel_regularizer": keras.regularizers.L2(0.01), "recurrent_regularizer": keras.regularizers.L1(0.02),
            "bias_regularizer": keras.regularizers.L1L2(0.01, 0.03)}
    k_model = keras.Sequential([keras.Input((6, 3)), getattr(keras.layers, kind)(4, **regs), keras.layers.Dense(1)])
    ours = {"kernel_regularizer": nnkit.regularizers.L2(0.01), "recurrent_regularizer": "l1",
            "bias_regularizer": nnkit.regularizers.L1L2(0.01, 0.03)}
    ours["recurrent_regularizer"] = nnkit.regularizers.L1(0.02)
    n_model = Sequential([Input((6, 3)), KINDS[kind](4, **ours), Dense(1)])
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in k_model.get_weights()]
    k_model.set_weights(weights)
    n_model.set_weights(weights)
    x, y = rng.normal(size=(20, 6, 3)), rng.normal(size=(20, 1))
    for model in (n_model, k_model):
        model.compile(optimizer="sgd", loss="mse")
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-5)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_training_matches_keras_step_by_step(keras, rng, kind):
    n_model, k_model = twins(keras, [getattr(keras.layers, kind)(4), keras.layers.Dense(1)],
                             [KINDS[kind](4), Dense(1)], (10, 3), rng)
    x = rng.normal(size=(64, 10, 3)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    for model in (n_model, k_model):
        model.compile(optimizer="sgd", loss="mse")
    fit = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0}
    assert_close(n_model.fit(x, y, **fit).history["loss"], k_model.fit(x, y, **fit).history["loss"], rtol=1e-5)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_constraints_project_like_keras_after_each_step(keras, rng, kind):
    k_args = {"kernel_constraint": keras.constraints.MaxNorm(0.4), "recurrent_constraint": keras.constraints.NonNeg(),
              "bias_constraint": keras.constraints.NonNeg()}
    n_args = {"kernel_constraint": nnkit.constraints.MaxNorm(0.4), "recurrent_constraint": "non_neg",
              "bias_constraint": "non_neg"}
    n_model, k_model = twins(keras, [getattr(keras.layers, kind)(4, **k_args), keras.layers.Dense(1)],
                             [KINDS[kind](4, **n_args), Dense(1)], (5, 3), rng)
    x, y = rng.normal(size=(16, 5, 3)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    for model in (n_model, k_model):
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
    assert n_model.get_weights()[1].min() >= 0


def test_short_fit_lowers_the_loss(rng):
    x = rng.normal(size=(64, 8, 2)).astype("float32")
    y = x[:, -3:, 0].sum(axis=1, keepdims=True)
    model = Sequential([Input((8, 2)), LSTM(8, return_sequences=True), GRU(8), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01), loss="mse")
    losses = model.fit(x, y, epochs=15, batch_size=32, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_is_random_in_training_only(rng, kind):
    x = torch.as_tensor(rng.normal(size=(4, 6, 3)), dtype=torch.float32)
    plain = Sequential([Input((6, 3)), KINDS[kind](5, return_sequences=True)])
    dropped = Sequential([Input((6, 3)), KINDS[kind](5, return_sequences=True, dropout=0.5, recurrent_dropout=0.3)])
    dropped.set_weights(plain.get_weights())
    plain.module.eval()
    dropped.module.eval()
    assert_close(dropped(x), plain(x), atol=1e-6)  # inference: no dropout, fused kernel
    dropped.module.train()
    first, second = dropped(x), dropped(x)
    assert not torch.allclose(first, second)
    assert not torch.allclose(first, plain(x))


def test_input_dropout_uses_one_mask_per_sequence():
    """Keras drops the same input features at every step of a sequence."""
    module = RecurrentNetwork("simple_rnn", 200, 200, activation=nnkit.activations.linear,
                              recurrent_activation=nnkit.activations.linear, use_bias=False,
                              return_sequences=True, dropout=0.5)
    with torch.no_grad():
        module.rnn.weight_ih_l0.copy_(torch.eye(200))
        module.rnn.weight_hh_l0.zero_()
    out = module(torch.ones(2, 5, 200))
    kept = out != 0
    assert (kept == kept[:, :1]).all()  # the same features survive at every step
    assert 0.3 < kept.float().mean() < 0.7
    assert_close(out[kept], 2.0)  # survivors are scaled by 1 / (1 - rate)


def test_recurrent_dropout_trains(rng):
    x = rng.normal(size=(32, 6, 2)).astype("float32")
    y = x[:, :, 0].mean(axis=1, keepdims=True)
    model = Sequential([Input((6, 2)), GRU(8, recurrent_dropout=0.2, dropout=0.1), Dense(1)])
    model.compile(optimizer=nnkit.optimizers.Adam(learning_rate=0.01), loss="mse")
    losses = model.fit(x, y, epochs=6, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_unroll_and_seed_are_accepted_and_change_nothing(rng):
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    plain = Sequential([Input((4, 2)), LSTM(3)])
    unrolled = Sequential([Input((4, 2)), LSTM(3, unroll=True, seed=1, use_cudnn=False)])
    unrolled.set_weights(plain.get_weights())
    assert_close(unrolled.predict(x, verbose=0), plain.predict(x, verbose=0))


@pytest.mark.parametrize(("kind", "options", "shape"), [
    ("LSTM", {}, (4,)), ("GRU", {"return_sequences": True}, (7, 4)), ("SimpleRNN", {"go_backwards": True}, (4,)),
])
def test_output_shapes(kind, options, shape):
    model = Sequential([Input((7, 3)), KINDS[kind](4, **options)])
    assert model.output_shape == (None, *shape)


def test_two_dimensional_input_names_layer_layout_and_shape(rng):
    model = Sequential([LSTM(8), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError) as info:
        model.fit(rng.normal(size=(20, 30)), rng.normal(size=(20, 1)), verbose=0)
    message = str(info.value)
    assert "'lstm'" in message and "(batch, timesteps, features)" in message and "(None, 30)" in message
    assert "reshape(-1, 30, 1)" in message
    with pytest.raises(ValueError, match=r"GRU layer 'gru' expects inputs of shape \(batch, timesteps, features\)"):
        Sequential([Input((4,)), Dense(3), GRU(2)]).build()


@pytest.mark.parametrize(("make", "match"), [
    (lambda: nnkit.layers.Bidirectional(LSTM(4, return_state=True)), "return_state=True"),
    (lambda: GRU(4, stateful=True), "stateful=True"),
    (lambda: GRU(4, reset_after=False), "reset_after=False"),
    (lambda: LSTM(0), "`units` to be a positive int. Received: units=0"),
    (lambda: SimpleRNN(4, dropout=1.5), r"`dropout` to be a fraction in \[0, 1\). Received: dropout=1.5"),
    (lambda: LSTM(4, recurrent_dropout=-0.1), "recurrent_dropout"),
    (lambda: LSTM(4, activation="tanhh"), "Did you mean 'tanh'"),
    (lambda: GRU(4, kernel_initializer="glorot"), "initializer"),
])
def test_invalid_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_set_weights_checks_count_and_keras_shapes():
    layer = GRU(4)
    Sequential([Input((5, 3)), layer]).build()
    with pytest.raises(ValueError, match=r"3 weight arrays \(kernel, recurrent_kernel, bias\)"):
        layer.set_weights(layer.get_weights()[:2])
    kernel, recurrent, bias = layer.get_weights()
    with pytest.raises(ValueError, match=r"bias with shape \(2, 12\).*received an array of shape \(12,\)"):
        layer.set_weights([kernel, recurrent, bias[0]])


def test_config_round_trip_rebuilds_the_same_model(rng):
    model = Sequential([Input((6, 2)), LSTM(5, return_sequences=True, go_backwards=True, dropout=0.1,
                                           kernel_regularizer="l2"), GRU(3, activation="relu", return_sequences=True), SimpleRNN(2)])
    clone = Sequential.from_config(model.get_config())
    assert [type(layer) for layer in clone.layers] == [LSTM, GRU, SimpleRNN]
    assert clone.layers[0].go_backwards and clone.layers[0].dropout == 0.1
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(4, 6, 2)).astype("float32")
    assert_close(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert repr(model.layers[1]) == "GRU(units=3, activation='relu', return_sequences=True)"


def test_the_built_module_is_plain_pytorch(rng):
    model = Sequential([Input((6, 2)), LSTM(5)])
    module = model.module
    assert isinstance(module[0].rnn, torch.nn.LSTM) and module[0].rnn.batch_first
    x = torch.as_tensor(rng.normal(size=(3, 6, 2)), dtype=torch.float32)
    assert_close(module(x), module[0].rnn(x)[0][:, -1])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", ["tanh", "relu"])  # LSTM and GRU with relu run the step loop
@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "go_backwards": True}])
def test_return_state_and_initial_state_match_keras_eagerly(keras, rng, kind, activation, options):
    """``[output, *states]`` with and without a mask and a given initial state, as Keras computes them."""
    k_layer = getattr(keras.layers, kind)(4, return_state=True, activation=activation, **options)
    n_layer = KINDS[kind](4, return_state=True, activation=activation, **options)
    x = rng.normal(size=(5, 6, 3)).astype("float32")
    mask = np.ones((5, 6), dtype=bool)
    mask[1, :2], mask[2, 3:], mask[3, 1::2], mask[4] = False, False, False, False
    states = [rng.normal(size=(5, 4)).astype("float32") for _ in range(2 if kind == "LSTM" else 1)]
    k_layer(x)
    n_layer(x)
    n_layer.set_weights(k_layer.get_weights())
    for kwargs in ({}, {"mask": mask}, {"initial_state": states}, {"mask": mask, "initial_state": states}):
        theirs = k_layer(x, **kwargs)
        ours = n_layer(x, **kwargs)
        assert len(ours) == len(theirs) == 1 + len(states)
        for n_value, k_value in zip(ours, theirs):
            assert_close(n_value, keras.ops.convert_to_numpy(k_value), rtol=1e-5, atol=1e-5)


def test_encoder_states_start_a_decoder_in_a_functional_model_like_keras(keras, rng):
    """Keras's sequence-to-sequence pattern on masked token ids, with the fused layers: return_state on the
    encoder, initial_state on the decoder (which Keras then runs without the mask)."""
    def build(m):
        ids = m.Input((6,))
        embedded = m.layers.Embedding(10, 3, mask_zero=True)(ids)
        _, h, c = m.layers.LSTM(4, return_state=True)(embedded)
        decoded = m.layers.LSTM(4, return_sequences=True)(embedded, initial_state=[h, c])
        last, state = m.layers.GRU(4, return_state=True)(decoded)
        return m.Model(ids, [m.layers.Dense(2)(last), h, c, state])

    k_model, n_model = build(keras), build(nnkit)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in k_model.get_weights()]
    k_model.set_weights(weights)
    n_model.set_weights(weights)
    ids = np.array([[0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 0, 0], [0, 0, 0, 0, 0, 0], [5, 0, 6, 7, 0, 8]])
    for ours, theirs in zip(n_model.predict(ids, verbose=0), k_model.predict(ids, verbose=0), strict=True):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
