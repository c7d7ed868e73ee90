"""ConfusionMatrix and the counts against scikit-learn; the errors every confusion metric raises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

from nnkit import metrics
from nnkit.errors import ConfigError, DataError
from tests.metrics.streaming import cut_points, softmax, stream, weights_or_none


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(2, 5), st.integers(0, 2**32 - 1), st.booleans(),
       st.sampled_from([None, "true", "pred", "all"]), st.data())
def test_confusion_matrix_streams_to_sklearn(n, classes, seed, weighted, normalize, data):
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=n)
    probs = softmax(rng.normal(size=(n, classes)))
    weight = weights_or_none(rng, n, weighted)
    bounds = data.draw(cut_points(n))
    ours = stream(metrics.ConfusionMatrix(normalize=normalize), bounds, labels, probs, weight)
    reference = confusion_matrix(labels, probs.argmax(1), labels=range(classes), sample_weight=weight,
                                 normalize=normalize)
    np.testing.assert_allclose(ours.matrix, reference, rtol=0, atol=1e-9)
    assert ours[f"confusion_matrix_{classes - 1}_0"] == pytest.approx(reference[classes - 1, 0])


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(2, 5), st.integers(0, 2**32 - 1), st.booleans(), st.data())
def test_counts_and_multilabel_matrix_stream_to_sklearn(n, columns, seed, weighted, data):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n, columns)) < 0.4).astype(np.float32)
    probs = rng.random((n, columns))
    weight = weights_or_none(rng, n, weighted)
    bounds = data.draw(cut_points(n))
    reference = multilabel_confusion_matrix(y_true.astype(int), (probs > 0.6).astype(int), sample_weight=weight)
    ours = stream(metrics.ConfusionMatrix(threshold=0.6), bounds, y_true, probs, weight)
    np.testing.assert_allclose(ours.matrix, reference, atol=1e-9)
    cells = {metrics.TrueNegatives: (0, 0), metrics.FalsePositives: (0, 1), metrics.FalseNegatives: (1, 0),
             metrics.TruePositives: (1, 1)}
    for cls, (t, p) in cells.items():
        per_class = stream(cls(threshold=0.6, average=None), bounds, y_true, probs, weight)
        assert per_class.dtype == torch.float32  # one count per class, as Keras returns results
        np.testing.assert_allclose(per_class.numpy(), reference[:, t, p], rtol=1e-6, atol=1e-9)
        assert stream(cls(threshold=0.6), bounds, y_true, probs, weight) == pytest.approx(reference[:, t, p].sum())
        assert stream(cls(threshold=0.6, class_id=1), bounds, y_true, probs, weight) == pytest.approx(
            reference[1, t, p])


def test_counts_of_a_binary_problem_are_those_of_the_positive_class(keras):
    y_true = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]], dtype=np.float32)
    y_pred = np.array([[0.9], [0.8], [0.3], [0.1], [0.6]], dtype=np.float32)
    expected = {metrics.TruePositives: 2, metrics.FalsePositives: 1, metrics.TrueNegatives: 1,
                metrics.FalseNegatives: 1}
    for cls, count in expected.items():
        assert cls()(y_true, y_pred) == count
        assert cls()(y_true, y_pred) == float(getattr(keras.metrics, cls.__name__)()(y_true, y_pred))
    assert metrics.TruePositives(threshold=0.85)(y_true, y_pred) == 1


def test_counts_of_a_multiclass_problem_sum_over_classes():
    y_true = np.array([0, 1, 2, 2])
    y_pred = np.eye(3)[[0, 2, 2, 1]]
    assert metrics.TruePositives()(y_true, y_pred) == 2  # the correct rows
    assert metrics.FalsePositives()(y_true, y_pred) == 2  # the wrong rows, once each
    assert metrics.TrueNegatives()(y_true, y_pred) == 4 * 3 - 2 - 2 - 2
    assert metrics.FalseNegatives(average=None)(y_true, y_pred).tolist() == [0.0, 1.0, 1.0]


def test_confusion_matrix_prints_as_a_table():
    metric = metrics.ConfusionMatrix()
    metric.update_state(torch.tensor([0, 1, 1, 2]), torch.eye(3)[[0, 1, 0, 2]])
    assert str(metric.result()) == (
        "confusion_matrix (rows: true class, columns: predicted class)\n"
        "   0  1  2\n"
        "0  1  0  0\n"
        "1  1  1  0\n"
        "2  0  0  1"
    )
    assert repr(metric.result()) == str(metric.result())
    weighted = metrics.ConfusionMatrix(normalize="true")
    weighted.update_state(torch.tensor([0, 1, 1]), torch.eye(2)[[0, 1, 0]])
    assert "0.5" in str(weighted.result())
    multilabel = metrics.ConfusionMatrix(threshold=0.5)
    multilabel.update_state(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.9, 0.7]]))
    assert str(multilabel.result()).splitlines()[1:4] == ["class 0  pred 0  pred 1", "true 0        0       0",
                                                          "true 1        0       1"]
    assert np.array_equal(multilabel.result().to_numpy(), [[[0, 0], [0, 1]], [[0, 1], [0, 0]]])
    assert "no batches" in str(metrics.ConfusionMatrix().result())


def test_average_binary_on_multiclass_outputs_is_refused_naming_the_metric():
    metric = metrics.F1Score(average="binary", name="my_f1")
    with pytest.raises(ConfigError, match=r"Metric 'my_f1' uses average='binary'.*3-class problem"):
        metric.update_state(torch.tensor([0, 1, 2]), torch.eye(3))
    with pytest.raises(ConfigError, match=r"'precision'.*average='binary'"):
        metrics.get(metrics.Precision(average="binary"), output_shape=(4,), target_shape=())
    metrics.get(metrics.Precision(average="binary"), output_shape=(2,), target_shape=())  # two softmax units: fine


def test_bad_arguments_are_explained():
    with pytest.raises(ConfigError, match="Did you mean 'macro'"):
        metrics.Precision(average="marco")
    with pytest.raises(ConfigError, match=r"class_id.*non-negative"):
        metrics.Recall(class_id=-1)
    with pytest.raises(ConfigError, match="both class_id=1 and average='macro'"):
        metrics.Recall(class_id=1, average="macro")
    with pytest.raises(ConfigError, match=r"threshold in \[0, 1\]"):
        metrics.Precision(threshold=1.5)
    with pytest.raises(ConfigError, match="beta to be a positive number"):
        metrics.FBetaScore(beta=0)
    with pytest.raises(ConfigError, match=r"threshold values in \[0, 1\]"):
        metrics.Precision(thresholds=[0.3, 1.6])
    with pytest.raises(ConfigError, match="Did you mean 'true'"):
        metrics.ConfusionMatrix(normalize="ture")
    with pytest.raises(ConfigError, match="'micro'"):
        metrics.TruePositives(average="macro")
    metric = metrics.Precision(class_id=3)
    with pytest.raises(ConfigError, match=r"class_id=3.*\[0, 2\]"):
        metric.update_state(torch.tensor([0]), torch.tensor([[0.2, 0.3, 0.5]]))


def test_bad_targets_are_explained():
    metric = metrics.Recall(name="recall")
    with pytest.raises(DataError, match=r"Metric 'recall' cannot pair targets of shape \(4, 2\).*\(4, 3\)"):
        metric.update_state(torch.zeros(4, 2), torch.rand(4, 3))
    metric.update_state(torch.tensor([0, 3, -1, 1]), torch.rand(4, 3))
    with pytest.raises(DataError, match=r"'recall' received 2 target value\(s\).*integer labels in \[0, 2\]"):
        metric.result()
    fractional = metrics.Precision()
    fractional.update_state(torch.tensor([0.5, 1.0]), torch.rand(2, 3))
    with pytest.raises(DataError, match="1 target value"):
        fractional.result()
    binary = metrics.Precision()
    binary.update_state(torch.tensor([[2.0]]), torch.tensor([[0.9]]))
    with pytest.raises(DataError, match="0/1 targets"):
        binary.result()
    changed = metrics.F1Score()
    changed.update_state(torch.tensor([0]), torch.rand(1, 3))
    with pytest.raises(DataError, match=r"3-class problem.*reset_state"):
        changed.update_state(torch.tensor([0]), torch.rand(1, 4))
    with pytest.raises(DataError, match="one sample weight per sample"):
        metrics.Precision().update_state(torch.tensor([0, 1]), torch.rand(2, 3), torch.ones(3))
