"""Accuracy metrics against scikit-learn and Keras, streamed over batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, top_k_accuracy_score

from nnkit import losses, metrics
from nnkit.errors import ConfigError, DataError
from tests.metrics.streaming import cut_points, stream, weights_or_none


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


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), classes=st.integers(3, 7), k=st.integers(1, 6), seed=st.integers(0, 10_000),
       weighted=st.booleans(), data=st.data())
def test_top_k_accuracy_streams_to_sklearn(n, classes, k, seed, weighted, data):
    k = min(k, classes - 1)  # scikit-learn warns that k >= n_classes is a perfect score
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=n)
    probs = rng.random((n, classes))
    weight = weights_or_none(rng, n, weighted)
    bounds = data.draw(cut_points(n))
    expected = top_k_accuracy_score(labels, probs, k=k, labels=range(classes), sample_weight=weight)
    for metric, y_true in ((metrics.TopKCategoricalAccuracy(k=k), np.eye(classes)[labels]),
                           (metrics.SparseTopKCategoricalAccuracy(k=k), labels),
                           (metrics.TopKCategoricalAccuracy(k=k), labels)):  # either label format works
        assert stream(metric, bounds, y_true, probs, weight) == pytest.approx(expected, abs=1e-6)


def test_top_k_accuracy_like_keras(keras, rng):
    labels = rng.integers(6, size=50)
    probs = rng.random((50, 6)).astype(np.float32)
    probs[:5, :] = 0.5  # ties count as hits in both
    one_hot = np.eye(6, dtype=np.float32)[labels]
    assert metrics.TopKCategoricalAccuracy(k=2)(one_hot, probs) == pytest.approx(
        float(keras.metrics.TopKCategoricalAccuracy(k=2)(one_hot, probs)))
    assert metrics.SparseTopKCategoricalAccuracy(k=3)(labels, probs) == pytest.approx(
        float(keras.metrics.SparseTopKCategoricalAccuracy(k=3)(labels, probs)))
    assert metrics.top_k_categorical_accuracy(torch.as_tensor(labels), torch.as_tensor(probs), k=6).mean() == 1.0
    assert metrics.TopKCategoricalAccuracy().name == keras.metrics.TopKCategoricalAccuracy().name


@pytest.mark.parametrize("k", [1, 3, 8])  # 8: more than the 6 ids given, as Keras allows
def test_top_k_from_sorted_ids_like_keras(keras, rng, k):
    ids = rng.integers(0, 50, size=(20,))
    top_ids = rng.integers(0, 50, size=(20, 6))
    top_ids[:8, rng.integers(6)] = ids[:8]
    weight = rng.random(20).astype(np.float32)
    for y_true, sample_weight in ((ids, None), (ids[:, None], weight)):
        ours = metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=True)
        theirs = keras.metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=True)
        for part in (slice(0, 7), slice(7, 20)):
            kwargs = {} if sample_weight is None else {"sample_weight": sample_weight[part]}
            ours.update_state(y_true[part], top_ids[part], **kwargs)
            theirs.update_state(y_true[part], top_ids[part], **kwargs)
        assert float(ours.result()) == pytest.approx(float(theirs.result()), abs=1e-6)
    np.testing.assert_array_equal(
        metrics.sparse_top_k_categorical_accuracy(ids, top_ids, k=k, from_sorted_ids=True).numpy(),
        keras.ops.convert_to_numpy(keras.metrics.sparse_top_k_categorical_accuracy(ids, top_ids, k=k,
                                                                                   from_sorted_ids=True)))
    config = ours.get_config()
    assert config["from_sorted_ids"] is theirs.get_config()["from_sorted_ids"] is True
    assert metrics.SparseTopKCategoricalAccuracy.from_config(config).from_sorted_ids
    assert "from_sorted_ids" not in metrics.SparseTopKCategoricalAccuracy().get_config()


def test_top_k_larger_than_the_classes_is_refused_naming_the_metric():
    with pytest.raises(ConfigError, match=r"'top_k_categorical_accuracy' has k=5.*only 3 classes"):
        metrics.get("top_k_categorical_accuracy", output_shape=(3,), target_shape=(3,))
    with pytest.raises(ConfigError, match=r"'top3' has k=3.*only 2 classes"):
        metrics.SparseTopKCategoricalAccuracy(k=3, name="top3").update_state(torch.tensor([0]), torch.rand(1, 2))
    with pytest.raises(ConfigError, match="positive int"):
        metrics.TopKCategoricalAccuracy(k=0)
    metric = metrics.SparseTopKCategoricalAccuracy(k=1)
    metric.update_state(torch.tensor([0, 9]), torch.rand(2, 3))
    with pytest.raises(DataError, match="1 target label"):
        metric.result()
