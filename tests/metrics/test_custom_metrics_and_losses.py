"""Your own metrics and losses, written as in Keras's documentation: streamed over batches like Keras's,
used in compile, saved by registered name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit.saving import register_serializable
from tests.helpers import assert_close


def true_positives_class(keras):
    ops = keras.ops

    class BinaryTruePositives(keras.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "bool")
            y_pred = ops.cast(ops.round(y_pred), "bool")
            values = ops.cast(ops.logical_and(y_true, y_pred), self.dtype)
            if sample_weight is not None:
                values = ops.multiply(values, ops.reshape(ops.cast(sample_weight, self.dtype), ops.shape(values)))
            self.true_positives.assign(self.true_positives + ops.sum(values))

        def result(self):
            return self.true_positives

    return BinaryTruePositives


def squared_loss_class(keras):
    class MeanSquaredLogits(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1)

    return MeanSquaredLogits


def test_a_custom_metric_streams_over_batches_like_keras(keras, rng):
    y_true = rng.integers(0, 2, size=(30, 1)).astype("float32")
    y_pred = rng.uniform(size=(30, 1)).astype("float32")
    weights = rng.uniform(size=(30,)).astype("float32")
    k_metric, n_metric = true_positives_class(keras)(), true_positives_class(nnkit)()
    for start in range(0, 30, 7):
        part = slice(start, start + 7)
        k_metric.update_state(y_true[part], y_pred[part], weights[part])
        n_metric.update_state(y_true[part], y_pred[part], weights[part])
    assert float(n_metric.result()) == pytest.approx(float(keras.ops.convert_to_numpy(k_metric.result())), rel=1e-6)
    n_metric.reset_state()
    assert float(n_metric.result()) == 0.0 and len(n_metric.variables) == 1


def test_custom_metric_and_loss_in_compile_train_like_keras(keras, rng):
    x = rng.normal(size=(24, 4)).astype("float32")
    y = rng.integers(0, 2, size=(24, 1)).astype("float32")
    histories = []
    models = [lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(1, activation="sigmoid")]) for lib in (keras, nnkit)]
    models[1].set_weights(models[0].get_weights())
    for lib, model in zip((keras, nnkit), models):
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss=squared_loss_class(lib)(),
                      metrics=[true_positives_class(lib)()])
        histories.append(model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history)
    assert list(histories[1]) == list(histories[0])
    for key in histories[0]:
        assert_close(histories[1][key], histories[0][key], rtol=1e-5, atol=1e-6)


@register_serializable(package="test_custom_metrics")
class Hits(nnkit.metrics.Metric):
    def __init__(self, threshold=0.5, name="hits", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.hits = self.add_variable(shape=(), name="hits")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.hits.assign_add(nnkit.ops.sum(nnkit.ops.cast(y_pred > self.threshold, "float32")))

    def result(self):
        return self.hits

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def test_a_registered_custom_metric_is_saved_by_name(rng, tmp_path):
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), nnkit.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[Hits(threshold=0.25)])
    x, y = rng.normal(size=(10, 3)), rng.integers(0, 2, size=(10, 1))
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = nnkit.models.load_model(tmp_path / "m.keras")
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)


@register_serializable(package="test_custom_losses")
class ScaledSquare(nnkit.losses.Loss):
    def __init__(self, scale=2.0, name="scaled_square", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * nnkit.ops.mean(nnkit.ops.square(y_pred - y_true), axis=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def test_a_registered_custom_loss_is_saved_by_name_with_its_reductions(rng, tmp_path):
    y_true, y_pred = rng.normal(size=(6, 2)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")
    per_sample = 3.0 * ((y_pred - y_true) ** 2).mean(axis=-1)

    for reduction, expected in (("sum_over_batch_size", per_sample.mean()), ("sum", per_sample.sum()),
                                ("none", per_sample)):
        value = ScaledSquare(3.0, reduction=reduction)(torch.as_tensor(y_true), torch.as_tensor(y_pred))
        np.testing.assert_allclose(value.numpy(), expected, rtol=1e-6)
    model = nnkit.Sequential([nnkit.Input(shape=(3,)), nnkit.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=ScaledSquare(3.0))
    x = rng.normal(size=(6, 3))
    model.fit(x, y_true, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = nnkit.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, ScaledSquare) and loaded.loss.scale == 3.0
    assert loaded.evaluate(x, y_true, verbose=0) == pytest.approx(model.evaluate(x, y_true, verbose=0), rel=1e-6)
