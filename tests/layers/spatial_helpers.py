"""Helpers of the convolution, pooling and reshaping tests: Keras twins of a layer, and clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import nnkit.layers
from nnkit.errors import NnkitError
from nnkit.layers import Input
from nnkit.models import Sequential
from tests.helpers import assert_close


def twins(keras: Any, name: str, input_shape: tuple[int, ...], *args: Any, seed: int = 0,
          **kwargs: Any) -> tuple[Sequential, Any]:
    """One-layer nnkit and Keras models of layer ``name`` with identical, non-trivial weights."""
    k_model = keras.Sequential([keras.Input(shape=input_shape), getattr(keras.layers, name)(*args, **kwargs)])
    rng = np.random.default_rng(seed)
    # Random values for every weight (Keras starts biases at zero, which would hide a misplaced bias).
    k_model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in k_model.get_weights()])
    n_model = Sequential([Input(shape=input_shape), getattr(nnkit.layers, name)(*args, **kwargs)])
    n_model.set_weights(k_model.get_weights())
    return n_model, k_model


def assert_same_outputs(n_model: Sequential, k_model: Any, input_shape: tuple[int, ...], seed: int = 1,
                        batch: int = 3) -> np.ndarray:
    """Both models give the same outputs (1e-5) and report the same output shape; returns nnkit's."""
    x = np.random.default_rng(seed).standard_normal((batch, *input_shape)).astype("float32")
    ours, theirs = n_model.predict(x, verbose=0), k_model.predict(x, verbose=0)
    assert ours.shape == theirs.shape
    assert n_model.output_shape == tuple(k_model.output_shape)
    assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    return ours


def check_layer(keras: Any, name: str, input_shape: tuple[int, ...], *args: Any, **kwargs: Any) -> Sequential:
    """Outputs, output shape, parameter count and Keras-layout weights all agree with Keras."""
    n_model, k_model = twins(keras, name, input_shape, *args, **kwargs)
    assert_same_outputs(n_model, k_model, input_shape)
    assert n_model.count_params() == k_model.count_params()
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights(), strict=True):
        assert ours.shape == theirs.shape
        assert_close(ours, theirs)
    return n_model


@contextmanager
def clear_error(builtin: type[Exception], *fragments: str) -> Iterator[pytest.ExceptionInfo]:
    """Expect an nnkit error, catchable as ``builtin``, whose message names every fragment."""
    with pytest.raises(builtin) as info:
        yield info
    assert isinstance(info.value, NnkitError), type(info.value)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in: {info.value}"
