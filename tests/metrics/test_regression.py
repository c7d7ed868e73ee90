"""Regression metrics streamed over random batch splits against scikit-learn, and against Keras where
scikit-learn has no equivalent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_log_error,
    r2_score,
    root_mean_squared_error,
)

from nnkit import losses, metrics
from nnkit.errors import ConfigError, DataError
from tests.metrics.streaming import cut_points, stream, weights_or_none

TOL = 1e-6


@st.composite
def regression_data(draw):
    n = draw(st.integers(2, 70))
    outputs = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = draw(st.sampled_from([0.0, 5.0, 1000.0]))  # large offsets test the variance merge
    y_true = offset + rng.normal(size=(n, outputs)) * rng.uniform(0.1, 10)
    y_pred = y_true + rng.normal(size=(n, outputs))
    return y_true, y_pred, weights_or_none(rng, n, draw(st.booleans())), draw(cut_points(n))


@settings(max_examples=40, deadline=None)
@given(regression_data())
def test_regression_metrics_stream_to_sklearn(data):
    y_true, y_pred, weight, bounds = data
    # R2 needs a spread of weighted targets; with fewer than two weighted samples it is undefined and
    # scikit-learn's value is rounding noise (e.g. -4e30), not a reference.
    assume(weight is None or (weight > 0).sum() >= 2)
    expected = {
        metrics.MeanSquaredError: mean_squared_error(y_true, y_pred, sample_weight=weight),
        metrics.MeanAbsoluteError: mean_absolute_error(y_true, y_pred, sample_weight=weight),
        metrics.RootMeanSquaredError: np.sqrt(mean_squared_error(y_true, y_pred, sample_weight=weight)),
        metrics.R2Score: r2_score(y_true, y_pred, sample_weight=weight),
    }
    for cls, value in expected.items():
        assert stream(cls(), bounds, y_true, y_pred, weight) == pytest.approx(value, rel=TOL, abs=TOL), cls.__name__
    for aggregation, multioutput in (("variance_weighted_average", "variance_weighted"), (None, "raw_values")):
        ours = stream(metrics.R2Score(class_aggregation=aggregation), bounds, y_true, y_pred, weight)
        theirs = r2_score(y_true, y_pred, sample_weight=weight, multioutput=multioutput)
        if aggregation is None:
            assert ours.shape == (y_true.shape[1],)  # one score per output, logged as r2_score_0, ...
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=TOL, atol=TOL)
    positive_true, positive_pred = np.abs(y_true) + 0.5, np.abs(y_pred)
    assert stream(metrics.MeanAbsolutePercentageError(), bounds, positive_true, positive_pred, weight) == pytest.approx(
        100 * mean_absolute_percentage_error(positive_true, positive_pred, sample_weight=weight), rel=TOL)
    assert stream(metrics.MeanSquaredLogarithmicError(), bounds, positive_true, positive_pred, weight) == pytest.approx(
        mean_squared_log_error(positive_true, positive_pred, sample_weight=weight), rel=TOL)


def test_single_output_rmse_and_one_dimensional_inputs():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.normal(size=30), rng.normal(size=30)
    assert metrics.RootMeanSquaredError()(y_true, y_pred) == pytest.approx(root_mean_squared_error(y_true, y_pred))
    assert metrics.R2Score()(y_true, y_pred) == pytest.approx(r2_score(y_true, y_pred))
    assert metrics.MeanSquaredError()(y_true[:, None], y_pred) == pytest.approx(mean_squared_error(y_true, y_pred))


@pytest.mark.parametrize("name", ["LogCoshError", "CosineSimilarity", "MeanAbsolutePercentageError",
                                  "MeanSquaredLogarithmicError", "RootMeanSquaredError", "R2Score"])
def test_keras_parity_with_sample_weights(keras, name):
    rng = np.random.default_rng(7)
    y_true = rng.normal(size=(50, 3)).astype(np.float32)
    y_pred = (y_true + rng.normal(size=(50, 3))).astype(np.float32)
    weight = rng.random(50).astype(np.float32)
    theirs = float(getattr(keras.metrics, name)()(y_true, y_pred, sample_weight=weight))
    ours = getattr(metrics, name)()(y_true, y_pred, weight)
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6)
    assert getattr(metrics, name)().name == getattr(keras.metrics, name)().name


def test_cosine_similarity_is_the_negated_loss():
    y_true, y_pred = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [-1.0, -1.0]])
    assert metrics.CosineSimilarity()(y_true, y_pred) == pytest.approx(0.0)
    assert metrics.CosineSimilarity()(y_true[:1], y_pred[:1]) == pytest.approx(1.0)
    y_pred = torch.tensor([[0.6, 0.8], [-1.0, 2.0]])
    negated_loss = -float(losses.CosineSimilarity()(y_true, y_pred))
    assert metrics.CosineSimilarity()(y_true, y_pred) == pytest.approx(negated_loss, abs=1e-6)


def test_r2_of_constant_targets_follows_sklearn():
    y_true = np.full(6, 3.0)
    assert metrics.R2Score()(y_true, y_true) == 1.0 == r2_score(y_true, y_true)
    assert metrics.R2Score()(y_true, y_true + 0.5) == 0.0 == r2_score(y_true, y_true + 0.5)
    assert metrics.R2Score().result() == 0.0


def test_adjusted_r2():
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.normal(size=40), rng.normal(size=40)
    plain = r2_score(y_true, y_pred)
    assert metrics.R2Score(num_regressors=3)(y_true, y_pred) == pytest.approx(1 - (1 - plain) * 39 / 36)
    with pytest.warns(RuntimeWarning, match="plain R"):
        assert metrics.R2Score(num_regressors=39)(y_true, y_pred) == pytest.approx(plain)
    with pytest.raises(ConfigError, match="num_regressors"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ConfigError, match="Did you mean 'uniform_average'"):
        metrics.R2Score(class_aggregation="uniform_avg")


def test_regression_metric_on_class_labels_is_refused_naming_it():
    labels, probs = torch.tensor([0, 2, 1]), torch.softmax(torch.rand(3, 3), 1)
    with pytest.raises(ConfigError, match=r"Metric 'mean_absolute_error' .*integer class labels.*3 class scores"):
        metrics.MeanAbsoluteError().update_state(labels, probs)
    with pytest.raises(ConfigError, match=r"Metric 'r2'.*meaningless"):
        metrics.get("r2", loss=losses.SparseCategoricalCrossentropy(), target_shape=(), output_shape=(3,))
    with pytest.raises(ConfigError, match="Metric 'rmse'"):
        metrics.get("rmse", target_shape=(1,), output_shape=(5,))
    # One-hot targets against probabilities (a Brier score) and 0/1 labels against one unit are fine.
    metrics.get("mse", target_shape=(3,), output_shape=(3,))
    metrics.get("mse", loss=losses.BinaryCrossentropy(), target_shape=(1,), output_shape=(1,))
    with pytest.raises(DataError, match=r"Metric 'mse' needs targets shaped like the predictions \(3, 2\)"):
        metrics.get("mse").update_state(torch.rand(3, 3), torch.rand(3, 2))
    r2 = metrics.R2Score()
    r2.update_state(torch.rand(3, 2), torch.rand(3, 2))
    with pytest.raises(DataError, match="2 output"):
        r2.update_state(torch.rand(3, 1), torch.rand(3, 1))
