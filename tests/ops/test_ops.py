"""``nnkit.ops`` against ``keras.ops`` (torch backend) on random inputs and edge cases: values and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
from nnkit import ops

R = np.random.default_rng(0)
F32 = R.normal(size=(3, 4)).astype("float32")
F32B = R.normal(size=(3, 4)).astype("float32")
ROW = R.normal(size=(4,)).astype("float32")
POS = R.uniform(0.1, 2.0, size=(3, 4)).astype("float32")
INTS = R.integers(-5, 5, size=(3, 4))
NAN = np.array([1.0, np.nan, -2.0], dtype="float32")
PROBS = R.dirichlet(np.ones(4), size=3).astype("float32")
ONEHOT = np.eye(4, dtype="float32")[[0, 3, 1]]
I32 = INTS.astype("int32")
F64 = F32.astype("float64")

CASES = {
    "add broadcast": ("add", (F32, ROW), {}),
    "add python number": ("add", (INTS.astype("int32"), 1.5), {}),
    "subtract": ("subtract", (F32, F32B), {}),
    "multiply ints": ("multiply", (INTS, INTS), {}),
    "divide ints": ("divide", (INTS, 3), {}),
    "power": ("power", (POS, 2), {}),
    "maximum": ("maximum", (F32, F32B), {}),
    "minimum nan": ("minimum", (NAN, 0.0), {}),
    "matmul": ("matmul", (F32, F32B.T), {}),
    "dot 2d": ("dot", (F32, F32B.T), {}),
    "dot vector": ("dot", (F32, ROW), {}),
    "einsum": ("einsum", ("ij,kj->ik", F32, F32B), {}),
    "mean": ("mean", (F32,), {"axis": 1}),
    "mean ints": ("mean", (INTS,), {}),
    "mean keepdims": ("mean", (F32,), {"axis": (0, 1), "keepdims": True}),
    "mean empty axes": ("mean", (F32,), {"axis": ()}),
    "sum": ("sum", (F32,), {"axis": 0}),
    "sum ints": ("sum", (INTS,), {}),
    "max": ("max", (F32,), {"axis": -1}),
    "max nan": ("max", (NAN,), {}),
    "min": ("min", (INTS,), {"axis": 0, "keepdims": True}),
    "square": ("square", (F32,), {}),
    "sqrt ints": ("sqrt", (np.abs(INTS),), {}),
    "exp": ("exp", (F32,), {}),
    "log": ("log", (POS,), {}),
    "abs": ("abs", (INTS,), {}),
    "clip": ("clip", (F32, -0.5, 0.5), {}),
    "clip ints": ("clip", (INTS, -1, 2), {}),
    "where": ("where", (F32 > 0, F32, 0.0), {}),
    "cast": ("cast", (F32, "float16"), {}),
    "reshape": ("reshape", (F32, (4, 3)), {}),
    "transpose": ("transpose", (F32,), {}),
    "expand_dims": ("expand_dims", (F32, 1), {}),
    "squeeze": ("squeeze", (F32[None],), {}),
    "concatenate": ("concatenate", ([F32, F32B],), {"axis": 1}),
    "stack": ("stack", ([F32, F32B],), {}),
    "tile": ("tile", (ROW, 2), {}),
    "repeat": ("repeat", (ROW, 2), {}),
    "repeat axis": ("repeat", (F32, 2), {"axis": 0}),
    "arange": ("arange", (5,), {}),
    "arange float": ("arange", (0.0, 1.0, 0.25), {}),
    "linspace": ("linspace", (0, 1, 5), {}),
    "ones": ("ones", ((2, 3),), {}),
    "zeros": ("zeros", ((2,),), {}),
    "ones_like ints": ("ones_like", (INTS,), {}),
    "zeros_like": ("zeros_like", (F32,), {}),
    "full": ("full", ((2, 2), 3), {}),
    "eye": ("eye", (3,), {}),
    "eye offset": ("eye", (3, 4), {"k": 1}),
    "argmax": ("argmax", (F32,), {"axis": 1}),
    "argmin": ("argmin", (F32,), {"axis": 0}),
    "cumsum": ("cumsum", (F32,), {"axis": 1}),
    "sort": ("sort", (F32,), {}),
    "argsort": ("argsort", (F32,), {}),
    "take": ("take", (F32, [0, 2]), {"axis": 1}),
    "take flat": ("take", (F32, [[0, 5], [7, 11]]), {}),
    "norm": ("norm", (F32,), {}),
    "norm axis": ("norm", (F32,), {"axis": 1}),
    "var": ("var", (F32,), {"axis": 0}),
    "std": ("std", (F32,), {}),
    "prod": ("prod", (POS,), {"axis": 1}),
    "equal": ("equal", (INTS, 0), {}),
    "greater": ("greater", (F32, F32B), {}),
    "logical_and": ("logical_and", (F32 > 0, F32B > 0), {}),
    "isnan": ("isnan", (NAN,), {}),
    "flip": ("flip", (F32,), {"axis": 1}),
    "roll": ("roll", (ROW, 1), {}),
    "relu": ("relu", (F32,), {}),
    "sigmoid": ("sigmoid", (F32,), {}),
    "softmax": ("softmax", (F32,), {}),
    "softmax axis 0": ("softmax", (F32,), {"axis": 0}),
    "log_softmax": ("log_softmax", (F32,), {}),
    "gelu": ("gelu", (F32,), {}),
    "gelu exact": ("gelu", (F32,), {"approximate": False}),
    "silu": ("silu", (F32,), {}),
    "elu": ("elu", (F32,), {}),
    "selu": ("selu", (F32,), {}),
    "softplus": ("softplus", (F32,), {}),
    "leaky_relu": ("leaky_relu", (F32,), {}),
    "one_hot": ("one_hot", (np.array([0, 2, 1]), 3), {}),
    "binary_crossentropy": ("binary_crossentropy", ((PROBS > 0.25).astype("float32"), PROBS), {}),
    "binary_crossentropy logits": ("binary_crossentropy", ((PROBS > 0.25).astype("float32"), F32),
                                   {"from_logits": True}),
    "categorical_crossentropy": ("categorical_crossentropy", (ONEHOT, PROBS), {}),
    "categorical_crossentropy logits": ("categorical_crossentropy", (ONEHOT, F32), {"from_logits": True}),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy", (np.array([0, 3, 1]), PROBS), {}),
    "conv valid": ("conv", (R.normal(size=(2, 6, 6, 3)).astype("float32"), R.normal(size=(3, 3, 3, 4)).astype(
        "float32")), {}),
    "conv same strided": ("conv", (R.normal(size=(2, 7, 7, 3)).astype("float32"), R.normal(size=(3, 3, 3, 2)).astype(
        "float32")), {"strides": 2, "padding": "same"}),
    "conv1d": ("conv", (R.normal(size=(2, 9, 3)).astype("float32"), R.normal(size=(4, 3, 2)).astype("float32")),
               {"padding": "same"}),
    "tan": ("tan", (F32,), {}),
    "sinh": ("sinh", (F32,), {}),
    "cosh": ("cosh", (F32,), {}),
    "arcsin": ("arcsin", (np.clip(F32, -1, 1),), {}),
    "arccos": ("arccos", (np.clip(F32, -1, 1),), {}),
    "arctan": ("arctan", (F32,), {}),
    "arctan2": ("arctan2", (F32, F32B), {}),
    "arcsinh": ("arcsinh", (F32,), {}),
    "arccosh": ("arccosh", (POS + 1,), {}),
    "arctanh": ("arctanh", (np.clip(F32, -0.9, 0.9),), {}),
    "log2 ints": ("log2", (np.abs(INTS) + 1,), {}),
    "log10": ("log10", (POS,), {}),
    "exp2": ("exp2", (F32,), {}),
    "rsqrt": ("rsqrt", (POS,), {}),
    "erf": ("erf", (F32,), {}),
    "reciprocal": ("reciprocal", (POS,), {}),
    "trunc": ("trunc", (F32 * 3,), {}),
    "floor_divide": ("floor_divide", (INTS.astype("int32"), 3), {}),
    "mod": ("mod", (INTS, 3), {}),
    "divide_no_nan": ("divide_no_nan", (F32, np.where(F32B > 0, F32B, 0)), {}),
    "isinf": ("isinf", (np.array([1.0, np.inf, -np.inf], dtype="float32"),), {}),
    "logical_xor": ("logical_xor", (F32 > 0, F32B > 0), {}),
    "nan_to_num": ("nan_to_num", (NAN,), {}),
    "tril": ("tril", (F32,), {}),
    "triu": ("triu", (F32,), {"k": 1}),
    "diag": ("diag", (ROW,), {}),
    "diagonal": ("diagonal", (F32,), {}),
    "trace": ("trace", (F32,), {}),
    "moveaxis": ("moveaxis", (F32[None], 0, -1), {}),
    "swapaxes": ("swapaxes", (F32, 0, 1), {}),
    "ravel": ("ravel", (F32,), {}),
    "broadcast_to": ("broadcast_to", (ROW, (3, 4)), {}),
    "outer": ("outer", (ROW, ROW), {}),
    "tensordot": ("tensordot", (F32, F32B.T), {"axes": 1}),
    "hstack": ("hstack", ([F32, F32B],), {}),
    "vstack": ("vstack", ([F32, F32B],), {}),
    "cumprod": ("cumprod", (POS,), {"axis": 1}),
    "logsumexp": ("logsumexp", (F32,), {"axis": 1}),
    "count_nonzero": ("count_nonzero", (INTS,), {}),
    "take_along_axis": ("take_along_axis", (F32, np.argsort(F32, axis=1)), {"axis": 1}),
    "hard_sigmoid": ("hard_sigmoid", (F32 * 4,), {}),
    "hard_silu": ("hard_silu", (F32 * 4,), {}),
    "log_sigmoid": ("log_sigmoid", (F32,), {}),
    "softsign": ("softsign", (F32,), {}),
    "hard_tanh": ("hard_tanh", (F32 * 2,), {}),
    "celu": ("celu", (F32,), {}),
    "glu": ("glu", (F32,), {}),
    "soft_shrink": ("soft_shrink", (F32,), {}),
    "hard_shrink": ("hard_shrink", (F32,), {}),
    "tanh_shrink": ("tanh_shrink", (F32,), {}),
    "squareplus": ("squareplus", (F32,), {}),
    "sparse_plus": ("sparse_plus", (F32 * 2,), {}),
    "normalize": ("normalize", (F32,), {}),
    "multi_hot": ("multi_hot", (np.array([[0, 2], [1, 1]]), 4), {}),
    "array list": ("array", ([1, 2, 3],), {}),
    "array dtype": ("array", ([1, 2, 3],), {"dtype": "float32"}),
    "array numpy": ("array", (F64,), {}),
    "all keepdims": ("all", (F32 > 0,), {"keepdims": True}),
    "any keepdims": ("any", (F32 > 0,), {"keepdims": True}),
    "any empty axes": ("any", (F32,), {"axis": ()}),
    "sum int32": ("sum", (I32,), {"axis": 1}),
    "sum int8": ("sum", (INTS.astype("int8"),), {}),
    "sum bool": ("sum", (F32 > 0,), {"axis": 0}),
    "sum keepdims": ("sum", (F32,), {"keepdims": True}),
    "prod int32": ("prod", (I32,), {}),
    "prod int64": ("prod", (INTS,), {"axis": 1}),
    "prod float64": ("prod", (F64,), {}),
    "prod dtype": ("prod", (INTS.astype("int8"),), {"dtype": "int64"}),
    "trace int32": ("trace", (I32,), {}),
    "trace bool": ("trace", (F32 > 0,), {}),
    "cumsum int8": ("cumsum", (INTS.astype("int8"),), {}),
    "cumsum int64": ("cumsum", (INTS,), {"axis": 0}),
    "cumsum float64": ("cumsum", (F64,), {}),
    "cumsum bool": ("cumsum", (F32 > 0,), {}),
    "cumprod int32": ("cumprod", (I32,), {"axis": 1}),
    "cumprod dtype": ("cumprod", (I32,), {"dtype": "float64"}),
}


def _as_list(value):
    if isinstance(value, (list, tuple)):
        return [v for part in value for v in _as_list(part)]
    return [value]


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras_ops(keras, case):
    name, args, kwargs = CASES[case]
    expected = _as_list(getattr(keras.ops, name)(*args, **kwargs))
    actual = _as_list(getattr(ops, name)(*args, **kwargs))
    assert len(actual) == len(expected)
    for ours, theirs in zip(actual, expected):
        assert isinstance(ours, torch.Tensor)
        theirs = keras.ops.convert_to_numpy(theirs)
        assert str(ours.dtype).replace("torch.", "") == str(theirs.dtype), case
        np.testing.assert_allclose(ops.convert_to_numpy(ours).astype("float64"), theirs.astype("float64"),
                                   rtol=2e-5, atol=1e-6, equal_nan=True, err_msg=case)


def test_split_top_k_and_moments_match_keras(keras):
    for ours, theirs in zip(ops.split(np.arange(6), 3), keras.ops.split(np.arange(6), 3)):
        np.testing.assert_array_equal(ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs))
    values, indices = ops.top_k(F32, 2)
    k_values, k_indices = keras.ops.top_k(F32, 2)
    np.testing.assert_allclose(values.numpy(), keras.ops.convert_to_numpy(k_values))
    assert indices.dtype == torch.int32 and np.array_equal(indices.numpy(), keras.ops.convert_to_numpy(k_indices))
    mean, variance = ops.moments(F32, axes=[0])
    k_mean, k_variance = keras.ops.moments(F32, axes=[0])
    np.testing.assert_allclose(mean.numpy(), keras.ops.convert_to_numpy(k_mean), rtol=1e-6)
    np.testing.assert_allclose(variance.numpy(), keras.ops.convert_to_numpy(k_variance), rtol=1e-5)


def test_conversions_follow_keras_defaults(keras):
    for value in (1, 1.0, [1, 2], [1.0, 2.0], np.arange(3), np.ones(2), True):
        assert str(ops.convert_to_tensor(value).dtype).replace("torch.", "") == str(
            keras.ops.convert_to_tensor(value).dtype).replace("torch.", "")
    assert ops.shape(np.ones((2, 3))) == (2, 3) and ops.dtype(np.ones(2, "float32")) == "float32"
    x = torch.ones(2, requires_grad=True)
    assert not ops.stop_gradient(x).requires_grad
    assert isinstance(ops.convert_to_numpy(x), np.ndarray)


def test_ops_are_differentiable():
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    ops.sum(ops.square(ops.relu(x)) + ops.mean(ops.exp(x))).backward()
    expected = 2 * torch.relu(x.detach()) + torch.exp(x.detach())  # the mean's 1/3, summed over 3 entries
    torch.testing.assert_close(x.grad, expected)


def test_random_is_reproducible_from_seeds():
    a = nnkit.random.normal((3,), seed=5)
    assert torch.equal(a, nnkit.random.normal((3,), seed=5))
    generator = nnkit.random.SeedGenerator(5)
    first, second = nnkit.random.uniform((3,), seed=generator), nnkit.random.uniform((3,), seed=generator)
    assert not torch.equal(first, second)
    again = nnkit.random.SeedGenerator(5)
    assert torch.equal(nnkit.random.uniform((3,), seed=again), first)
    ids = nnkit.random.randint((1000,), 2, 5, seed=1)
    assert ids.dtype == torch.int32 and set(ids.tolist()) == {2, 3, 4}
    kept = nnkit.random.dropout(torch.ones(10000), 0.25, seed=1)
    assert kept.unique().tolist() == pytest.approx([0.0, 1 / 0.75])
    assert abs(float((kept == 0).float().mean()) - 0.25) < 0.02
    assert sorted(nnkit.random.shuffle(np.arange(5), seed=2).tolist()) == [0, 1, 2, 3, 4]
    values = nnkit.random.truncated_normal((5000,), seed=3)
    assert float(values.abs().max()) <= 2.0 and abs(float(values.std()) - 0.88) < 0.05


def test_a_list_of_tensors_is_stacked_as_keras_does(keras):
    """``ops.sum(layer.losses)``: a list of (scalar) tensors becomes one stacked tensor, gradients kept."""
    weight = torch.ones(2, requires_grad=True)
    parts = [weight.sum(), 2.0 * weight.sum()]
    total = ops.sum(parts)
    total.backward()
    expected = keras.ops.convert_to_numpy(keras.ops.sum([torch.tensor(2.0), torch.tensor(4.0)]))
    assert float(total.detach()) == float(expected) == 6.0
    assert weight.grad.tolist() == [3.0, 3.0]
    assert tuple(ops.convert_to_tensor([torch.zeros(3), torch.ones(3)]).shape) == (2, 3)
