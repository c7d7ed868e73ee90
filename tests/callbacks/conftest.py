"""Data fixtures of the callback tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def regression(rng):
    x = rng.normal(size=(64, 4))
    y = x @ rng.normal(size=(4, 1)) + 0.1 * rng.normal(size=(64, 1))
    return x, y
