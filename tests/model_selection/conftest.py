"""Fixtures of the stacked search tests: a seeded seed-like dataset, one torch thread."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs torch on one thread (``one_thread`` in tests/conftest.py)."""


@pytest.fixture(scope="session")
def seed_like() -> tuple[np.ndarray, np.ndarray]:
    """200 samples, 20 features, 4 classes (labels 0..3), like the seed program's data but learnable."""
    return make_classification(n_samples=200, n_features=20, n_informative=8, n_classes=4, random_state=0)
