"""Synthetic datasets: scikit-learn's generators and the sine forecasting series."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.datasets

from nnkit.datasets import load
from nnkit.datasets.synthetic import SINE_STEP
from nnkit.errors import ConfigError


def test_classification_is_make_classification_seeded_with_zero():
    X, y = load("classification", n_samples=60, n_features=5, n_informative=3, n_redundant=1, n_classes=3)
    X_ref, y_ref = sklearn.datasets.make_classification(
        n_samples=60, n_features=5, n_informative=3, n_redundant=1, n_classes=3, random_state=0
    )
    assert (X.shape, X.dtype, y.dtype) == ((60, 5), np.float32, np.int64)
    np.testing.assert_allclose(X, X_ref, rtol=1e-6)
    np.testing.assert_array_equal(y, y_ref)
    assert set(y.tolist()) == {0, 1, 2}


def test_regression_and_moons_match_scikit_learn():
    X, y = load("regression", n_samples=30, n_features=4, noise=0.5, random_state=3)
    X_ref, y_ref = sklearn.datasets.make_regression(n_samples=30, n_features=4, noise=0.5, random_state=3)
    assert (X.shape, y.shape, y.dtype) == ((30, 4), (30,), np.float32)
    np.testing.assert_allclose(X, X_ref, rtol=1e-6)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5)

    X, y = load("moons", n_samples=50, noise=0.1)
    X_ref, y_ref = sklearn.datasets.make_moons(n_samples=50, noise=0.1, random_state=0)
    assert (X.shape, y.dtype) == ((50, 2), np.int64)
    np.testing.assert_allclose(X, X_ref, rtol=1e-6)
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize(
    ("name", "options"),
    [("classification", {}), ("regression", {}), ("moons", {"noise": 0.2}), ("sine", {"n_samples": 50})],
)
def test_same_seed_same_data_other_seed_other_data(name, options):
    X1, y1 = load(name, **options)
    X2, y2 = load(name, **options, random_state=0)
    X3, _ = load(name, **options, random_state=1)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


def test_bad_generator_options_are_config_errors_naming_the_problem():
    with pytest.raises(ConfigError, match=r"load\('classification'\).*n_classes\(5\)"):
        load("classification", n_classes=5)
    with pytest.raises(ConfigError, match="n_samples"):
        load("moons", n_samples=-1)
    with pytest.raises(ConfigError, match=r"timesteps to be a positive int\. Received: timesteps=0"):
        load("sine", timesteps=0)
    with pytest.raises(ConfigError, match="noise to be a number >= 0"):
        load("sine", noise=-0.1)


def test_sine_windows_hold_consecutive_samples_and_the_next_value():
    X, y = load("sine", n_samples=7, timesteps=4, noise=0.0)
    assert (X.shape, y.shape, X.dtype, y.dtype) == ((7, 4, 1), (7, 1), np.float32, np.float32)
    for i in range(7):
        np.testing.assert_allclose(X[i, :, 0], [np.sin(SINE_STEP * (i + t)) for t in range(4)], atol=1e-7)
        np.testing.assert_allclose(y[i, 0], np.sin(SINE_STEP * (i + 4)), atol=1e-7)
    assert X[2, 3, 0] == pytest.approx(np.sin(0.5), abs=1e-7)  # window 2 ends at t = 5


def test_noisy_sine_windows_still_slide_by_one_sample():
    X, y = load("sine", n_samples=20, timesteps=5, noise=0.3, random_state=7)
    np.testing.assert_array_equal(X[1:, :-1, 0], X[:-1, 1:, 0])  # each window shifts the last one by one
    np.testing.assert_array_equal(y[:-1, 0], X[1:, -1, 0])  # the target is the next window's last value
    clean = np.sin(SINE_STEP * np.arange(5, 25))
    residual = y[:, 0] - clean
    assert 0.1 < residual.std() < 0.6  # noise of standard deviation 0.3 was added
