"""Shared fixtures. Keras 3 (a test extra) runs on the torch backend as the reference implementation."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import nnkit


@pytest.fixture(autouse=True)
def _fresh_session():
    """Every test starts with default names, a fixed seed and the CPU."""
    nnkit.utils.clear_session()
    nnkit.utils.set_random_seed(1234)
    nnkit.config.set_device("cpu")
    yield
    nnkit.config.set_device(None)


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on the torch backend, imported once."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras must run on the torch backend (KERAS_BACKEND=torch)")
    return keras


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: tiny models train fastest so, and a busy 2-core machine does not
    stall them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
