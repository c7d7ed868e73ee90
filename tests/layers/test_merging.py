"""Merging layers (Add, Concatenate, Dot, ...) on data give Keras's values and dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from nnkit.layers import LAYERS


@pytest.mark.parametrize(("name", "kwargs"), [
    ("Add", {}), ("Subtract", {}), ("Multiply", {}), ("Concatenate", {"axis": 1}),
    ("Dot", {"axes": (1, 1)}), ("Dot", {"axes": 2}), ("Dot", {"axes": (1, 1), "normalize": True}),
])
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8"])
def test_integer_arrays_merge_like_keras(keras, name, kwargs, dtype):
    """Integer inputs stay integers (Keras's Dot gives int32 for int64 and int8); a normalized Dot gives floats."""
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    b = (np.arange(24, 48).reshape(2, 3, 4) % 3).astype(dtype)
    theirs = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)([a, b]))
    ours = LAYERS.get(name)(**kwargs)([a, b]).detach().numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_concatenating_booleans_keeps_booleans(keras):
    a, b = np.array([[True, False]]), np.array([[False, False]])
    theirs = keras.ops.convert_to_numpy(keras.layers.Concatenate()([a, b]))
    ours = LAYERS.get("Concatenate")()([a, b]).numpy()
    assert ours.dtype == theirs.dtype == np.bool_
    np.testing.assert_array_equal(ours, theirs)
