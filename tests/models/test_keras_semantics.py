"""Keras semantics that a review of the layer and model core found missing, each against Keras itself:
``training`` reaching ``call``, keyword layer names, ``add_loss`` in a model's own ``call``, integer inputs,
float64 tensors, callbacks calling the model during fit, and the logits fusion leaving other readers alone."""

# ruff: noqa: B023 - each loop builds the same program under keras and nnkit; the classes use their own lib
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import nnkit


def _libs(keras):
    return {"keras": keras, "nnkit": nnkit}


def test_call_receives_training_as_keras_passes_it(keras):
    seen = {}
    for name, lib in _libs(keras).items():
        calls = seen.setdefault(name, [])

        class Model(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(1)

            def call(self, x, training=None):
                calls.append(training)
                return self.dense(x + 1.0 if training else x)

        model, x = Model(), np.ones((4, 3), dtype="float32")
        model(x)
        calls.clear()
        model(x, training=True)
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, np.zeros((4, 1)), epochs=1, batch_size=4, verbose=0)
        model.evaluate(x, np.zeros((4, 1)), verbose=0)
        seen[name] = [bool(t) for t in calls]
    assert seen["nnkit"][0] is True and True in seen["nnkit"][1:] and seen["nnkit"][-1] is False
    assert seen["nnkit"][-2:] == seen["keras"][-2:]


def test_layers_named_like_python_keywords_work_in_graphs():
    inputs = nnkit.Input(shape=(3,), name="class")
    model = nnkit.Model(inputs, nnkit.layers.Lambda(lambda t: t * 2)(inputs))
    assert torch.equal(model(np.ones((1, 3))), torch.full((1, 3), 2.0))


def test_add_loss_in_a_models_own_call_counts_once_like_keras(keras):
    results = {}
    for name, lib in _libs(keras).items():
        class Model(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(1, kernel_initializer="ones")

            def call(self, x):
                y = self.dense(x)
                self.add_loss(1000 * lib.ops.mean(y ** 2) + 5.0)
                return y

        model, x = Model(), np.ones((8, 3), dtype="float32")
        model(x)
        model.compile(optimizer="sgd", loss="mse")
        results[name] = model.evaluate(x, np.zeros((8, 1)), verbose=0)
    assert results["nnkit"] == pytest.approx(results["keras"], rel=1e-6)


def test_an_integer_input_reaches_its_layers_as_integers():
    class Lookup(nnkit.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(10, 2))

        def call(self, ids):
            return self.table[ids]

        def compute_output_shape(self, input_shape):
            return (*input_shape, 2)

    ids = nnkit.Input(shape=(3,), dtype="int32")
    model = nnkit.Model(ids, nnkit.layers.Flatten()(Lookup()(ids)))
    assert model.predict(np.array([[0, 1, 2]]), verbose=0).shape == (1, 6)


def test_float64_tensors_are_cast_to_the_weights_type():
    dense = nnkit.layers.Dense(2)
    dense(np.ones((1, 3)))
    assert dense(torch.ones((1, 3), dtype=torch.float64)).dtype == torch.float32


def test_a_model_called_from_a_callback_during_fit_infers_like_keras(keras):
    seen = {}
    for name, lib in _libs(keras).items():
        calls = seen.setdefault(name, [])
        inputs = lib.Input(shape=(20,))
        model = lib.Model(inputs, lib.layers.Dropout(0.5)(lib.layers.Dense(20, kernel_initializer="ones")(inputs)))
        x = np.ones((4, 20), dtype="float32")

        class Probe(lib.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                calls.append(bool((self.model(x) == 0).any()))

        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, np.ones((4, 20)), epochs=1, batch_size=2, verbose=0, callbacks=[Probe()])
    assert seen["nnkit"] == seen["keras"] == [False, False]


def test_the_logits_fusion_leaves_other_readers_of_the_output_alone(keras):
    results = {}
    for name, lib in _libs(keras).items():
        ops = importlib.import_module(f"{name}.ops") if name == "nnkit" else keras.ops

        class Penalty(lib.layers.Layer):
            def call(self, p):
                self.add_loss(ops.mean(ops.sum(p ** 2, axis=-1)))
                return p

        class Model(lib.Model):
            def __init__(self):
                super().__init__()
                self.hidden = lib.layers.Dense(5, activation="relu", kernel_initializer="ones")
                self.out = lib.layers.Dense(3, activation="softmax", kernel_initializer=lib.initializers.Constant(2.0))
                self.penalty = Penalty()

            def call(self, x):
                p = self.out(self.hidden(x))
                self.penalty(p)
                return p

        model, x = Model(), np.ones((4, 2), dtype="float32")
        model(x)
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        results[name] = model.evaluate(x, np.eye(3)[[0, 1, 2, 0]], verbose=0)
    assert results["nnkit"] == pytest.approx(results["keras"], rel=1e-6)
