"""Smaller Keras names checked against Keras: backend dtype helpers, keras.random distributions, the
orthogonal regularizer, sparse_sigmoid, interactive logging and the layer aliases and serializers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit


@pytest.mark.parametrize("dtypes", [("int32", "float32"), ("int8", "uint8"), ("float16", "int64"), ("bool", "int8"),
                                    ("bfloat16", "float16"), ("uint8", "int32"), (), ("complex64", int),
                                    ("float64",), ("int64", "int32"), ("int8", int), ("float16", float), (int, float),
                                    ("bool", int), ("complex128", "float32"), ("int64", "complex64"), (None, "int8")])
def test_result_type_promotes_as_keras(keras, dtypes):
    assert nnkit.backend.result_type(*dtypes) == keras.backend.result_type(*dtypes)


@pytest.mark.parametrize("dtype", ["float32", np.float64, np.dtype("int16"), torch.int8, torch.bfloat16, int, float,
                                   bool, "uint8", None, "complex64", torch.complex128, complex])
def test_standardize_dtype_and_kind_as_keras(keras, dtype):
    assert nnkit.backend.standardize_dtype(dtype) == keras.backend.standardize_dtype(dtype)
    assert nnkit.backend.is_float_dtype(dtype or "float32") == keras.backend.is_float_dtype(dtype or "float32")
    assert nnkit.backend.is_int_dtype(dtype or "float32") == keras.backend.is_int_dtype(dtype or "float32")


def test_result_type_follows_floatx_for_weak_types_as_keras(keras):
    try:
        for module in (nnkit, keras):
            module.config.set_floatx("float16")
        for dtypes in [(int, float), (int,), ("int8", float), ("float64", int)]:
            assert nnkit.backend.result_type(*dtypes) == keras.backend.result_type(*dtypes)
    finally:
        for module in (nnkit, keras):
            module.config.set_floatx("float32")


def test_result_type_refuses_unknown_dtypes():
    with pytest.raises(ValueError, match="Invalid dtype"):
        nnkit.backend.result_type("float32", "float13")


def test_standardize_dtype_refuses_unknown_names():
    with pytest.raises(ValueError, match="Invalid dtype 'float13'"):
        nnkit.backend.standardize_dtype("float13")


def test_get_uid_counts_from_one_and_follows_layer_names():
    assert [nnkit.backend.get_uid("block"), nnkit.backend.get_uid("block")] == [1, 2]
    nnkit.layers.Dense(2)
    assert nnkit.backend.get_uid("dense") == 2  # the Dense above took the first id, as in Keras


def test_random_distributions_have_keras_moments_and_seeds(keras):
    n = 20000
    draws = {
        "gamma": (nnkit.random.gamma((n,), alpha=3.0, seed=1), 3.0, 3.0),
        "beta": (nnkit.random.beta((n,), alpha=2.0, beta=5.0, seed=1), 2 / 7, 2 * 5 / (7**2 * 8)),
        "binomial": (nnkit.random.binomial((n,), counts=10, probabilities=0.3, seed=1), 3.0, 2.1),
    }
    for name, (values, mean, variance) in draws.items():
        assert values.dtype == torch.float32, name
        assert abs(float(values.mean()) - mean) < 4 * (variance / n) ** 0.5, name
        assert abs(float(values.var()) - variance) < 0.05 * variance, name
    assert torch.equal(nnkit.random.gamma((5,), 2.0, seed=7), nnkit.random.gamma((5,), 2.0, seed=7))
    assert keras.random.gamma((5,), 2.0).dtype == torch.float32


def test_random_categorical_draws_follow_the_softmax(keras):
    logits = np.log(np.array([[0.2, 0.8], [0.9, 0.1]], dtype="float32"))
    draws = nnkit.random.categorical(logits, 20000, seed=3)
    reference = keras.random.categorical(logits, 5, seed=3)
    assert draws.shape == (2, 20000) and draws.dtype == reference.dtype == torch.int32
    np.testing.assert_allclose(draws.float().mean(dim=1).numpy(), [0.8, 0.1], atol=0.02)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_equals_keras(keras, mode):
    kernel = torch.tensor(np.random.default_rng(0).normal(size=(5, 3)).astype("float32"))
    expected = keras.regularizers.OrthogonalRegularizer(0.1, mode)(kernel)
    actual = nnkit.regularizers.get({"class_name": "orthogonal_regularizer", "config": {"factor": 0.1, "mode": mode}})
    np.testing.assert_allclose(float(actual(kernel)), float(expected), rtol=1e-6)


def test_orthogonal_regularizer_sees_the_dense_kernel_in_keras_layout(keras, rng):
    """Keras's rows of a Dense kernel are its inputs; nnkit's torch weight is transposed, and the penalty
    (and so the evaluated loss) must still be Keras's."""
    x, y = rng.normal(size=(16, 5)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")
    reference = keras.Sequential([keras.Input((5,)), keras.layers.Dense(
        3, kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.5))])
    reference.compile(loss="mse")
    model = nnkit.models.Sequential([nnkit.layers.Input((5,)), nnkit.layers.Dense(
        3, kernel_regularizer=nnkit.regularizers.OrthogonalRegularizer(0.5))])
    model.compile(loss="mse")
    model.set_weights(reference.get_weights())
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), reference.evaluate(x, y, verbose=0), rtol=1e-5)


def test_orthogonal_regularizer_refuses_bad_arguments():
    with pytest.raises(ValueError, match="mode 'rows' or 'columns'"):
        nnkit.regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank-2 weight"):
        nnkit.regularizers.OrthogonalRegularizer()(torch.ones(2, 2, 2))


def test_sparse_sigmoid_equals_keras(keras):
    x = np.linspace(-2, 2, 17).astype("float32")
    np.testing.assert_allclose(nnkit.activations.sparse_sigmoid(torch.tensor(x)).numpy(),
                               keras.activations.sparse_sigmoid(x).numpy(), rtol=1e-6)
    assert nnkit.activations.get("sparse_sigmoid") is nnkit.activations.sparse_sigmoid


def test_disabled_interactive_logging_prints_lines_not_bars(capsys, rng):
    model = nnkit.models.Sequential([nnkit.layers.Input((3,)), nnkit.layers.Dense(1)])
    model.compile(loss="mse")
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    nnkit.config.disable_interactive_logging()
    try:
        assert not nnkit.utils.is_interactive_logging_enabled()
        model.fit(x, y, epochs=2, verbose=1)
    finally:
        nnkit.config.enable_interactive_logging()
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "\r" not in out and "it/s" not in out and "step/s" not in out


def test_layer_aliases_and_serializers(keras):
    for name in ("Convolution2DTranspose", "SeparableConvolution1D", "GlobalAvgPool3D", "GlobalMaxPool3D"):
        assert getattr(nnkit.layers, name) is getattr(nnkit.layers, getattr(keras.layers, name).__name__)
    config = nnkit.layers.serialize(nnkit.layers.Dense(3, activation="relu", name="head"))
    assert config["class_name"] == "Dense" and config["config"]["units"] == 3
    rebuilt = nnkit.layers.deserialize(config)
    assert isinstance(rebuilt, nnkit.layers.Dense) and rebuilt.name == "head" and rebuilt.activation == "relu"
