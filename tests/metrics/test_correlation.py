"""Pearson and concordance correlation, function and metric forms, against Keras 3 and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit import metrics


def as_numpy(value) -> np.ndarray:
    return np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)


def test_pearson_is_numpy_corrcoef_per_row(rng):
    y_true = rng.normal(size=(6, 8))
    y_pred = y_true * 0.5 + rng.normal(size=(6, 8))
    ours = as_numpy(metrics.pearson_correlation(torch.tensor(y_true), torch.tensor(y_pred)))
    expected = [np.corrcoef(t, p)[0, 1] for t, p in zip(y_true, y_pred)]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["pearson_correlation", "concordance_correlation"])
@pytest.mark.parametrize("shape, axis", [((7, 5), -1), ((4, 3, 6), -1), ((4, 3, 6), 1), ((9,), -1), ((9, 1), 0)])
def test_functions_match_keras(keras, rng, name, shape, axis):
    y_true = rng.normal(size=shape).astype(np.float32)
    y_pred = (y_true + rng.normal(size=shape) + 0.3).astype(np.float32)
    ours = as_numpy(getattr(metrics, name)(y_true, y_pred, axis=axis))
    theirs = keras.ops.convert_to_numpy(getattr(keras.metrics, name)(y_true, y_pred, axis=axis))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_concordance_follows_keras_covariance_term(rng):
    # Keras centres y_true on mean(y_pred) in the covariance; with equal means this is Lin's coefficient.
    y_true = rng.normal(size=(1, 50))
    y_pred = y_true + rng.normal(size=(1, 50)) * 0.5
    y_pred = y_pred - y_pred.mean() + y_true.mean()
    t, p = y_true[0], y_pred[0]
    lin = 2 * np.mean((t - t.mean()) * (p - p.mean())) / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
    ours = float(metrics.concordance_correlation(torch.tensor(y_true), torch.tensor(y_pred))[0])
    assert ours == pytest.approx(lin, rel=1e-6)


@pytest.mark.parametrize("cls", ["PearsonCorrelation", "ConcordanceCorrelation"])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_stream_like_keras(keras, rng, cls, weighted):
    y_true = rng.normal(size=(30, 4)).astype(np.float32)
    y_pred = (y_true * 0.7 + rng.normal(size=(30, 4))).astype(np.float32)
    weight = rng.random(30).astype(np.float32) if weighted else None
    ours, theirs = getattr(metrics, cls)(), getattr(keras.metrics, cls)()
    for part in (slice(0, 7), slice(7, 8), slice(8, 30)):
        kwargs = {} if weight is None else {"sample_weight": weight[part]}
        ours.update_state(y_true[part], y_pred[part], **kwargs)
        theirs.update_state(y_true[part], y_pred[part], **kwargs)
    result = ours.result()
    assert result.dtype == torch.float32 and result.shape == ()
    assert float(result) == pytest.approx(float(np.asarray(theirs.result())), rel=1e-5)
    assert ours.name == theirs.name
    ours.reset_state()
    assert float(ours.result()) == 0.0


def test_one_dimensional_batches_give_one_value_per_batch_like_keras(keras, rng):
    y_true = rng.normal(size=20).astype(np.float32)
    y_pred = (y_true + rng.normal(size=20)).astype(np.float32)
    parts = (slice(0, 12), slice(12, 20))
    ours, theirs = metrics.PearsonCorrelation(), keras.metrics.PearsonCorrelation()
    for part in parts:
        ours.update_state(y_true[part], y_pred[part])
        theirs.update_state(y_true[part], y_pred[part])
    assert float(ours.result()) == pytest.approx(float(np.asarray(theirs.result())), rel=1e-5)
    # With sample weights (which Keras refuses here) each batch's value counts with the batch's total weight.
    weight = rng.random(20).astype(np.float32)
    ours.reset_state()
    for part in parts:
        ours.update_state(y_true[part], y_pred[part], sample_weight=weight[part])
    per_batch = [np.corrcoef(y_true[p], y_pred[p])[0, 1] for p in parts]
    totals = [weight[p].sum() for p in parts]
    assert float(ours.result()) == pytest.approx(np.dot(per_batch, totals) / sum(totals), rel=1e-5)


def test_config_round_trip_and_registry():
    metric = metrics.ConcordanceCorrelation(name="ccc", axis=1)
    assert metric.get_config() == {"name": "ccc", "axis": 1}
    assert metrics.ConcordanceCorrelation.from_config(metric.get_config()).axis == 1
    assert isinstance(metrics.get("pearson_correlation"), metrics.PearsonCorrelation)


def test_pearson_in_fit_logs_a_float(rng):
    from nnkit.layers import Dense
    from nnkit.models import Sequential

    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = x @ rng.normal(size=(3, 4)).astype(np.float32)
    model = Sequential([Dense(4, input_dim=3)])
    model.compile(loss="mse", optimizer="sgd", metrics=[metrics.PearsonCorrelation()])
    history = model.fit(x, y, epochs=1, batch_size=40, verbose=0)
    logs = model.evaluate(x, y, batch_size=40, return_dict=True, verbose=0)
    expected = float(metrics.pearson_correlation(torch.tensor(y), torch.as_tensor(model.predict(x, verbose=0))).mean())
    assert isinstance(history.history["pearson_correlation"][0], float)
    assert logs["pearson_correlation"] == pytest.approx(expected, rel=1e-5)
