"""``nnkit.ops.linalg`` against ``keras.ops.linalg`` (torch backend): values, dtypes and shapes, and the checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit import ops

R = np.random.default_rng(1)
A = R.normal(size=(4, 4)).astype("float32")
SPD = (A @ A.T + 4 * np.eye(4)).astype("float32")
LOWER = np.tril(SPD)
B = R.normal(size=(4, 2)).astype("float32")
V = R.normal(size=(4,)).astype("float32")
TALL = R.normal(size=(5, 3)).astype("float32")
BATCH = R.normal(size=(2, 3, 3)).astype("float32")

CASES = {
    "norm": ("norm", (A,), {}),
    "norm nuclear": ("norm", (A,), {"ord": "nuc"}),
    "norm inf": ("norm", (A,), {"ord": float("inf")}),
    "norm vectors keepdims": ("norm", (A,), {"ord": 1, "axis": 1, "keepdims": True}),
    "norm axis list": ("norm", (BATCH,), {"axis": [1, 2]}),
    "norm ints": ("norm", (np.arange(5),), {}),
    "norm int32": ("norm", (np.arange(5, dtype="int32"),), {"ord": 3}),
    "norm float64": ("norm", (A.astype("float64"),), {}),
    "cholesky": ("cholesky", (SPD,), {}),
    "cholesky upper": ("cholesky", (SPD,), {"upper": True}),
    "cholesky_inverse": ("cholesky_inverse", (np.linalg.cholesky(SPD),), {}),
    "det": ("det", (A,), {}),
    "det batch": ("det", (BATCH,), {}),
    "eig": ("eig", (SPD,), {}),
    "eigh": ("eigh", (SPD,), {}),
    "inv": ("inv", (A,), {}),
    "lu_factor": ("lu_factor", (A,), {}),
    "qr": ("qr", (TALL,), {}),
    "qr complete": ("qr", (TALL,), {"mode": "complete"}),
    "solve": ("solve", (A, B), {}),
    "solve vector": ("solve", (A, V), {}),
    "solve_triangular lower": ("solve_triangular", (LOWER, V), {"lower": True}),
    "solve_triangular upper": ("solve_triangular", (LOWER.T, B), {}),
    "svd": ("svd", (TALL,), {}),
    "svd reduced": ("svd", (TALL,), {"full_matrices": False}),
    "svd values": ("svd", (TALL,), {"compute_uv": False}),
    "lstsq": ("lstsq", (TALL, TALL[:, :2] + 0.1), {}),
    "lstsq rcond": ("lstsq", (TALL, TALL[:, 0]), {"rcond": 1e-3}),
    "matrix_rank": ("matrix_rank", (np.array([[1.0, 2.0], [2.0, 4.0]], dtype="float32"),), {}),
    "pinv": ("pinv", (TALL,), {}),
}


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras_linalg(keras, case):
    name, args, kwargs = CASES[case]
    expected = _as_list(getattr(keras.ops.linalg, name)(*args, **kwargs))
    actual = _as_list(getattr(ops.linalg, name)(*args, **kwargs))
    assert len(actual) == len(expected)
    for ours, theirs in zip(actual, expected):
        theirs = keras.ops.convert_to_numpy(theirs)
        assert str(ours.dtype).replace("torch.", "") == str(theirs.dtype), case
        np.testing.assert_allclose(ops.convert_to_numpy(ours), theirs, rtol=1e-5, atol=1e-5, err_msg=case)


def test_linalg_names_are_ops_names_as_in_keras(keras):
    for name in ops.linalg.__all__:
        assert getattr(ops, name) is getattr(ops.linalg, name)
        assert getattr(keras.ops, name) is getattr(keras.ops.linalg, name)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")  # torch.func's own import
def test_jvp_matches_keras(keras):
    def fun(x):
        return torch.sin(x) * x

    primals, tangents = (torch.tensor([0.5, 1.0, 2.0]),), (torch.tensor([1.0, 0.0, 2.0]),)
    for ours, theirs in zip(ops.linalg.jvp(fun, primals, tangents), keras.ops.linalg.jvp(fun, primals, tangents)):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("call, message", [
    (lambda: ops.linalg.inv(V), "expects a matrix"),
    (lambda: ops.linalg.det(TALL), "expects square matrices"),
    (lambda: ops.linalg.solve(A, np.ones(3, "float32")), "incompatible"),
    (lambda: ops.linalg.norm(A, ord="max"), "Invalid norm order"),
    (lambda: ops.linalg.qr(A, mode="full"), "mode must be"),
])
def test_bad_inputs_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
