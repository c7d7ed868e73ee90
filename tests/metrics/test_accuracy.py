"""Accuracy metrics against scikit-learn and Keras, streamed over batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

from nnkit import losses, metrics
from nnkit.errors import ConfigError


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), classes=st.integers(2, 6), cut=st.integers(0, 60), seed=st.integers(0, 10_000))
def test_sparse_and_categorical_accuracy_stream_to_sklearn(n, classes, cut, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=n)
    probs = rng.random((n, classes))
    expected = accuracy_score(labels, probs.argmax(1))
    sparse, categorical = metrics.SparseCategoricalAccuracy(), metrics.CategoricalAccuracy()
    one_hot = np.eye(classes)[labels]
    for part in (slice(0, min(cut, n)), slice(min(cut, n), n)):
        if part.start == part.stop:
            continue
        sparse.update_state(torch.as_tensor(labels[part]), torch.as_tensor(probs[part]))
        categorical.update_state(torch.as_tensor(one_hot[part]), torch.as_tensor(probs[part]))
    assert sparse.result() == pytest.approx(expected)
    assert categorical.result() == pytest.approx(expected)


def test_binary_accuracy_thresholds_like_keras(keras):
    y_true = np.array([[1.0], [0.0], [1.0], [0.0]])
    y_pred = np.array([[0.7], [0.6], [0.4], [0.1]])
    ours = metrics.BinaryAccuracy()(y_true, y_pred)
    theirs = float(keras.metrics.BinaryAccuracy()(y_true, y_pred))
    assert ours == pytest.approx(theirs) == pytest.approx(0.5)
    assert metrics.BinaryAccuracy(threshold=0.65)(y_true, y_pred) == pytest.approx(0.75)


def test_weighted_accuracy():
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1], [0.9, 0.1]]), torch.tensor([3.0, 1.0]))
    assert metric.result() == pytest.approx(0.75)
    metric.reset_state()
    assert metric.result() == 0.0


def test_accuracy_string_is_resolved_from_shapes_like_keras():
    get = metrics.get
    assert get("accuracy", output_shape=(1,), target_shape=(1,)).fn is metrics.binary_accuracy
    assert get("acc", output_shape=(10,), target_shape=()).fn is metrics.sparse_categorical_accuracy
    assert get("accuracy", output_shape=(10,), target_shape=(1,)).fn is metrics.sparse_categorical_accuracy
    assert get("accuracy", output_shape=(10,), target_shape=(10,)).fn is metrics.categorical_accuracy
    bce = losses.BinaryCrossentropy()
    assert get("accuracy", loss=bce, output_shape=(4,), target_shape=(4,)).fn is metrics.binary_accuracy
    assert get("acc", output_shape=(3,), target_shape=(3,)).name == "acc"


def test_loss_names_and_functions_are_metrics():
    mse = metrics.get("mse")
    assert mse.name == "mse"
    mse.update_state(torch.tensor([[1.0], [3.0]]), torch.tensor([[2.0], [3.0]]))
    assert mse.result() == pytest.approx(0.5)

    def double_error(y_true, y_pred):
        return 2 * (y_true - y_pred).abs().mean(-1)

    custom = metrics.get(double_error)
    assert custom.name == "double_error"
    assert custom(np.array([[1.0]]), np.array([[0.0]])) == pytest.approx(2.0)


def test_unknown_metric_name_is_explained():
    with pytest.raises(ConfigError, match="Did you mean 'accuracy'"):
        metrics.get("acuracy")
