"""RNN over cells (built-in, stacked and user-written per Keras's guide) computes, masks and trains like Keras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit import layers as L
from nnkit.errors import ConfigError
from nnkit.models import Model, Sequential, load_model
from nnkit.saving import register_serializable
from tests.helpers import assert_close
from tests.layers.sequence_twins import assert_same_predictions, padded_features, twins


def minimal_rnn_cell(keras_module, ops):
    """The MinimalRNNCell of Keras's ``RNN`` docstring, verbatim, on ``keras_module`` (Keras or nnkit)."""
    keras = keras_module

    class MinimalRNNCell(keras.Layer):

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer='uniform',
                                          name='kernel')
            self.recurrent_kernel = self.add_weight(
                shape=(self.units, self.units),
                initializer='uniform',
                name='recurrent_kernel')

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

    return MinimalRNNCell


NnkitMinimalRNNCell = register_serializable(package="test_rnn_cells")(minimal_rnn_cell(nnkit, nnkit.ops))

CELLS = {
    "SimpleRNNCell": {},
    "LSTMCell": {"unit_forget_bias": False},
    "GRUCell": {},
}


def _rnn(module, cell: str, units: int = 3, cell_kwargs: dict | None = None, **kwargs):
    return module.RNN(getattr(module, cell)(units, **(cell_kwargs or {})), **kwargs)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "go_backwards": True}, {"use_bias": False},
                                     {"activation": "relu"}], ids=str)
def test_rnn_of_a_builtin_cell_matches_keras(keras, rng, cell, options):
    cell_kwargs = {k: v for k, v in options.items() if k in ("use_bias", "activation")}
    rnn_kwargs = {k: v for k, v in options.items() if k not in cell_kwargs}
    n_model, k_model = twins(keras, [_rnn(keras.layers, cell, cell_kwargs=cell_kwargs, **rnn_kwargs)],
                             [_rnn(L, cell, cell_kwargs=cell_kwargs, **rnn_kwargs)], (5, 4), rng)
    assert [w.shape for w in n_model.get_weights()] == [tuple(w.shape) for w in k_model.weights]
    assert n_model.output_shape == tuple(k_model.output_shape)
    assert n_model.count_params() == k_model.count_params()
    assert_same_predictions(n_model, k_model, rng.normal(size=(3, 5, 4)).astype("float32"))


def test_gru_cell_reset_before_matches_keras(keras, rng):
    make = lambda m: m.RNN(m.GRUCell(3, reset_after=False, recurrent_activation="hard_sigmoid"))  # noqa: E731
    n_model, k_model = twins(keras, [make(keras.layers)], [make(L)], (5, 4), rng)
    assert n_model.get_weights()[2].shape == (9,)
    assert_same_predictions(n_model, k_model, rng.normal(size=(3, 5, 4)).astype("float32"))


@pytest.mark.parametrize(("cell", "layer"), [("SimpleRNNCell", "SimpleRNN"), ("LSTMCell", "LSTM"), ("GRUCell", "GRU")])
def test_rnn_of_a_cell_equals_the_fused_layer_on_the_same_weights(rng, cell, layer):
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    fused = Sequential([L.Input(shape=(6, 3)), getattr(L, layer)(5, return_sequences=True)])
    looped = Sequential([L.Input(shape=(6, 3)), L.RNN(getattr(L, cell)(5), return_sequences=True)])
    looped.build()
    looped.set_weights(fused.get_weights())
    assert_close(looped.predict(x, verbose=0), fused.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_stacked_cells_match_keras_as_a_list_and_as_stacked_rnn_cells(keras, rng):
    make_list = lambda m: m.RNN([m.LSTMCell(3), m.GRUCell(2), m.SimpleRNNCell(4)], return_sequences=True)  # noqa: E731
    make_stacked = lambda m: m.RNN(m.StackedRNNCells([m.GRUCell(3), m.LSTMCell(2)]))  # noqa: E731
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    for make in (make_list, make_stacked):
        n_model, k_model = twins(keras, [make(keras.layers)], [make(L)], (5, 4), rng)
        assert [w.shape for w in n_model.get_weights()] == [tuple(w.shape) for w in k_model.weights]
        assert_same_predictions(n_model, k_model, x)


def test_the_keras_guide_minimal_cell_runs_unchanged_and_matches_keras(keras, rng):
    k_cell_class = minimal_rnn_cell(keras, keras.ops)
    x = rng.normal(size=(3, 7, 5)).astype("float32")
    for units in (32, [32, 64]):
        k_cells = k_cell_class(units) if isinstance(units, int) else [k_cell_class(u) for u in units]
        n_cells = NnkitMinimalRNNCell(units) if isinstance(units, int) else [NnkitMinimalRNNCell(u) for u in units]
        k_in, n_in = keras.Input((None, 5)), L.Input((None, 5))
        k_model = keras.Model(k_in, keras.layers.RNN(k_cells)(k_in))
        n_model = Model(n_in, L.RNN(n_cells)(n_in))
        assert n_model.output_shape == tuple(k_model.output_shape)
        weights = [rng.uniform(-0.1, 0.1, size=w.shape).astype("float32") for w in k_model.get_weights()]
        k_model.set_weights(weights)
        n_model.set_weights(weights)
        assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("padding", ["pre", "post", "holes"])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True, "go_backwards": True},
                                     {"return_sequences": True, "zero_output_for_mask": True}], ids=str)
def test_masked_steps_are_skipped_like_keras(keras, rng, padding, options):
    make = lambda m: m.RNN([m.LSTMCell(3), m.GRUCell(2)], **options)  # noqa: E731
    n_model, k_model = twins(keras, [keras.layers.Masking(), make(keras.layers)], [L.Masking(), make(L)], (8, 3), rng)
    assert_same_predictions(n_model, k_model, padded_features(rng, padding))


def test_encoder_states_start_a_decoder_like_keras(keras, rng, tmp_path):
    """Keras's sequence-to-sequence pattern: return_state on the encoder, initial_state on the decoder."""
    def build(m, model_class):
        encoder_inputs, decoder_inputs = m.Input((5, 3)), m.Input((4, 2))
        _, h, c = m.RNN(m.LSTMCell(4), return_state=True)(encoder_inputs)
        decoded = m.RNN(m.LSTMCell(4), return_sequences=True)(decoder_inputs, initial_state=[h, c])
        return model_class([encoder_inputs, decoder_inputs], [m.Dense(2)(decoded), h, c])

    k_model, n_model = build(keras.layers, keras.Model), build(L, Model)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in k_model.get_weights()]
    k_model.set_weights(weights)
    n_model.set_weights(weights)
    x = [rng.normal(size=(2, 5, 3)).astype("float32"), rng.normal(size=(2, 4, 2)).astype("float32")]
    expected = k_model.predict(x, verbose=0)
    for ours, theirs in zip(n_model.predict(x, verbose=0), expected, strict=True):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    n_model.save(tmp_path / "seq2seq.keras")
    assert_close(load_model(tmp_path / "seq2seq.keras").predict(x, verbose=0)[0], expected[0], rtol=1e-5, atol=1e-6)


def test_a_cell_called_on_its_own_matches_keras(keras, rng):
    x, h, c = (rng.normal(size=(2, n)).astype("float32") for n in (5, 3, 3))
    k_cell, n_cell = keras.layers.LSTMCell(3), L.LSTMCell(3)
    k_cell.build((None, 5))
    n_cell.build((None, 5))
    n_cell.set_weights(k_cell.get_weights())
    k_out, k_states = k_cell(x, [h, c])
    n_out, n_states = n_cell(x, [h, c])
    for ours, theirs in zip([n_out, *n_states], [k_out, *k_states], strict=True):
        assert_close(ours, keras.ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-6)


def test_training_matches_keras_step_by_step(keras, rng):
    """Two SGD steps of fit: gradients through the loop equal Keras's (weights after training agree)."""
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    make = lambda m: [m.RNN([m.LSTMCell(4), m.GRUCell(3)]), m.Dense(2)]  # noqa: E731
    n_model, k_model = twins(keras, make(keras.layers), make(L), (5, 3), rng)
    k_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.1), loss="mse")
    k_model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    n_model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights(), strict=True):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_input_dropout_uses_one_mask_per_sequence(rng):
    """With a zero recurrent kernel, a constant input and a linear cell, every step of a sequence sees the
    same dropped features: equal steps within a sequence, different sequences, and inference unaffected."""
    cell = L.SimpleRNNCell(6, activation=None, use_bias=False, dropout=0.5, recurrent_initializer="zeros")
    model = Sequential([L.Input(shape=(4, 5)), L.RNN(cell, return_sequences=True)])
    x = np.repeat(rng.normal(size=(8, 1, 5)).astype("float32") + 3.0, 4, axis=1)
    with torch.no_grad():
        trained, inferred = model(x, training=True).numpy(), model(x, training=False).numpy()
    assert_close(trained, trained[:, :1].repeat(4, axis=1))
    assert not np.allclose(trained, inferred)
    assert_close(inferred, x @ cell.get_weights()[0], rtol=1e-5, atol=1e-5)
    masks = {tuple(np.round(row[0] / inferred[i, 0], 3)) for i, row in enumerate(trained)}
    assert len(masks) > 1


@pytest.mark.parametrize("cell", [L.LSTMCell, L.GRUCell, L.SimpleRNNCell])
def test_recurrent_dropout_is_random_in_training_only_and_fits(rng, cell):
    model = Sequential([L.Input(shape=(5, 3)), L.RNN(cell(4, dropout=0.2, recurrent_dropout=0.3)), L.Dense(1)])
    x = rng.normal(size=(6, 5, 3)).astype("float32")
    with torch.no_grad():
        a, b = model(x, training=True).numpy(), model(x, training=True).numpy()
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, rng.normal(size=(6, 1)).astype("float32"), epochs=2, batch_size=3, verbose=0).history
    assert np.isfinite(history["loss"]).all()


def test_cell_defaults_match_keras(keras):
    for name in CELLS:
        ours = getattr(L, name)(3).get_config()
        theirs = getattr(keras.layers, name)(3).get_config()
        for key in ("units", "use_bias", "dropout", "recurrent_dropout", "unit_forget_bias", "reset_after"):
            if key in theirs:
                assert ours[key] == theirs[key], (name, key)
    cell = L.LSTMCell(3)
    Sequential([L.Input(shape=(4, 2)), L.RNN(cell)]).build()
    kernel, recurrent, bias = cell.get_weights()
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-5)  # orthonormal rows, as in Keras
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])  # unit_forget_bias
    assert np.abs(kernel).max() <= np.sqrt(6 / (2 + 12)) + 1e-6  # glorot_uniform on (2, 12)


def test_cell_regularizers_and_constraints_reach_the_model(rng):
    cell = L.GRUCell(3, kernel_regularizer="l2", recurrent_constraint="non_neg")
    model = Sequential([L.Input(shape=(4, 2)), L.RNN(cell), L.Dense(1)])
    model.build()
    assert [t for t, _ in model.regularization_terms()] == [cell.kernel]
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.normal(size=(4, 4, 2)), rng.normal(size=(4, 1)), epochs=1, verbose=0)
    assert cell.get_weights()[1].min() >= 0.0


def test_configs_and_saved_models_round_trip(tmp_path, rng):
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    x[0, 4:] = 0.0
    inputs = L.Input((6, 3))
    hidden = L.RNN([L.LSTMCell(4, dropout=0.1), L.GRUCell(3, reset_after=False)], return_sequences=True,
                   go_backwards=True)(L.Masking()(inputs))
    outputs = L.RNN(NnkitMinimalRNNCell(2), zero_output_for_mask=True)(hidden)
    model = Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, rng.normal(size=(4, 2)).astype("float32"), epochs=1, batch_size=2, verbose=0)
    config = model.layers[2].get_config()
    assert config["cell"]["class_name"] == "StackedRNNCells" and config["go_backwards"] is True
    assert [c["class_name"] for c in config["cell"]["config"]["cells"]] == ["LSTMCell", "GRUCell"]
    clone = L.RNN.from_config(config)
    assert clone.cell.cells[1].reset_after is False and clone.cell is not model.layers[2].cell
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(loaded.layers[-1].cell, NnkitMinimalRNNCell)


def test_bad_cells_and_arguments_raise_clear_errors():
    with pytest.raises(ConfigError, match="state_size"):
        L.RNN(L.Dense(3))
    with pytest.raises(ConfigError, match="stateful"):
        L.RNN(L.LSTMCell(3), stateful=True)
    with pytest.raises(ConfigError, match="units"):
        L.LSTMCell(0)
    with pytest.raises(ConfigError, match="recurrent_dropout"):
        L.GRUCell(3, recurrent_dropout=1.5)
    with pytest.raises(ConfigError, match=r"\(batch, timesteps, features\)"):
        Sequential([L.Input(shape=(4,)), L.RNN(L.LSTMCell(3))]).build()
