"""Fixtures of the scikit-learn estimator tests: small seeded datasets, one torch thread."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs torch on one thread (``one_thread`` in tests/conftest.py)."""


@pytest.fixture(scope="session")
def multiclass() -> tuple[np.ndarray, np.ndarray]:
    """120 samples, 6 features, 3 well-separated classes."""
    return make_classification(n_samples=120, n_features=6, n_informative=4, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, class_sep=2.0, random_state=0)


@pytest.fixture(scope="session")
def regression() -> tuple[np.ndarray, np.ndarray]:
    """100 samples, 5 features, a standardised target."""
    x, y = make_regression(n_samples=100, n_features=5, noise=0.5, random_state=0)
    return x, y / y.std()
