"""Bad input fails early with one clear message: what is wrong, where, what was received, how to fix it.

Every error must be catchable as the built-in a user expects (``except ValueError``), must be raised by
nnkit itself rather than escape from torch or NumPy, and must name the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

import nnkit
from nnkit.errors import ConfigError, DataError, NnkitError, NotReadyError
from nnkit.layers import Activation, Dense, Input, Reshape
from nnkit.models import Sequential

NNKIT_DIR = Path(nnkit.__file__).parent
# How messages from torch and NumPy internals begin; none of them says what the user should change.
TORCH_INTERNALS = re.compile(
    r"^(mat1 and mat2|shape '\[|The size of tensor|Expected |Target -?\d+ is out of bounds|index -?\d+ is out of|"
    r"expected scalar type|Trying to|Given |Sizes of tensors|only integer tensors|Could not infer dtype|"
    r"could not convert|can't convert|integer modulo by zero|division by zero)"
)


@contextmanager
def clear_error(builtin: type[Exception], match: str, *also: str) -> Iterator[pytest.ExceptionInfo]:
    """``pytest.raises(builtin, match=match)`` that also checks the error is nnkit's own and names ``also``."""
    with pytest.raises(builtin, match=match) as info:
        yield info
    error, message = info.value, str(info.value)
    assert isinstance(error, NnkitError) or type(error) is builtin, f"{type(error).__module__}.{type(error).__name__}"
    assert not TORCH_INTERNALS.match(message), f"a raw torch/NumPy message escaped: {message}"
    raised_in = Path(str(info.traceback[-1].path))
    assert NNKIT_DIR in raised_in.parents, f"raised in {raised_in}, not by nnkit"
    for fragment in also:
        assert fragment in message, f"{fragment!r} not in: {message}"


def _classifier(
    inputs: int = 20,
    classes: int = 3,
    loss: str | None = "sparse_categorical_crossentropy",
    activation: str = "softmax",
) -> Sequential:
    model = Sequential([Dense(8, activation="relu", input_dim=inputs), Dense(classes, activation=activation)])
    if loss is not None:
        model.compile(optimizer="adam", loss=loss)
    return model


def _regressor(inputs: int = 20) -> Sequential:
    model = Sequential([Dense(4, activation="relu", input_dim=inputs), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture
def xy(rng) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(10, 20)).astype(np.float32), rng.integers(3, size=10)


# -- names: did you mean ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make", [lambda: Dense(4, activation="rleu"), lambda: Activation("rleu")], ids=["Dense", "Activation"]
)
def test_unknown_activation_suggests_the_closest_name(make):
    with clear_error(ValueError, r"Unknown activation 'rleu'\. Did you mean 'relu'\?", "Known activations:"):
        make()


def test_unknown_optimizer_suggests_the_closest_name():
    with clear_error(ValueError, r"Unknown optimizer 'adma'\. Did you mean 'adam'\?", "sgd"):
        _classifier(loss=None).compile(optimizer="adma", loss="mse")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("binary_crossentrophy", "binary_crossentropy"),
        ("mse_", "mse"),
        ("sparse_categorical_crossentropi", "sparse_categorical_crossentropy"),
    ],
)
def test_unknown_loss_suggests_the_closest_name(typo, meant):
    with clear_error(ValueError, rf"Unknown loss '{typo}'\. Did you mean '{meant}'\?", "Known losses:"):
        _classifier(loss=None).compile(optimizer="adam", loss=typo)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("acuracy", "accuracy"),
        ("accuarcy", "accuracy"),
        ("categorical_acuracy", "categorical_accuracy"),
        ("mean_absolute_eror", "mean_absolute_error"),
    ],
)
def test_unknown_metric_suggests_the_closest_name(typo, meant):
    with clear_error(ValueError, rf"Unknown metric '{typo}'\. Did you mean '{meant}'\?", "Known metrics:"):
        _classifier(loss=None).compile(optimizer="adam", loss="mse", metrics=[typo])


def test_misspelled_layer_keyword_is_a_type_error_with_a_suggestion():
    with clear_error(TypeError, r"Dense got an unexpected keyword argument 'activaton'\. Did you mean 'activation'\?"):
        Dense(4, activaton="relu")


# -- layer and model configuration ------------------------------------------------------------------------
@pytest.mark.parametrize("units", [-3, 0, 2.5, "4"])
def test_dense_units_must_be_a_positive_int(units):
    with clear_error(
        ValueError, rf"Dense expects `units` to be a positive int\. Received: units={re.escape(repr(units))}"
    ):
        Dense(units=units)


def test_input_must_be_the_first_layer():
    with clear_error(ValueError, "Input layer can only be the first layer"):
        Sequential([Dense(3, input_dim=2), Input(shape=(3,))])


def test_layer_names_must_be_unique():
    with clear_error(ValueError, r"already has a layer named 'hidden'; layer names must be unique"):
        Sequential([Dense(3, input_dim=2, name="hidden"), Dense(3, name="hidden")])


def test_pop_on_an_empty_model():
    with clear_error(ValueError, "has no layers to pop", "'sequential'"):
        Sequential().pop()


def test_module_of_a_model_without_input_shape_says_how_to_give_one():
    with clear_error(RuntimeError, "does not know its input shape", "input_shape=", "input_dim=", "build("):
        _ = Sequential([Dense(3)]).module
    assert issubclass(NotReadyError, RuntimeError)


def test_reshape_to_an_incompatible_shape_names_layer_and_sizes():
    with clear_error(
        ValueError, r"Reshape layer 'reshape' cannot reshape samples of shape \(10,\) \(10 values\)", "(3, 3)"
    ):
        _ = Sequential([Reshape((3, 3), input_shape=(10,))]).module


def test_reshape_to_an_incompatible_shape_fails_at_fit(rng):
    model = Sequential([Reshape((3, -1)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with clear_error(ValueError, "Reshape layer 'reshape' cannot reshape", "(10,)", "(3, -1)"):
        model.fit(rng.normal(size=(4, 10)), np.zeros(4), verbose=0)


# -- fit before compile -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_fit_and_evaluate_need_compile(method, xy):
    with clear_error(NotReadyError, rf"must call model\.compile\(.*\) before model\.{method}\(\)"):
        getattr(_classifier(loss=None), method)(*xy, verbose=0)


def test_compile_without_loss_then_fit(xy):
    model = _classifier(loss=None)
    model.compile(optimizer="adam")
    with clear_error(RuntimeError, "compiled without a loss", "loss=", "fit()"):
        model.fit(*xy, verbose=0)


# -- data shapes ------------------------------------------------------------------------------------------
def test_wrong_feature_count_at_fit(rng, xy):
    with clear_error(
        ValueError,
        r"Layer 1 \(dense\) of 'sequential' expects inputs with 20 features",
        "received `x` of shape (10, 21)",
    ):
        _classifier().fit(rng.normal(size=(10, 21)), xy[1], verbose=0)


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_wrong_feature_count_after_training(method, rng, xy):
    model = _classifier()
    model.fit(*xy, verbose=0)
    args = (rng.normal(size=(6, 21)),) + ((xy[1][:6],) if method == "evaluate" else ())
    with clear_error(ValueError, r"\(dense\).* expects inputs with 20 features", "(6, 21)"):
        getattr(model, method)(*args, verbose=0)


def test_wrong_feature_count_in_validation_data(rng, xy):
    with clear_error(ValueError, r"\(dense\).* expects inputs with 20 features", "validation_data", "(5, 21)"):
        _classifier().fit(*xy, validation_data=(rng.normal(size=(5, 21)), xy[1][:5]), verbose=0)


@pytest.mark.parametrize("kind", ["dataset", "dataloader"])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_wrong_feature_count_from_torch_data(method, kind, xy):
    tensors = [torch.randn(10, 21)] + ([] if method == "predict" else [torch.from_numpy(xy[1])])
    source = TensorDataset(*tensors) if kind == "dataset" else DataLoader(TensorDataset(*tensors), batch_size=4)
    with clear_error(ValueError, r"\(dense\).* expects inputs with 20 features", "21"):
        getattr(_classifier(), method)(source, verbose=0)


def test_x_and_y_of_different_lengths(xy):
    with clear_error(ValueError, "same number of samples", "x has 10", "y has 7"):
        _classifier().fit(xy[0], xy[1][:7], verbose=0)


@pytest.mark.parametrize("n_weights", [7, 13])
def test_sample_weight_of_the_wrong_length(n_weights, xy):
    with clear_error(ValueError, "sample_weight", "10", str(n_weights)):
        _classifier().fit(*xy, sample_weight=np.ones(n_weights), verbose=0)


@pytest.mark.parametrize(("inputs", "method"), [(1, "fit"), (5, "fit"), (5, "predict")])
def test_one_dimensional_x_says_how_to_reshape(inputs, method, rng):
    x = rng.normal(size=10)
    args = (x, rng.normal(size=10)) if method == "fit" else (x,)
    with clear_error(
        ValueError, rf"expects 2-D input of shape \(n_samples, {inputs}\)", "1-D", "(10,)", "reshape(-1, 1)"
    ):
        getattr(_regressor(inputs), method)(*args, verbose=0)


def test_empty_x(xy):
    with clear_error(ValueError, r"`x` is empty \(shape \(0, 20\)\)"):
        _classifier().fit(np.zeros((0, 20)), np.zeros(0), verbose=0)


@pytest.mark.parametrize("x", [np.full((10, 20), "a"), np.full((10, 20), None, dtype=object)], ids=["str", "object"])
def test_non_numeric_x(x, xy):
    with clear_error(ValueError, "`x` must be numeric, but it has dtype", "LabelEncoder"):
        _classifier().fit(x, xy[1], verbose=0)


# -- data values --------------------------------------------------------------------------------------
def test_nan_in_x_names_the_sample(xy):
    x = xy[0].copy()
    x[4, 3] = np.nan
    with clear_error(ValueError, r"`x` contains NaN or infinite values \(first in sample 4\)", "SimpleImputer"):
        _classifier().fit(x, xy[1], verbose=0)


CLASSIFIER_TARGETS = {
    "mse": (1, None, lambda labels: labels.astype(np.float32)),
    "sparse_categorical_crossentropy": (3, "softmax", lambda labels: labels.astype(np.float32)),
    "binary_crossentropy": (1, "sigmoid", lambda labels: (labels > 0).astype(np.float32)),
    "categorical_crossentropy": (3, "softmax", lambda labels: np.eye(3, dtype=np.float32)[labels]),
}


@pytest.mark.parametrize("bad", [np.inf, np.nan], ids=["inf", "nan"])
@pytest.mark.parametrize("loss", list(CLASSIFIER_TARGETS))
def test_non_finite_y_names_the_sample(loss, bad, xy):
    units, activation, encode = CLASSIFIER_TARGETS[loss]
    y = encode(xy[1])
    y[6] = bad
    model = Sequential([Dense(4, input_dim=20), Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    with clear_error(ValueError, r"`y` contains NaN or infinite values \(first in sample 6\)"):
        model.fit(xy[0], y, verbose=0)


def test_sparse_labels_out_of_range(xy):
    y = xy[1].copy()
    y[3] = 7
    with clear_error(ValueError, r"labels from 0 to 7, but the model outputs 3 classes", "[0, 2]"):
        _classifier().fit(xy[0], y, verbose=0)


def test_integer_labels_with_categorical_crossentropy(xy):
    with clear_error(
        ValueError,
        r"needs one-hot targets of shape \(n, 3\), but y has shape \(10,\)",
        "to_categorical(y, 3)",
        "sparse_categorical_crossentropy",
    ):
        _classifier(loss="categorical_crossentropy").fit(*xy, verbose=0)


def test_negative_sample_weight_names_what_was_received(xy):
    weights = np.ones(10)
    weights[3] = -0.5
    with clear_error(ValueError, "sample_weight must be non-negative", "-0.5"):
        _classifier().fit(*xy, sample_weight=weights, verbose=0)


# -- fit arguments --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        pytest.param({"validation_split": 1.5}, r"validation_split must be in \(0, 1\)\. Received: 1\.5", id="split>1"),
        pytest.param(
            {"validation_split": -0.2}, r"validation_split must be in \(0, 1\)\. Received: -0\.2", id="split<0"
        ),
        pytest.param(
            {"batch_size": 0}, r"batch_size must be a positive int\. Received: batch_size=0", id="batch_size=0"
        ),
        pytest.param(
            {"batch_size": 2.5}, r"batch_size must be a positive int\. Received: batch_size=2\.5", id="batch_size=2.5"
        ),
        pytest.param({"verbose": 7}, r"verbose must be 'auto', 0, 1 or 2\. Received: verbose=7", id="verbose=7"),
        pytest.param({"epochs": -1}, r"epochs must be a non-negative int\. Received: epochs=-1", id="epochs=-1"),
        pytest.param(
            {"validation_split": 0.2, "validation_freq": 0}, r"validation_freq.*Received: .*0", id="validation_freq=0"
        ),
    ],
)
def test_bad_fit_arguments(kwargs, pattern, xy):
    with clear_error(ValueError, pattern):
        _classifier().fit(*xy, **{"verbose": 0, **kwargs})


def test_validation_split_that_leaves_nothing_to_train_on(xy):
    with clear_error(ValueError, r"validation_split=0\.95 leaves an empty training or validation set for 10 samples"):
        _classifier().fit(*xy, validation_split=0.95, verbose=0)


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.integers(max_value=0), st.floats(allow_nan=False), st.text(max_size=3), st.booleans()))
def test_any_bad_batch_size_is_refused_by_name(value):
    model = _classifier()
    x, y = np.zeros((4, 20), np.float32), np.zeros(4, np.int64)
    with clear_error(ValueError, re.escape(f"batch_size={value!r}")):
        model.fit(x, y, batch_size=value, verbose=0)


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=3), st.just(1.5), st.just("2"), st.just(None)))
def test_any_bad_verbose_is_refused_by_name(value):
    model = _classifier()
    with clear_error(ValueError, re.escape(f"verbose={value!r}")):
        model.predict(np.zeros((4, 20), np.float32), verbose=value)


def test_errors_are_catchable_as_builtins():
    assert issubclass(ConfigError, ValueError) and issubclass(DataError, ValueError)
    assert issubclass(NotReadyError, RuntimeError)
