"""AUC (ROC and PR) streamed over random batch splits, against scikit-learn exactly, and the bucketed
mode against Keras."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from nnkit import metrics
from nnkit.errors import ConfigError, DataError
from tests.metrics.streaming import cut_points, softmax, stream, weights_or_none

TOL = 1e-6
REFERENCE = {"ROC": roc_auc_score, "PR": average_precision_score}


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 70), st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([None, 4]), st.data())
def test_binary_auc_streams_to_sklearn(n, seed, weighted, levels, data):
    rng = np.random.default_rng(seed)
    labels = rng.integers(2, size=n)
    labels[:2] = [0, 1]  # both classes occur, so ROC AUC is defined
    scores = rng.random((n, 1))
    if levels:  # few distinct scores: ties within and across batches
        scores = np.round(scores * levels) / levels
    weight = weights_or_none(rng, n, weighted)
    if weight is not None:
        weight[:2] = 1.0
    bounds = data.draw(cut_points(n))
    for curve, reference in REFERENCE.items():
        expected = reference(labels, scores[:, 0], sample_weight=weight)
        ours = stream(metrics.AUC(curve=curve), bounds, labels[:, None].astype(np.float32), scores, weight)
        assert ours == pytest.approx(expected, abs=TOL), curve
        two_units = stream(metrics.AUC(curve=curve), bounds, labels, np.hstack([1 - scores, scores]), weight)
        assert two_units == pytest.approx(expected, abs=TOL), curve


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 40), st.integers(3, 5), st.integers(0, 2**32 - 1), st.booleans(), st.booleans(), st.data())
def test_multiclass_and_multilabel_auc_stream_to_sklearn(extra, classes, seed, weighted, multilabel, data):
    rng = np.random.default_rng(seed)
    n = classes + extra
    if multilabel:
        y_true = (rng.random((n, classes)) < 0.5).astype(np.float32)
        y_true[0], y_true[1] = 0, 1  # every column has both values
        scores = rng.random((n, classes))
        y_in = y_true
    else:
        labels = rng.permutation(np.concatenate([np.arange(classes), rng.integers(classes, size=extra)]))
        y_true = np.eye(classes)[labels]
        scores = softmax(rng.normal(size=(n, classes)))
        y_in = labels
    scores = np.round(scores, 1)  # ties
    weight = weights_or_none(rng, n, weighted)
    if weight is not None:
        weight[:] = np.maximum(weight, 0.1)  # scikit-learn needs each class's weighted curve defined
    bounds = data.draw(cut_points(n))
    for curve, reference in REFERENCE.items():
        for average in ("micro", "macro", "weighted", None):
            expected = reference(y_true, scores, average=average, sample_weight=weight)
            ours = stream(metrics.AUC(curve=curve, average=average, multi_label=multilabel), bounds, y_in, scores,
                          weight)
            if average is None:
                assert ours.dtype == torch.float32 and ours.shape == (classes,)  # logged as auc_0, auc_1, ...
                np.testing.assert_allclose(ours.numpy(), expected, atol=TOL)
            else:
                assert ours == pytest.approx(expected, abs=TOL), (curve, average)
        per_class = reference(y_true, scores, average=None, sample_weight=weight)
        ours = stream(metrics.AUC(curve=curve, class_id=classes - 1), bounds, y_in, scores, weight)
        assert ours == pytest.approx(per_class[-1], abs=TOL)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 10, 200]), st.booleans(), st.data())
def test_bucketed_auc_is_the_exact_auc_of_scores_rounded_to_its_buckets(n, seed, thresholds, weighted, data):
    rng = np.random.default_rng(seed)
    labels = rng.integers(2, size=(n, 1)).astype(np.float32)
    scores = rng.random((n, 1))
    scores[rng.random((n, 1)) < 0.1] = 0.0
    weight = weights_or_none(rng, n, weighted)
    bounds = data.draw(cut_points(n))
    edges = np.array([-1e-7, *(i / (thresholds - 1) for i in range(1, thresholds - 1)), 1 + 1e-7])
    bucket = np.searchsorted(edges, scores, side="left").astype(np.float64)  # count of thresholds below
    for curve in ("ROC", "PR"):
        bucketed = stream(metrics.AUC(num_thresholds=thresholds, curve=curve), bounds, labels, scores, weight)
        exact = stream(metrics.AUC(curve=curve), bounds, labels, bucket, weight)
        assert float(bucketed) == pytest.approx(float(exact), abs=1e-7)


def test_bucketed_roc_auc_matches_keras(keras, rng):
    y_true = rng.integers(2, size=(300, 1)).astype(np.float32)
    y_pred = np.clip(y_true * 0.3 + rng.random((300, 1)) * 0.7, 0, 1).astype(np.float32)
    for thresholds in (3, 50, 200):
        theirs = float(keras.metrics.AUC(num_thresholds=thresholds)(y_true, y_pred))
        assert metrics.AUC(num_thresholds=thresholds)(y_true, y_pred) == pytest.approx(theirs, abs=1e-5)
    exact = roc_auc_score(y_true[:, 0], y_pred[:, 0])
    assert metrics.AUC(num_thresholds=200)(y_true, y_pred) == pytest.approx(exact, abs=5e-3)


def test_logits_are_read_through_softmax_or_sigmoid():
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 4
    logits = rng.normal(size=(40, 4)) * 3
    probs = softmax(logits)
    for curve in ("ROC", "PR"):
        assert metrics.AUC(curve=curve, from_logits=True)(labels, logits) == pytest.approx(
            metrics.AUC(curve=curve)(labels, probs))
    binary_logits = logits[:, :1]
    assert metrics.AUC(curve="PR", from_logits=True)(labels[:, None] % 2, binary_logits) == pytest.approx(
        average_precision_score(labels % 2, binary_logits[:, 0]))


def test_undefined_auc_is_zero_without_warnings():
    only_negatives = (np.zeros((4, 1)), np.array([[0.1], [0.4], [0.3], [0.9]]))
    assert metrics.AUC()(*only_negatives) == 0.0
    assert metrics.AUC(curve="PR")(*only_negatives) == 0.0
    assert metrics.AUC(num_thresholds=20)(*only_negatives) == 0.0
    # A class with no positives is left out of the macro average and reports 0 on its own.
    labels, scores = np.array([0, 1, 0, 1]), np.array([[.6, .3, .1], [.2, .7, .1], [.5, .1, .4], [.3, .4, .3]])
    assert metrics.AUC(average="macro")(labels, scores) == pytest.approx(1.0)
    assert metrics.AUC(average=None)(labels, scores).tolist() == [1.0, 1.0, 0.0]
    assert metrics.AUC().result() == 0.0


def test_auc_errors_name_the_metric():
    with pytest.raises(ConfigError, match="Did you mean 'PR'"):
        metrics.AUC(curve="RP")
    with pytest.raises(ConfigError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ConfigError, match=r"Metric 'auc' uses average='binary'.*3 classes"):
        metrics.AUC(average="binary").update_state(torch.tensor([0]), torch.rand(1, 3))
    with pytest.raises(ConfigError, match=r"class_id=5.*\[0, 2\]"):
        metrics.get(metrics.AUC(class_id=5), output_shape=(3,))
    metric = metrics.AUC(name="val_auc_check")
    metric.update_state(torch.tensor([0, 4]), torch.rand(2, 3))
    with pytest.raises(DataError, match="'val_auc_check' received 1 target"):
        metric.result()
    with pytest.raises(DataError, match="reset_state"):
        metric.update_state(torch.tensor([0]), torch.rand(1, 4))
