"""``clone_model`` with Keras's hooks (``clone_function``, ``call_function``, ``recursive``, ``input_tensors``)
gives the models Keras gives."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from tests.helpers import assert_close


def chain(keras):
    return keras.Sequential([keras.Input((5,), name="inp"), keras.layers.Dense(3, name="d1"),
                             keras.layers.Dropout(0.2, seed=3, name="drop"), keras.layers.Dense(1, name="d2")],
                            name="chain")


def siamese(keras):
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = keras.layers.Dense(3, activation="tanh", name="shared")
    joined = keras.layers.Concatenate(name="cat")([shared(a), shared(b)])
    return keras.Model([a, b], keras.layers.Dense(2, name="head")(joined), name="siamese")


def with_ones(keras):
    """Keras's docstring idea: a clone_function that changes the config (seeds, initializers) of each layer."""
    def clone_function(layer):
        config = layer.get_config()
        if "seed" in config:
            config["seed"] = 1337
        if isinstance(layer, keras.layers.Dense):
            config["kernel_initializer"] = "ones"
        return layer.__class__.from_config(config)

    return clone_function


def test_clone_function_makes_each_layer_as_in_keras(keras, rng):
    k_clone = keras.models.clone_model(chain(keras), clone_function=with_ones(keras))
    n_clone = nnkit.models.clone_model(chain(nnkit), clone_function=with_ones(nnkit))
    x = rng.random((3, 5)).astype("float32")
    assert_close(n_clone.predict(x, verbose=0), k_clone.predict(x, verbose=0))
    assert n_clone.get_layer("drop").get_config()["seed"] == 1337
    assert (n_clone.name, [layer.name for layer in n_clone.layers]) == (k_clone.name, ["d1", "drop", "d2"])


def test_call_function_inserts_layers_and_clone_function_can_reuse_them(keras, rng):
    def add_dropout(keras):
        def call_function(layer, *args, **kwargs):
            out = layer(*args, **kwargs)
            return keras.layers.Dropout(0.5)(out) if isinstance(layer, keras.layers.Dense) else out

        return call_function

    clones = {}
    for lib in (keras, nnkit):
        model = siamese(lib)
        clone = lib.models.clone_model(model, clone_function=lambda layer: layer, call_function=add_dropout(lib))
        clones[lib] = model, clone
        assert clone.get_layer("shared") is model.get_layer("shared")
    (k_model, k_clone), (n_model, n_clone) = clones[keras], clones[nnkit]
    assert sorted(type(layer).__name__ for layer in n_clone.layers) == sorted(
        type(layer).__name__ for layer in k_clone.layers)
    n_model.set_weights(k_model.get_weights())  # the clones' layers are the models'
    x = [rng.random((2, 4)).astype("float32"), rng.random((2, 4)).astype("float32")]
    assert_close(n_clone.predict(x, verbose=0), k_clone.predict(x, verbose=0), rtol=1e-5)


def test_a_shared_layer_stays_shared_and_the_clone_has_new_weights(keras, rng):
    k_model, n_model = siamese(keras), siamese(nnkit)
    k_clone, n_clone = keras.models.clone_model(k_model), nnkit.models.clone_model(n_model)
    assert len(n_clone.weights) == len(k_clone.weights) == 4
    assert n_clone.get_layer("shared") is not n_model.get_layer("shared")
    n_clone.set_weights(k_model.get_weights())
    x = [rng.random((2, 4)).astype("float32"), rng.random((2, 4)).astype("float32")]
    assert_close(n_clone.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-5)


def test_recursive_clones_nested_models_layer_by_layer_as_keras_does(keras):
    def build(keras):
        inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="inner_d")], name="inner")
        x = keras.Input((4,), name="x")
        return keras.Model(x, keras.layers.Dense(1, name="od")(inner(x)), name="outer")

    def seen_by_clone_function(lib, recursive):
        seen = []

        def clone_function(layer):
            seen.append(layer.name)
            return layer.__class__.from_config(layer.get_config())

        clone = lib.models.clone_model(build(lib), clone_function=clone_function, recursive=recursive)
        return seen, [layer.name for layer in clone.layers]

    for recursive in (False, True):
        assert seen_by_clone_function(nnkit, recursive) == seen_by_clone_function(keras, recursive)


def test_input_tensors_become_the_clones_inputs(keras):
    for lib in (keras, nnkit):
        model = siamese(lib)
        p, q = lib.Input((4,), name="p"), lib.Input((4,), name="q")
        clone = lib.models.clone_model(model, input_tensors=[p, q])
        assert [t.name for t in clone.inputs] == ["p", "q"]
        with pytest.raises(ValueError):
            lib.models.clone_model(model, input_tensors=p)  # one tensor for two inputs
        with pytest.raises(ValueError):
            lib.models.clone_model(chain(lib), call_function=lambda layer, *args, **kwargs: layer(*args, **kwargs))


def test_a_clone_grafted_on_an_intermediate_tensor_starts_there(keras):
    def graft(keras):
        base = keras.Input((4,), name="base")
        hidden = keras.layers.Dense(4, name="pre")(base)
        x = keras.Input((4,), name="x")
        model = keras.Model(x, keras.layers.Dense(2, name="d")(x))
        return keras.models.clone_model(model, input_tensors=hidden)

    k_clone, n_clone = graft(keras), graft(nnkit)
    assert [type(layer).__name__ for layer in n_clone.layers] == [type(layer).__name__ for layer in k_clone.layers]
    assert len(n_clone.weights) == len(k_clone.weights) == 2
    assert n_clone.input_shape == (None, 4)


def test_a_compiled_model_gives_a_compiled_clone_with_its_own_optimizer(rng):
    model = chain(nnkit)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    clone = nnkit.models.clone_model(model)
    assert clone.compiled and clone.optimizer is not model.optimizer
    before = model.get_weights()
    clone.fit(rng.random((4, 5)), rng.random((4, 1)), epochs=1, verbose=0)
    for old, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, now)
    assert set(clone.evaluate(rng.random((4, 5)), rng.random((4, 1)), verbose=0, return_dict=True)) == {"loss", "mae"}
