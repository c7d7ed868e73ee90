"""Custom training logic as Keras's torch-backend guide writes it: ``train_step``/``test_step`` overrides,
``compute_loss``, ``optimizer.apply``, ``self.metrics``; the same program under Keras and nnkit."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

import nnkit
from nnkit.errors import ConfigError
from tests.helpers import assert_close

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def custom_model_class(keras):
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    return CustomModel


def _build(keras):
    inputs = keras.Input(shape=(8,))
    hidden = keras.layers.Dense(6, activation="relu")(inputs)
    return custom_model_class(keras)(inputs, keras.layers.Dense(1)(hidden))


def test_the_guides_train_step_trains_like_keras(keras, rng):
    x, y = rng.normal(size=(40, 8)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    k_model, n_model = _build(keras), _build(nnkit)
    n_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    n_model.compile(optimizer=nnkit.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    fit = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0, "validation_split": 0.25}
    k_history, n_history = k_model.fit(x, y, **fit).history, n_model.fit(x, y, **fit).history
    assert list(n_history) == list(k_history)
    for key in k_history:
        assert_close(n_history[key], k_history[key], rtol=1e-4, atol=1e-6)
    assert_close(n_model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0), rtol=1e-4, atol=1e-6)
    assert n_model.optimizer.iterations == 12


def test_super_train_step_and_apply_gradients(rng):
    calls = []

    class Counting(nnkit.Model):
        def train_step(self, data):
            calls.append(len(data))
            return super().train_step(data)

    inputs = nnkit.Input(shape=(3,))
    model = Counting(inputs, nnkit.layers.Dense(1)(inputs))
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(rng.normal(size=(16, 3)), rng.normal(size=(16, 1)), epochs=2, batch_size=8, verbose=0)
    assert calls == [2, 2, 2, 2] and list(history.history) == ["loss"]
    weight = torch.nn.Parameter(torch.ones(2))
    optimizer = nnkit.optimizers.SGD(0.5)
    optimizer.apply_gradients(zip([torch.ones(2)], [weight]))
    torch.testing.assert_close(weight.detach(), torch.full((2,), 0.5))


def test_a_train_step_must_return_scalar_logs(rng):
    class Bad(nnkit.Model):
        def train_step(self, data):
            return {"loss": torch.ones(3)}

    inputs = nnkit.Input(shape=(3,))
    model = Bad(inputs, nnkit.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ConfigError, match=r"train_step returned log 'loss' of shape \(3,\); logs must be scalars"):
        model.fit(rng.normal(size=(4, 3)), rng.normal(size=(4, 1)), verbose=0)


def test_the_gan_example_trains_two_networks_with_its_own_step():
    history = runpy.run_path(str(EXAMPLES / "gan.py"), run_name="gan")["main"](epochs=2, verbose=0)
    assert list(history) == ["d_loss", "g_loss"] and len(history["d_loss"]) == 2
    assert all(np.isfinite(v) for values in history.values() for v in values)


def test_a_predict_step_override_is_used_by_predict(rng):
    class Doubled(nnkit.Model):
        def predict_step(self, data):
            return 2 * self(data, training=False)

    inputs = nnkit.Input(shape=(3,))
    model = Doubled(inputs, nnkit.layers.Dense(2)(inputs))
    x = rng.normal(size=(10, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, batch_size=4, verbose=0), 2 * model(x).detach().numpy(), rtol=1e-6)
