"""nnkit.losses against Keras 3 on the same inputs, hand computations and the errors users meet."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnkit.losses as L
from nnkit.errors import DataError
from tests.helpers import assert_close

N, K = 6, 4  # samples, classes / features


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _inputs(kind: str, rng: np.random.Generator, logits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_pred)`` as numpy arrays in the range each loss is defined on."""
    f32 = np.float32
    z = rng.normal(size=(N, K)).astype(f32) * 2
    labels = rng.integers(0, K, size=N)
    if kind == "real":
        return rng.normal(size=(N, K)).astype(f32), z
    if kind == "positive":
        return rng.uniform(0.1, 3.0, size=(N, K)).astype(f32), rng.uniform(0.1, 3.0, size=(N, K)).astype(f32)
    if kind == "binary":
        y = rng.integers(0, 2, size=(N, K)).astype(f32)
        return y, z if logits else _sigmoid(z).astype(f32)
    if kind == "onehot":
        return np.eye(K, dtype=f32)[labels], z if logits else _softmax(z).astype(f32)
    if kind == "sparse":
        return labels.astype(np.int64), z if logits else _softmax(z).astype(f32)
    if kind == "distributions":
        return _softmax(rng.normal(size=(N, K))).astype(f32), _softmax(z).astype(f32)
    if kind == "signs":
        return rng.choice([-1.0, 1.0], size=(N, K)).astype(f32), z
    if kind == "zero_one":
        return rng.integers(0, 2, size=(N, K)).astype(f32), z
    if kind == "onehot_scores":
        return np.eye(K, dtype=f32)[labels], z
    raise AssertionError(kind)


# (nnkit/Keras class name, constructor kwargs, input kind)
CASES = [
    ("MeanSquaredError", {}, "real"),
    ("MeanAbsoluteError", {}, "real"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {}, "real"),
    ("Huber", {"delta": 0.5}, "real"),
    ("LogCosh", {}, "real"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "binary"),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse"),
    ("KLDivergence", {}, "distributions"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "signs"),
    ("Hinge", {}, "zero_one"),
    ("SquaredHinge", {}, "signs"),
    ("SquaredHinge", {}, "zero_one"),
    ("CategoricalHinge", {}, "onehot_scores"),
    ("CosineSimilarity", {}, "real"),
]
CASE_IDS = [f"{name}-{kind}-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw, kind in CASES]


def _keras_value(keras, name: str, kwargs: dict, y_true, y_pred, **call_kwargs) -> np.ndarray:
    value = getattr(keras.losses, name)(**kwargs)(y_true, y_pred, **call_kwargs)
    return np.asarray(keras.ops.convert_to_numpy(value))


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_loss_matches_keras_unweighted(keras, rng, name, kwargs, kind):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    expected = _keras_value(keras, name, kwargs, y_true, y_pred)
    actual = getattr(L, name)(**kwargs)(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    assert actual.shape == ()
    assert_close(actual, expected)


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_loss_matches_keras_with_sample_weight(keras, rng, name, kwargs, kind):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    weights = rng.uniform(0.0, 2.0, size=N).astype(np.float32)
    expected = _keras_value(keras, name, kwargs, y_true, y_pred, sample_weight=weights)
    loss = getattr(L, name)(**kwargs)
    actual = loss(torch.from_numpy(y_true), torch.from_numpy(y_pred), sample_weight=torch.from_numpy(weights))
    assert_close(actual, expected)


@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_loss_reductions_match_keras(keras, rng, name, kwargs, kind, reduction):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    weights = rng.uniform(0.0, 2.0, size=N).astype(np.float32)
    expected = _keras_value(keras, name, {**kwargs, "reduction": reduction}, y_true, y_pred, sample_weight=weights)
    loss = getattr(L, name)(**kwargs, reduction=reduction)
    actual = loss(torch.from_numpy(y_true), torch.from_numpy(y_pred), sample_weight=torch.from_numpy(weights))
    assert tuple(actual.shape) == expected.shape
    assert_close(actual, expected)


FUNCTIONS = [
    ("mean_squared_error", {}, "real"),
    ("mean_absolute_error", {}, "real"),
    ("mean_absolute_percentage_error", {}, "positive"),
    ("mean_squared_logarithmic_error", {}, "positive"),
    ("huber", {"delta": 2.0}, "real"),
    ("log_cosh", {}, "real"),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.1}, "binary"),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, "onehot"),
    ("sparse_categorical_crossentropy", {"from_logits": True}, "sparse"),
    ("kl_divergence", {}, "distributions"),
    ("poisson", {}, "positive"),
    ("hinge", {}, "signs"),
    ("squared_hinge", {}, "zero_one"),
    ("categorical_hinge", {}, "onehot_scores"),
    ("cosine_similarity", {}, "real"),
]


@pytest.mark.parametrize(("name", "kwargs", "kind"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_per_sample_function_matches_keras(keras, rng, name, kwargs, kind):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    expected = keras.ops.convert_to_numpy(getattr(keras.losses, name)(y_true, y_pred, **kwargs))
    actual = getattr(L, name)(torch.from_numpy(y_true), torch.from_numpy(y_pred), **kwargs)
    assert tuple(actual.shape) == (N,)
    assert_close(actual, np.asarray(expected))


@pytest.mark.parametrize("name", ["SparseCategoricalCrossentropy", "CategoricalCrossentropy"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sequence_crossentropy_with_per_step_weights_matches_keras(keras, rng, name, from_logits):
    z = rng.normal(size=(3, 5, K)).astype(np.float32)
    y_pred = z if from_logits else _softmax(z).astype(np.float32)
    labels = rng.integers(0, K, size=(3, 5))
    y_true = labels if name.startswith("Sparse") else np.eye(K, dtype=np.float32)[labels]
    weights = rng.uniform(size=(3, 5)).astype(np.float32)
    expected = _keras_value(keras, name, {"from_logits": from_logits}, y_true, y_pred, sample_weight=weights)
    loss = getattr(L, name)(from_logits=from_logits)
    actual = loss(torch.from_numpy(y_true), torch.from_numpy(y_pred), sample_weight=torch.from_numpy(weights))
    assert_close(actual, expected)


def test_column_sample_weight_matches_keras(keras):
    y_true, y_pred, weights = np.array([[1.0], [2.0]]), np.zeros((2, 1)), np.array([[1.0], [3.0]])
    expected = _keras_value(keras, "MeanSquaredError", {}, y_true, y_pred, sample_weight=weights)
    actual = L.MeanSquaredError()(*(torch.tensor(a, dtype=torch.float32) for a in (y_true, y_pred, weights)))
    assert_close(actual, expected)
    assert_close(actual, (1 * 1 + 3 * 4) / 2)


# --- hand computations ------------------------------------------------------------------------


def test_mse_by_hand():
    # ((1 - 3) ** 2 + (2 - 5) ** 2) / 2 = (4 + 9) / 2
    assert_close(L.MeanSquaredError()(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 5.0]])), 6.5)


def test_sparse_categorical_crossentropy_is_minus_log_of_true_class_probability():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    per_sample = L.sparse_categorical_crossentropy(torch.tensor([0, 1]), p)
    assert_close(per_sample, [-math.log(0.7), -math.log(0.3)])
    assert_close(L.SparseCategoricalCrossentropy()(torch.tensor([0, 1]), p), (-math.log(0.7) - math.log(0.3)) / 2)


def test_binary_crossentropy_by_hand():
    # -(log 0.8 + log(1 - 0.4)) / 2 for the one sample with two outputs
    value = L.BinaryCrossentropy()(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.8, 0.4]]))
    assert_close(value, -(math.log(0.8) + math.log(0.6)) / 2)


def test_sum_over_batch_size_divides_weighted_sum_by_sample_count():
    # per-sample MSE: 1 and 4; weights 0.5 and 0 -> (0.5 * 1 + 0 * 4) / 2 samples, not / sum of weights
    loss = L.MeanSquaredError()
    value = loss(torch.tensor([[0.0], [0.0]]), torch.tensor([[1.0], [2.0]]), sample_weight=torch.tensor([0.5, 0.0]))
    assert_close(value, 0.25)


# --- numerical stability ----------------------------------------------------------------------


@pytest.mark.parametrize(("label", "expected"), [(0, 0.0), (1, 2000.0)])
def test_crossentropy_from_logits_is_exact_for_huge_logits(label, expected):
    logits = torch.tensor([[1000.0, -1000.0]])
    one_hot = torch.eye(2)[[label]]
    for value in (
        L.CategoricalCrossentropy(from_logits=True)(one_hot, logits),
        L.SparseCategoricalCrossentropy(from_logits=True)(torch.tensor([label]), logits),
        L.CategoricalCrossentropy(from_logits=True, reduction="none")(one_hot, logits)[0],
    ):
        assert torch.isfinite(value)
        assert_close(value, expected)


def test_binary_crossentropy_from_logits_is_exact_for_huge_logits():
    value = L.BinaryCrossentropy(from_logits=True)(torch.tensor([[1.0, 0.0]]), torch.tensor([[-500.0, 500.0]]))
    assert torch.isfinite(value)
    assert_close(value, 500.0)


def test_probability_path_clips_a_zero_probability_for_the_true_class(keras):
    clipped = -math.log(1e-7)  # about 16.118
    p = torch.tensor([[1.0, 0.0]])
    for value in (
        L.CategoricalCrossentropy()(torch.tensor([[0.0, 1.0]]), p),
        L.SparseCategoricalCrossentropy()(torch.tensor([1]), p),
    ):
        assert torch.isfinite(value)
        assert_close(value, clipped, rtol=1e-4)
    keras_value = keras.losses.CategoricalCrossentropy()(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert_close(clipped, np.asarray(keras.ops.convert_to_numpy(keras_value)), rtol=1e-4)


def test_binary_crossentropy_clips_saturated_probabilities_like_keras(keras):
    y_true, y_pred = np.array([[0.0, 1.0]], np.float32), np.array([[1.0, 0.0]], np.float32)
    value = L.BinaryCrossentropy()(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    assert torch.isfinite(value)
    # 1 - 1e-7 rounds to 1 - 2 ** -23 in float32, so the clipped 1 costs -log(2 ** -23) and the clipped 0 -log(1e-7)
    assert_close(value, (-math.log(2.0**-23) - math.log(1e-7)) / 2, rtol=1e-4)
    expected = keras.ops.convert_to_numpy(keras.losses.BinaryCrossentropy()(y_true, y_pred))
    assert_close(value, np.asarray(expected), rtol=1e-4)


# --- rank alignment and shapes ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "Huber", "LogCosh"])
def test_targets_without_trailing_axis_align_with_single_output(rng, name):
    y = torch.from_numpy(rng.uniform(0.05, 0.95, size=N).astype(np.float32))
    pred = torch.from_numpy(rng.uniform(0.05, 0.95, size=(N, 1)).astype(np.float32))
    loss = getattr(L, name)(reduction="none")
    flat, column = loss(y, pred), loss(y[:, None], pred)
    assert tuple(flat.shape) == (N,), "must not broadcast (n,) against (n, 1) to (n, n)"
    assert_close(flat, column)
    assert_close(getattr(L, name)()(y, pred), getattr(L, name)()(y[:, None], pred))


def test_mse_of_flat_targets_equals_numpy_not_broadcast(rng):
    y = rng.normal(size=N).astype(np.float32)
    pred = rng.normal(size=(N, 1)).astype(np.float32)
    assert_close(L.MeanSquaredError()(torch.from_numpy(y), torch.from_numpy(pred)), np.mean((y - pred[:, 0]) ** 2))


@pytest.mark.parametrize(
    "name", ["MeanSquaredError", "MeanAbsoluteError", "CategoricalCrossentropy", "KLDivergence", "Hinge"]
)
def test_mismatched_shapes_raise_data_error_naming_both(name):
    with pytest.raises(DataError, match=r"\(4, 3\).*\(4, 2\)|\(4, 2\).*\(4, 3\)"):
        getattr(L, name)()(torch.zeros(4, 2), torch.full((4, 3), 0.5))


def test_flat_targets_against_many_outputs_raise_instead_of_broadcasting():
    with pytest.raises(DataError, match=r"\(4,\)"):
        L.MeanSquaredError()(torch.zeros(4), torch.zeros(4, 3))


def test_sparse_labels_with_wrong_batch_shape_raise():
    with pytest.raises(DataError, match="categorical_crossentropy"):
        L.SparseCategoricalCrossentropy()(torch.zeros(4, 3), torch.full((4, 3), 1 / 3))


# --- get() --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "cls", "fn"),
    [
        ("mse", L.MeanSquaredError, L.mean_squared_error),
        ("mean_squared_error", L.MeanSquaredError, L.mean_squared_error),
        ("MeanSquaredError", L.MeanSquaredError, L.mean_squared_error),
        ("mae", L.MeanAbsoluteError, L.mean_absolute_error),
        ("mape", L.MeanAbsolutePercentageError, L.mean_absolute_percentage_error),
        ("msle", L.MeanSquaredLogarithmicError, L.mean_squared_logarithmic_error),
        ("kld", L.KLDivergence, L.kl_divergence),
        ("huber", L.Huber, L.huber),
        ("log_cosh", L.LogCosh, L.log_cosh),
        ("logcosh", L.LogCosh, L.log_cosh),
        ("binary_crossentropy", L.BinaryCrossentropy, L.binary_crossentropy),
        ("CategoricalCrossentropy", L.CategoricalCrossentropy, L.categorical_crossentropy),
        ("sparse_categorical_crossentropy", L.SparseCategoricalCrossentropy, L.sparse_categorical_crossentropy),
        ("cosine_similarity", L.CosineSimilarity, L.cosine_similarity),
        ("poisson", L.Poisson, L.poisson),
        ("categorical_hinge", L.CategoricalHinge, L.categorical_hinge),
    ],
)
def test_get_resolves_names_and_aliases(identifier, cls, fn):
    loss = L.get(identifier)
    assert type(loss) is cls
    assert type(L.get(fn)) is cls  # the Keras function itself resolves to its class


def test_get_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'mean_squared_error'\\?"):
        L.get("mean_squared_eror")
    with pytest.raises(ValueError, match="Unknown loss 'categorical_crossentropyy'"):
        L.get("categorical_crossentropyy")


def test_get_returns_loss_instances_unchanged():
    loss = L.Huber(delta=3.0)
    assert L.get(loss) is loss


def test_get_wraps_a_plain_function():
    def total_abs(y_true, y_pred):
        return (y_true - y_pred).abs().sum(dim=-1)

    loss = L.get(total_abs)
    assert isinstance(loss, L.Loss)
    assert_close(loss(torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]])), 2.5)


def test_get_wraps_a_torch_loss_module_called_in_torch_order():
    calls = []

    class Spy(torch.nn.MSELoss):
        def forward(self, input, target):
            calls.append((input, target))
            return super().forward(input, target)

    y_true, y_pred = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 5.0]])
    assert_close(L.get(torch.nn.MSELoss())(y_true, y_pred), 6.5)
    L.get(Spy())(y_true, y_pred)
    assert calls[0][0] is y_pred and calls[0][1] is y_true
    # a non-symmetric torch loss shows the order matters: BCE(input=y_pred, target=y_true)
    bce = L.get(torch.nn.BCELoss())(torch.tensor([[1.0]]), torch.tensor([[0.8]]))
    assert_close(bce, -math.log(0.8))


def test_dict_identifier_round_trips():
    loss = L.get({"class_name": "Huber", "config": {"delta": 2.5}})
    assert isinstance(loss, L.Huber)
    assert loss.get_config()["delta"] == 2.5


# --- prepare_targets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([0, 1, 3], r"labels from 0 to 3.*3 classes.*\[0, 2\]"),
        ([-1, 0, 2], r"labels from -1 to 2.*\[0, 2\]"),
    ],
)
def test_sparse_labels_out_of_range_raise(labels, match):
    with pytest.raises(DataError, match=match):
        L.SparseCategoricalCrossentropy().prepare_targets(torch.tensor(labels), (3,))


def test_sparse_non_integer_labels_raise():
    with pytest.raises(DataError, match=r"integer class labels.*categorical_crossentropy"):
        L.SparseCategoricalCrossentropy().prepare_targets(torch.tensor([0.0, 1.5, 2.0]), (3,))


def test_sparse_valid_labels_become_long():
    y = L.SparseCategoricalCrossentropy().prepare_targets(torch.tensor([[0.0], [2.0], [1.0]]), (3,))
    assert y.dtype == torch.int64
    assert y.tolist() == [0, 2, 1]


def test_one_hot_width_must_match_output():
    with pytest.raises(DataError, match=r"\(None, 3\).*\(5, 4\)"):
        L.CategoricalCrossentropy().prepare_targets(torch.eye(4)[[0, 1, 2, 3, 0]], (3,))


@pytest.mark.parametrize("shape", [(5,), (5, 1)])
def test_integer_labels_for_categorical_crossentropy_point_to_the_fix(shape):
    y = torch.tensor([0, 1, 2, 1, 0]).reshape(shape)
    with pytest.raises(DataError, match=r"to_categorical.*sparse_categorical_crossentropy"):
        L.CategoricalCrossentropy().prepare_targets(y, (3,))


@pytest.mark.parametrize("bad", [[0.0, 2.0, 1.0], [-0.5, 0.0, 1.0]])
def test_binary_crossentropy_targets_outside_unit_interval_raise(bad):
    with pytest.raises(DataError, match=r"expects targets in \[0, 1\]"):
        L.BinaryCrossentropy().prepare_targets(torch.tensor(bad), (1,))


def test_binary_crossentropy_flat_targets_gain_the_output_axis():
    y = L.BinaryCrossentropy().prepare_targets(torch.tensor([0, 1, 1]), (1,))
    assert y.shape == (3, 1)
    assert y.dtype == torch.float32


def test_data_error_is_a_value_error():
    with pytest.raises(ValueError):
        L.SparseCategoricalCrossentropy().prepare_targets(torch.tensor([7]), (3,))


# --- with_logits_of -----------------------------------------------------------------------------


def test_with_logits_of_gives_an_equivalent_loss_on_logits(rng):
    z = torch.from_numpy(rng.normal(size=(N, K)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, K, size=N))
    one_hot = torch.eye(K)[labels]

    cce = L.CategoricalCrossentropy(label_smoothing=0.1)
    twin = cce.with_logits_of("softmax")
    assert twin.get_config() == {**cce.get_config(), "from_logits": True}
    assert_close(twin(one_hot, z), cce(one_hot, torch.softmax(z, dim=-1)))

    sparse_twin = L.SparseCategoricalCrossentropy().with_logits_of("softmax")
    assert_close(sparse_twin(labels, z), L.SparseCategoricalCrossentropy()(labels, torch.softmax(z, dim=-1)))

    bce_twin = L.BinaryCrossentropy().with_logits_of("sigmoid")
    targets = (one_hot > 0).float()
    assert_close(bce_twin(targets, z), L.BinaryCrossentropy()(targets, torch.sigmoid(z)))


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        (L.CategoricalCrossentropy(), "sigmoid"),
        (L.CategoricalCrossentropy(from_logits=True), "softmax"),
        (L.BinaryCrossentropy(), "softmax"),
        (L.SparseCategoricalCrossentropy(), "relu"),
        (L.MeanSquaredError(), "softmax"),
    ],
)
def test_with_logits_of_is_none_when_there_is_no_twin(loss, activation):
    assert loss.with_logits_of(activation) is None


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss",
    [
        L.MeanSquaredError(reduction="sum"),
        L.Huber(delta=0.3, name="h"),
        L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
        L.CategoricalCrossentropy(label_smoothing=0.05, reduction="none"),
        L.SparseCategoricalCrossentropy(from_logits=True),
        L.CosineSimilarity(axis=0),
    ],
    ids=repr,
)
def test_config_round_trip(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert type(clone) is type(loss)
    assert clone.get_config() == config
    y_true, y_pred = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([[0.3, 0.7], [0.6, 0.4]])
    if isinstance(loss, L.SparseCategoricalCrossentropy):
        y_true = torch.tensor([1, 0])
    assert_close(clone(y_true, y_pred), loss(y_true, y_pred))


def test_default_names_and_config_match_keras(keras):
    for name in ("MeanSquaredError", "BinaryCrossentropy", "CategoricalCrossentropy", "Huber"):
        ours, theirs = getattr(L, name)().get_config(), getattr(keras.losses, name)().get_config()
        shared = set(ours) & set(theirs)
        assert {"name", "reduction"} <= shared
        assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}


# --- properties -------------------------------------------------------------------------------

_floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)
_matrices = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=_matrices)
def test_mse_equals_numpy_mean_of_squared_difference(data, shape):
    y_true = data.draw(hnp.arrays(np.float32, shape, elements=_floats))
    y_pred = data.draw(hnp.arrays(np.float32, shape, elements=_floats))
    expected = np.mean((y_true.astype(np.float64) - y_pred) ** 2)
    assert_close(L.MeanSquaredError()(torch.from_numpy(y_true), torch.from_numpy(y_pred)), expected, rtol=1e-4)
    per_sample = L.mean_squared_error(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    assert_close(per_sample, np.mean((y_true.astype(np.float64) - y_pred) ** 2, axis=-1), rtol=1e-4, atol=1e-3)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    shape=_matrices,
    name=st.sampled_from(["MeanAbsoluteError", "Huber", "LogCosh", "MeanSquaredError"]),
)
def test_reductions_are_mean_and_sum_of_weighted_per_sample_values(data, shape, name):
    y_true = torch.from_numpy(data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-10, 10, width=32))))
    y_pred = torch.from_numpy(data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-10, 10, width=32))))
    w = torch.from_numpy(data.draw(hnp.arrays(np.float32, shape[:1], elements=st.floats(0, 5, width=32))))
    per_sample = getattr(L, name)(reduction="none")(y_true, y_pred).double()
    assert_close(getattr(L, name)()(y_true, y_pred, sample_weight=w), (per_sample * w).mean(), rtol=1e-4, atol=1e-5)
    assert_close(
        getattr(L, name)(reduction="sum")(y_true, y_pred, sample_weight=w), (per_sample * w).sum(), rtol=1e-4, atol=1e-4
    )
    assert_close(getattr(L, name)()(y_true, y_pred), per_sample.mean(), rtol=1e-4, atol=1e-5)
