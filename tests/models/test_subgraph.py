"""Sub-models: ``Model(intermediate, output)`` cuts a graph at tensors that layers made, shares their layers
with the full model and behaves as under Keras."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigError
from nnkit.models import load_model
from tests.helpers import assert_close


def convnet(keras):
    """A graph whose middle tensor ``first`` feeds three layers, and the two sub-models around it."""
    image = keras.Input(shape=(8, 8, 3), name="image")
    first = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(image)
    second = keras.layers.Conv2D(4, 3, padding="same", name="c2")(first)
    pooled = keras.layers.MaxPooling2D(name="pool")(keras.layers.add([first, second], name="res"))
    features = keras.layers.concatenate([keras.layers.Flatten(name="flat")(pooled),
                                         keras.layers.GlobalAveragePooling2D(name="gap")(first)], name="cat")
    output = keras.layers.Dense(2, name="out")(features)
    return keras.Model(image, output), keras.Model(image, first), keras.Model(first, output)


def test_sub_models_compute_what_keras_computes_with_the_shared_weights(keras, rng):
    k_full, k_stem, k_head = convnet(keras)
    n_full, n_stem, n_head = convnet(nnkit)
    n_full.set_weights(k_full.get_weights())  # the sub-models share these layers
    x = rng.random((3, 8, 8, 3)).astype("float32")
    middle = rng.random((3, 8, 8, 4)).astype("float32")
    assert_close(n_stem.predict(x, verbose=0), k_stem.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    assert_close(n_head.predict(middle, verbose=0), k_head.predict(middle, verbose=0), rtol=1e-4, atol=1e-5)
    assert_close(n_head.predict(n_stem.predict(x, verbose=0), verbose=0), n_full.predict(x, verbose=0), rtol=1e-5)
    assert [type(layer).__name__ for layer in n_head.layers] == [type(layer).__name__ for layer in k_head.layers]
    assert n_head.input_shape == k_head.input_shape == (None, 8, 8, 4)
    assert n_head.count_params() == k_head.count_params() < n_full.count_params()
    assert n_head.get_layer("out") is n_full.get_layer("out")
    assert "c1" not in [layer.name for layer in n_head.layers]


def test_training_a_sub_model_trains_the_full_model_as_in_keras(keras, rng):
    k_full, _, k_head = convnet(keras)
    n_full, _, n_head = convnet(nnkit)
    n_full.set_weights(k_full.get_weights())
    middle, y = rng.random((6, 8, 8, 4)).astype("float32"), rng.random((6, 2)).astype("float32")
    for model in (k_head, n_head):
        model.compile(optimizer=keras.optimizers.SGD(0.1) if model is k_head else nnkit.optimizers.SGD(0.1), loss="mse")
        model.fit(middle, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    x = rng.random((2, 8, 8, 3)).astype("float32")
    assert_close(n_full.predict(x, verbose=0), k_full.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_a_sub_model_leaves_the_full_model_as_it_was_and_saves_on_its_own(tmp_path, rng):
    full, _, _ = convnet(nnkit)
    before = full.to_json()
    first = full.get_layer("c1").output
    head = nnkit.Model(first, full.output)
    assert full.to_json() == before
    assert head.input_names == ["c1CLONE"]  # Keras's naming: the tensor's name + CLONE
    middle = rng.random((2, 8, 8, 4)).astype("float32")
    head.save(tmp_path / "head.keras")
    assert_close(load_model(tmp_path / "head.keras").predict(middle, verbose=0), head.predict(middle, verbose=0))


def test_a_cut_through_a_multi_input_graph_keeps_the_inputs_it_is_given(keras, rng):
    def build(keras):
        a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
        hidden = keras.layers.Dense(4, activation="tanh", name="h")(a)
        joined = keras.layers.concatenate([keras.layers.Dense(2, name="g")(hidden), b], name="join")
        output = keras.layers.Dense(1, name="out")(joined)
        return keras.Model([a, b], output), keras.Model([hidden, b], output)

    (k_full, k_part), (n_full, n_part) = build(keras), build(nnkit)
    n_full.set_weights(k_full.get_weights())
    hidden, b = rng.random((4, 4)).astype("float32"), rng.random((4, 2)).astype("float32")
    assert_close(n_part.predict([hidden, b], verbose=0), k_part.predict([hidden, b], verbose=0), rtol=1e-5)
    assert n_part.get_layer("b") is n_full.get_layer("b")


def test_an_output_that_needs_an_input_beyond_the_cut_is_refused():
    a, b = nnkit.Input(shape=(3,), name="a"), nnkit.Input(shape=(3,), name="b")
    hidden = nnkit.layers.Dense(3, name="h")(a)
    output = nnkit.layers.add([hidden, b])
    with pytest.raises(ConfigError, match=r"Input 'b'.*not among the model's inputs"):
        nnkit.Model(hidden, output)
    nodes = len(nnkit.Model([hidden, b], output).get_layer("add")._inbound_nodes)
    assert nodes == 2  # the refused model recorded nothing; the accepted one its own call
    with pytest.raises(ConfigError, match=r"made neither by keras\.Input"):
        nnkit.Model(nnkit.layers.symbolic.KerasTensor((None, 3)), output)


def test_models_from_input_tensors_keep_their_graph(rng):
    x = nnkit.Input(shape=(4,), name="x")
    output = nnkit.layers.Dense(2, name="d")(x)
    model = nnkit.Model(x, output)
    assert model.inputs == [x] and model.outputs == [output]
    assert np.asarray(model.predict(rng.random((2, 4)), verbose=0)).shape == (2, 2)
