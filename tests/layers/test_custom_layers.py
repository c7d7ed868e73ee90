"""Your own layers and models, written as in Keras's guides (only the imports changed): the same program
under ``keras`` and ``nnkit`` gives the same numbers on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit.errors import ConfigError, NotReadyError
from nnkit.saving import register_serializable
from tests.helpers import assert_close


def linear_class(keras):
    class Linear(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                     trainable=True, name="kernel")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="bias")

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Linear


def mlp_block_class(keras):
    Linear = linear_class(keras)

    class MLPBlock(keras.layers.Layer):
        """Sublayers as attributes, a counter weight that does not train, and add_loss."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.linear_1 = Linear(8)
            self.linear_2 = Linear(4)
            self.dropout = keras.layers.Dropout(0.5)

        def build(self, input_shape):
            self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

        def call(self, inputs, training=None):
            x = keras.activations.relu(self.linear_1(inputs))
            x = self.dropout(x, training=training)
            self.add_loss(0.01 * keras.ops.mean(x * x))
            return self.linear_2(x)

    return MLPBlock


def subclassed_model_class(keras):
    class Classifier(keras.Model):
        def __init__(self, classes=3, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(16, activation="relu")
            self.out = keras.layers.Dense(classes, activation="softmax")

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    return Classifier


def test_a_custom_layer_computes_like_keras_on_the_same_weights(keras, rng):
    x = rng.normal(size=(4, 5)).astype("float32")
    k_layer, n_layer = linear_class(keras)(3), linear_class(nnkit)(3)
    k_out = k_layer(x)
    n_layer(x)
    assert [w.shape for w in n_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    n_layer.set_weights(k_layer.get_weights())
    assert_close(n_layer(x).detach(), keras.ops.convert_to_numpy(k_out), rtol=1e-6, atol=1e-6)
    assert n_layer.get_config()["units"] == 3 and isinstance(n_layer, torch.nn.Module)


def test_sublayers_weights_losses_and_trainable_flags_are_tracked(keras, rng):
    x = rng.normal(size=(6, 5)).astype("float32")
    k_block, n_block = mlp_block_class(keras)(), mlp_block_class(nnkit)()
    k_block(x)
    n_block(x)
    assert len(n_block.weights) == len(k_block.weights) == 5
    assert len(n_block.trainable_weights) == len(k_block.trainable_weights) == 4
    assert len(n_block.losses) == 1 and n_block.losses[0].ndim == 0
    n_block.trainable = False
    assert not n_block.trainable_weights and not n_block.linear_1.trainable
    n_block.trainable = True
    assert len(n_block.trainable_weights) == 4  # the counter stays frozen


def test_custom_layers_train_in_sequential_and_functional_models_like_keras(keras, rng):
    x = rng.normal(size=(16, 5)).astype("float32")
    y = rng.normal(size=(16, 4)).astype("float32")
    models = {}
    for lib in (keras, nnkit):
        inputs = lib.Input(shape=(5,))
        models[lib] = [lib.Model(inputs, lib.layers.Dense(4)(linear_class(lib)(6)(inputs))),
                       lib.Sequential([lib.Input(shape=(5,)), linear_class(lib)(6), lib.layers.Dense(4)])]
    histories = []
    for lib in (keras, nnkit):
        for model, reference in zip(models[lib], models[keras]):
            if lib is nnkit:
                model.set_weights(reference.get_weights())  # the initial weights: Keras's models train last
            model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    for lib in (nnkit, keras):
        for model in models[lib]:
            histories.append(model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history)
    histories = histories[2:] + histories[:2]
    for ours, theirs in zip(histories[2:], histories[:2]):
        assert list(ours) == list(theirs)
        for key in theirs:
            assert_close(ours[key], theirs[key], rtol=1e-4, atol=1e-6)


def test_add_loss_joins_the_training_loss(rng):
    x = rng.normal(size=(8, 5)).astype("float32")
    block = mlp_block_class(nnkit)()
    model = nnkit.Sequential([nnkit.Input(shape=(5,)), block])
    model.compile(optimizer="sgd", loss="mse")
    block.dropout.rate = 0.0
    with torch.no_grad():
        plain = float(torch.mean(model(x) ** 2))
        penalty = float(block.losses[-1])
    assert model.evaluate(x, np.zeros((8, 4)), batch_size=8, verbose=0) == pytest.approx(plain + penalty, rel=1e-5)


def test_a_subclassed_model_trains_like_keras(keras, rng):
    x = rng.normal(size=(24, 6)).astype("float32")
    y = rng.integers(0, 3, 24)
    k_model, n_model = subclassed_model_class(keras)(), subclassed_model_class(nnkit)()
    k_model(x[:1])
    n_model(x[:1])
    n_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0, "validation_split": 0.25}
    k_history, n_history = k_model.fit(x, y, **fit).history, n_model.fit(x, y, **fit).history
    assert list(n_history) == list(k_history)
    for key in k_history:
        assert_close(n_history[key], k_history[key], rtol=1e-4, atol=1e-6)
    assert_close(n_model.predict(x, verbose=0), k_model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
    assert n_model.count_params() == k_model.count_params()


def test_a_subclassed_model_builds_summarizes_and_round_trips_its_weights(rng, tmp_path):
    model = subclassed_model_class(nnkit)(classes=2)
    with pytest.raises(NotReadyError, match="input shape"):
        model.summary()
    model.build((None, 6))
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "Total params: 146" in "\n".join(lines)  # 6*16+16 + 16*2+2
    model.save_weights(tmp_path / "w.weights.h5")
    other = subclassed_model_class(nnkit)(classes=2)
    other.build((None, 6))
    other.load_weights(tmp_path / "w.weights.h5")
    x = rng.normal(size=(3, 6)).astype("float32")
    assert_close(other(x).detach(), model(x).detach())
    assert isinstance(model.module, torch.nn.Module)


@register_serializable(package="test_custom_layers")
class Scale(nnkit.layers.Layer):
    """A registered custom layer: saved by name, rebuilt from its config."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

    def call(self, inputs):
        return inputs * self.gain * self.factor


def test_a_registered_custom_layer_saves_and_loads_by_name(rng, tmp_path):
    x = rng.normal(size=(5, 3)).astype("float32")
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), Scale(3.0, name="scale"), nnkit.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, rng.normal(size=(5, 2)), epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = nnkit.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("scale"), Scale) and loaded.get_layer("scale").factor == 3.0
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_custom_layer_mistakes_get_clear_errors():
    class BadShape(nnkit.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(None, 3))

        def call(self, inputs):
            return inputs

    with pytest.raises(ConfigError, match=r"Layer 'bad_shape': add_weight\(shape=...\) takes non-negative ints"):
        BadShape()(np.ones((2, 3)))

    class BadInit(nnkit.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(3,), initializer="glorot_unifrom")

        def call(self, inputs):
            return inputs

    with pytest.raises(ConfigError, match="glorot_uniform"):
        BadInit()(np.ones((2, 3)))

    class NotATensor(nnkit.layers.Layer):
        def call(self, inputs):
            return "nope"

    with pytest.raises(TypeError, match=r"NotATensor\).call must return a tensor"):
        nnkit.Sequential([nnkit.Input(shape=(3,)), NotATensor()]).build()
    with pytest.raises(AttributeError, match=r"before Module\.__init__"):
        class EarlyWeight(nnkit.layers.Layer):
            def __init__(self):
                self.w = torch.nn.Parameter(torch.ones(2))
                super().__init__()

        EarlyWeight()


def test_build_sees_the_batch_axis_and_may_be_called_directly_as_in_keras(keras):
    seen = []

    def recording(lib):
        class Recording(lib.layers.Layer):
            def build(self, input_shape):
                seen.append(tuple(input_shape))
                self.w = self.add_weight(shape=(input_shape[1], 2), name="w")

            def call(self, inputs):
                return inputs @ self.w

        return Recording

    k_layer, n_layer = recording(keras)(), recording(nnkit)()
    k_layer.build((None, 4))
    n_layer.build((None, 4))
    assert seen == [(None, 4), (None, 4)]
    assert n_layer.built and n_layer.compute_output_shape((None, 4)) == (None, 2)
    n_layer.set_weights(k_layer.get_weights())
    x = np.ones((3, 4), dtype="float32")
    assert_close(n_layer(x).detach(), keras.ops.convert_to_numpy(k_layer(x)))
    assert seen == [(None, 4), (None, 4)]  # not built again on the first call
    fresh = recording(nnkit)()
    with pytest.raises(AttributeError, match=r"has no attribute 'w' yet: weights made with add_weight\(\) in build"):
        _ = fresh.w


def test_saving_a_subclassed_model_whole_says_to_save_its_weights(tmp_path):
    model = subclassed_model_class(nnkit)()
    model.build((None, 4))
    with pytest.raises(ConfigError, match=r"its own call\(\).*save_weights"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_weights_update_in_call_with_keras_variable_methods(keras, rng):
    """``add_weight`` gives a variable with Keras's ``assign`` / ``assign_add`` / ``assign_sub`` / ``numpy``."""
    def counter_class(lib):
        class Counter(lib.layers.Layer):
            def build(self, input_shape):
                self.total = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False)
                self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

            def call(self, inputs):
                self.total.assign(self.total + lib.ops.sum(inputs, axis=0))
                self.total.assign_add(lib.ops.ones_like(self.total))
                self.scale.assign_sub(0.5 * lib.ops.ones_like(self.scale))
                return inputs * self.scale

        return Counter()

    x = rng.normal(size=(4, 3)).astype("float32")
    k_layer, n_layer = counter_class(keras), counter_class(nnkit)
    for _ in range(2):
        theirs, ours = k_layer(x), n_layer(x)
    assert_close(ours.detach(), keras.ops.convert_to_numpy(theirs), rtol=1e-6, atol=1e-6)
    assert_close(n_layer.total.numpy(), k_layer.total.numpy(), rtol=1e-6, atol=1e-6)
    assert_close(n_layer.scale.numpy(), k_layer.scale.numpy())  # a trainable weight too
    assert n_layer.scale.requires_grad and n_layer.scale.grad_fn is None  # assignments record no gradient
    with pytest.raises(ValueError, match=r"shape \(3,\); received shape \(4,\)"):
        n_layer.total.assign(np.zeros(4))


@pytest.mark.parametrize(("make", "batch_shape"), [
    (lambda m: m.Dense(3), (None, 4)), (lambda m: m.Conv2D(2, 3), (None, 8, 8, 1)), (lambda m: m.LSTM(3), (None, 5, 2)),
])
def test_built_in_layers_build_by_hand_with_the_batch_axis_as_in_keras(keras, make, batch_shape):
    k_layer, n_layer = make(keras.layers), make(nnkit.layers)
    assert n_layer.build(batch_shape) is None
    k_layer.build(batch_shape)
    assert n_layer.built and n_layer.input_shape == batch_shape[1:]
    assert [w.shape for w in n_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
