"""Precision, recall and F-scores, streamed over random batch splits, against scikit-learn (and Keras
where Keras computes the same thing), in every label format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_fscore_support

from nnkit import metrics
from tests.metrics.streaming import cut_points, softmax, stream, weights_or_none

SCORES = ((metrics.Precision, 0), (metrics.Recall, 1), (metrics.F1Score, 2))
TOL = 1e-6


def check_against_sklearn(y_true, y_pred, true_labels, pred_labels, bounds, weight, n_classes, *, binary,
                          **options):
    """Every score and average, streamed, equals precision_recall_fscore_support on the whole data."""
    averages = ["micro", "macro", "weighted", None] + (["binary"] if binary else [])
    for average in averages:
        labels = list(range(n_classes)) if average is None else None
        reference = precision_recall_fscore_support(true_labels, pred_labels, average=average, labels=labels,
                                                    sample_weight=weight, zero_division=0)
        for cls, index in SCORES:
            ours = stream(cls(average=average, **options), bounds, y_true, y_pred, weight)
            if average is None:  # one value per class, logged as name_0, name_1, ...
                assert ours.dtype == torch.float32 and ours.shape == (n_classes,)
                np.testing.assert_allclose(ours.numpy(), reference[index], rtol=0, atol=TOL)
            else:
                assert ours == pytest.approx(float(reference[index]), abs=TOL), (cls.__name__, average)
    per_class = precision_recall_fscore_support(true_labels, pred_labels, average=None, zero_division=0,
                                                labels=list(range(n_classes)), sample_weight=weight)
    class_id = n_classes - 1
    for cls, index in SCORES:
        ours = stream(cls(class_id=class_id, **options), bounds, y_true, y_pred, weight)
        assert ours == pytest.approx(float(per_class[index][class_id]), abs=TOL)


@st.composite
def multiclass_data(draw):
    n = draw(st.integers(1, 70))
    classes = draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Skewed labels so that classes are often absent from a batch or from the whole data.
    labels = rng.choice(classes, size=n, p=softmax(rng.normal(size=classes) * 1.5))
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[labels] * rng.random()
    weight = weights_or_none(rng, n, draw(st.booleans()))
    return labels, logits, weight, draw(cut_points(n))


@settings(max_examples=40, deadline=None)
@given(multiclass_data(), st.sampled_from(["labels", "labels_column", "one_hot"]), st.booleans())
def test_multiclass_scores_stream_to_sklearn(data, label_format, logits_in):
    labels, logits, weight, bounds = data
    classes = logits.shape[1]
    y_pred = logits if logits_in else softmax(logits)
    y_true = {"labels": labels, "labels_column": labels[:, None].astype(np.float32),
              "one_hot": np.eye(classes)[labels]}[label_format]
    check_against_sklearn(y_true, y_pred, labels, y_pred.argmax(1), bounds, weight, classes,
                          binary=classes == 2, from_logits=logits_in)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 70), st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([None, 0.3, 0.5, 0.8]),
       st.data())
def test_single_sigmoid_unit_streams_to_sklearn(n, seed, weighted, threshold, data):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < rng.random()).astype(np.int64)
    probs = rng.random((n, 1))
    bounds = data.draw(cut_points(n))
    weight = weights_or_none(rng, n, weighted)
    predicted = (probs[:, 0] > (0.5 if threshold is None else threshold)).astype(np.int64)
    for y_true in (labels.astype(np.float32)[:, None], labels):
        check_against_sklearn(y_true, probs, labels, predicted, bounds, weight, 2, binary=True, threshold=threshold)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.data())
def test_single_logit_unit_is_thresholded_after_the_sigmoid(n, seed, data):
    rng = np.random.default_rng(seed)
    labels = rng.integers(2, size=n)
    logits = rng.normal(size=(n, 1)) * 3
    bounds = data.draw(cut_points(n))
    check_against_sklearn(labels[:, None], logits, labels, (logits[:, 0] > np.log(0.7 / 0.3)).astype(int), bounds,
                          None, 2, binary=True, threshold=0.7, from_logits=True)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(2, 5), st.integers(0, 2**32 - 1), st.booleans(), st.data())
def test_multilabel_threshold_streams_to_sklearn(n, columns, seed, weighted, data):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n, columns)) < rng.random(columns)).astype(np.float32)
    probs = rng.random((n, columns))
    threshold = data.draw(st.sampled_from([0.25, 0.5, 0.75]))
    weight = weights_or_none(rng, n, weighted)
    bounds = data.draw(cut_points(n))
    check_against_sklearn(y_true, probs, y_true.astype(int), (probs > threshold).astype(int), bounds, weight,
                          columns, binary=False, threshold=threshold)


@settings(max_examples=30, deadline=None)
@given(multiclass_data(), st.floats(0.1, 5.0))
def test_fbeta_streams_to_sklearn(data, beta):
    labels, logits, weight, bounds = data
    for average in ("micro", "macro", "weighted"):
        reference = precision_recall_fscore_support(labels, logits.argmax(1), beta=beta, average=average,
                                                    sample_weight=weight, zero_division=0)[2]
        ours = stream(metrics.FBetaScore(average=average, beta=beta), bounds, labels, softmax(logits), weight)
        assert ours == pytest.approx(reference, abs=TOL)


def test_auto_average_is_binary_for_two_classes_and_macro_beyond():
    two = (np.array([0, 1, 1, 0]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]))
    assert metrics.Precision()(*two) == pytest.approx(0.5)  # class 1: predicted rows 1 and 3, one right
    assert metrics.Recall()(*two) == pytest.approx(0.5)
    three = (np.array([0, 1, 2, 2]), np.array([[.8, .1, .1], [.2, .7, .1], [.1, .8, .1], [.1, .1, .8]]))
    assert metrics.Precision()(*three) == pytest.approx((1 + 0.5 + 1) / 3)
    assert metrics.F1Score(average="auto")(*three) == pytest.approx(metrics.F1Score(average="macro")(*three))


def test_two_softmax_units_and_one_sigmoid_unit_agree():
    rng = np.random.default_rng(3)
    p1 = rng.random(50)
    labels = (rng.random(50) < p1).astype(np.int64)
    for cls, _ in SCORES:
        sigmoid_unit = cls(average="auto")(labels[:, None].astype(np.float32), p1[:, None])
        softmax_units = cls(average="auto")(labels, np.stack([1 - p1, p1], axis=1))
        one_hot = cls(average="auto")(np.eye(2)[labels], np.stack([1 - p1, p1], axis=1))
        assert sigmoid_unit == pytest.approx(softmax_units) == pytest.approx(one_hot)


def test_keras_f1_score_with_threshold(keras, rng):
    y_true = (rng.random((40, 4)) < 0.4).astype(np.float32)
    y_pred = rng.random((40, 4)).astype(np.float32)
    for average in (None, "micro", "macro", "weighted"):
        theirs = np.asarray(keras.metrics.F1Score(average=average, threshold=0.5)(y_true, y_pred))
        ours = metrics.F1Score(average=average, threshold=0.5)(y_true, y_pred)
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6)


def test_keras_precision_and_recall_with_thresholds(keras, rng):
    y_true = (rng.random((60, 1)) < 0.5).astype(np.float32)
    y_pred = rng.random((60, 1)).astype(np.float32)
    for ours, theirs in ((metrics.Precision(thresholds=0.3), keras.metrics.Precision(thresholds=0.3)),
                         (metrics.Recall(0.7), keras.metrics.Recall(thresholds=0.7))):
        assert ours(y_true, y_pred) == pytest.approx(float(theirs(y_true, y_pred)), abs=1e-6)
    # Keras thresholds every column of a multi-column output: our multi-label mode with micro average.
    y_true = np.eye(3, dtype=np.float32)[rng.integers(3, size=60)]
    y_pred = rng.random((60, 3)).astype(np.float32)
    theirs = float(keras.metrics.Precision(thresholds=0.5)(y_true, y_pred))
    assert metrics.Precision(threshold=0.5, average="micro")(y_true, y_pred) == pytest.approx(theirs, abs=1e-6)


def test_no_positive_predictions_give_zero_without_warnings():
    # pytest turns warnings into errors, so a warning here fails the test.
    y_true = np.array([[1.0], [1.0], [0.0]])
    y_pred = np.array([[0.1], [0.2], [0.3]])
    assert metrics.Precision()(y_true, y_pred) == 0.0
    assert metrics.Recall()(y_true, y_pred) == 0.0
    assert metrics.F1Score(average="auto")(y_true, y_pred) == 0.0
    assert metrics.Precision(average=None)(y_true, y_pred).tolist() == pytest.approx([1 / 3, 0.0])


def test_single_class_overall():
    y_true, y_pred = np.zeros(5, dtype=np.int64), np.full((5, 1), 0.2)
    assert metrics.F1Score(average="binary")(y_true, y_pred) == 0.0  # no positives anywhere
    for average in ("micro", "macro", "weighted"):  # only class 0 occurs: perfect, as scikit-learn says
        assert metrics.F1Score(average=average)(y_true, y_pred) == pytest.approx(1.0)
        reference = precision_recall_fscore_support(y_true, np.zeros(5, int), average=average, zero_division=0)
        assert metrics.F1Score(average=average)(y_true, y_pred) == pytest.approx(reference[2])


def test_class_absent_from_a_batch_counts_once_seen():
    metric = metrics.Recall(average="macro")
    metric.update_state(torch.tensor([0, 0]), torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]]))
    assert metric.result() == pytest.approx(0.5 / 2)  # classes 0 and 1 seen so far
    metric.update_state(torch.tensor([2]), torch.tensor([[0.1, 0.1, 0.8]]))
    assert metric.result() == pytest.approx((0.5 + 0.0 + 1.0) / 3)


def test_reset_state_and_repr():
    metric = metrics.F1Score(average="weighted", name="f1w")
    metric.update_state(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1], [0.9, 0.1]]))
    metric.reset_state()
    assert metric.result() == 0.0
    assert metrics.Precision(average=None).result().shape == (0,)  # no classes seen yet
    assert repr(metric) == ("F1Score(threshold=None, average='weighted', class_id=None, from_logits=False, "
                            "name='f1w')")
    clone = metrics.F1Score.from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()
    assert metrics.FBetaScore.from_config(metrics.FBetaScore(beta=2.0).get_config()).beta == 2.0


def test_class_seen_only_in_zero_weight_rows_still_counts_in_macro_like_sklearn():
    y_true, y_pred_labels = np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])
    weight = np.array([1.0, 1.0, 0.0, 1.0])
    reference = precision_recall_fscore_support(y_true, y_pred_labels, average="macro", sample_weight=weight,
                                                zero_division=0)
    y_pred = np.eye(3)[y_pred_labels]
    for cls, index in SCORES:
        ours = cls(average="macro")(y_true, y_pred, weight)
        assert ours == pytest.approx(reference[index])
    # Class 2 has zero weight everywhere except one row; drop that row and class 2 still occurs.
    weight = np.array([1.0, 1.0, 0.0, 0.0])
    reference = precision_recall_fscore_support(y_true, y_pred_labels, average="macro", sample_weight=weight,
                                                zero_division=0)
    assert metrics.Precision(average="macro")(y_true, y_pred, weight) == pytest.approx(reference[0])
