"""Focal, generalized cross-entropy, Dice, Tversky, Circle and CTC losses against Keras 3 on the same inputs:
every reduction with and without sample weights, the per-sample functions, configs, names and training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnkit
import nnkit.losses as L
from nnkit.errors import ConfigError, DataError
from tests.helpers import assert_close

N, K = 8, 4  # samples, classes / features


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _inputs(kind: str, rng: np.random.Generator, logits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_pred)`` as float32 / int arrays in the range each loss is defined on."""
    f32 = np.float32
    z = (rng.normal(size=(N, K)) * 2).astype(f32)
    labels = rng.integers(0, K, size=N)
    if kind == "binary":
        return rng.integers(0, 2, size=(N, K)).astype(f32), z if logits else _sigmoid(z).astype(f32)
    if kind == "onehot":
        return np.eye(K, dtype=f32)[labels], z if logits else _softmax(z).astype(f32)
    if kind == "sparse":
        return labels, _softmax(z).astype(f32)
    if kind == "masks":
        return rng.integers(0, 2, size=(N, K)).astype(f32), rng.uniform(size=(N, K)).astype(f32)
    if kind == "masks3d":
        return rng.integers(0, 2, size=(N, 3, K)).astype(f32), rng.uniform(size=(N, 3, K)).astype(f32)
    if kind == "embeddings":  # pairs, a triple and singletons, so some samples have no positive pair
        e = rng.normal(size=(N, K)).astype(f32)
        return np.array([0, 0, 1, 1, 1, 2, 3, 0]), e / np.linalg.norm(e, axis=1, keepdims=True)
    if kind == "sequences":  # labels 1..K-1 padded with the blank 0, logits over 6 steps
        y = rng.integers(1, K, size=(N, 3))
        y[::2, 2] = 0
        return y, rng.normal(size=(N, 6, K)).astype(f32)
    raise AssertionError(kind)


# (nnkit/Keras class name, constructor kwargs, input kind)
CASES = [
    ("BinaryFocalCrossentropy", {}, "binary"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 3.0, "label_smoothing": 0.1},
     "binary"),
    ("BinaryFocalCrossentropy", {"from_logits": True, "apply_class_balancing": True}, "binary"),
    ("CategoricalFocalCrossentropy", {}, "onehot"),
    ("CategoricalFocalCrossentropy", {"alpha": [0.1, 0.2, 0.3, 0.4], "gamma": 1.0, "from_logits": True,
                                      "label_smoothing": 0.2}, "onehot"),
    ("CategoricalGeneralizedCrossEntropy", {}, "sparse"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.8}, "sparse"),
    ("Dice", {}, "masks"),
    ("Dice", {"axis": 1}, "masks"),
    ("Dice", {"axis": (1, 2)}, "masks3d"),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, "masks"),
    ("Tversky", {"alpha": 0.7, "beta": 0.3, "axis": (1, 2)}, "masks3d"),
    ("Circle", {}, "embeddings"),
    ("Circle", {"gamma": 32.0, "margin": 0.25, "remove_diagonal": False}, "embeddings"),
    ("CTC", {}, "sequences"),
]
CASE_IDS = [f"{name}-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw, _ in CASES]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None]


def _keras_value(keras, name: str, kwargs: dict, y_true, y_pred, **call_kwargs) -> np.ndarray:
    value = getattr(keras.losses, name)(**kwargs)(y_true, y_pred, **call_kwargs)
    return np.asarray(keras.ops.convert_to_numpy(value))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_loss_matches_keras(keras, rng, name, kwargs, kind, reduction, weighted):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    call = {"sample_weight": rng.uniform(0.0, 2.0, size=N).astype(np.float32)} if weighted else {}
    expected = _keras_value(keras, name, {**kwargs, "reduction": reduction}, y_true, y_pred, **call)
    loss = getattr(L, name)(**kwargs, reduction=reduction)
    actual = loss(torch.from_numpy(y_true), torch.from_numpy(y_pred), **{k: torch.from_numpy(v) for k, v in call.items()})
    assert tuple(actual.shape) == expected.shape
    assert_close(actual, expected, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES[::2], ids=CASE_IDS[::2])
def test_lists_arrays_and_tensors_give_the_same_loss(rng, name, kwargs, kind):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    weights = rng.uniform(size=N).astype(np.float32)
    loss = getattr(L, name)(**kwargs)
    from_tensors = loss(torch.from_numpy(y_true), torch.from_numpy(y_pred), torch.from_numpy(weights))
    assert_close(loss(y_true, y_pred, weights), from_tensors)
    assert_close(loss(y_true.tolist(), y_pred.tolist(), weights.tolist()), from_tensors)


FUNCTIONS = [
    ("binary_focal_crossentropy", {"gamma": 3.0, "from_logits": True, "label_smoothing": 0.1}, "binary"),
    ("binary_focal_crossentropy", {"apply_class_balancing": True, "axis": 0}, "binary"),
    ("categorical_focal_crossentropy", {"alpha": 0.5, "gamma": 0.0}, "onehot"),
    ("categorical_generalized_cross_entropy", {"q": 0.3}, "sparse"),
    ("dice", {"axis": -1}, "masks"),
    ("tversky", {"alpha": 0.2, "beta": 0.8, "axis": (1, 2)}, "masks3d"),
    ("circle", {"gamma": 16.0}, "embeddings"),
    ("ctc", {}, "sequences"),
]


@pytest.mark.parametrize(("name", "kwargs", "kind"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_per_sample_function_matches_keras(keras, rng, name, kwargs, kind):
    y_true, y_pred = _inputs(kind, rng, logits=kwargs.get("from_logits", False))
    keras_inputs = (keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    expected = np.asarray(keras.ops.convert_to_numpy(getattr(keras.losses, name)(*keras_inputs, **kwargs)))
    actual = getattr(L, name)(y_true, y_pred, **kwargs)
    assert tuple(actual.shape) == expected.shape
    assert_close(actual, expected, rtol=2e-5, atol=1e-5)


def test_circle_against_reference_embeddings_matches_keras(keras, rng):
    labels, embeddings = _inputs("embeddings", rng)
    ref_labels, ref = _inputs("embeddings", np.random.default_rng(1))
    kwargs = {"ref_labels": ref_labels, "ref_embeddings": ref, "remove_diagonal": False}
    expected = keras.ops.convert_to_numpy(keras.losses.circle(labels, embeddings, **kwargs))
    assert_close(L.circle(labels, embeddings, **kwargs), np.asarray(expected), rtol=2e-5, atol=1e-5)


# --- hand computations ---------------------------------------------------------------------------------


def test_focal_losses_without_focusing_are_cross_entropies(rng):
    y_true, y_pred = _inputs("binary", rng)
    assert_close(L.binary_focal_crossentropy(y_true, y_pred, gamma=0.0), L.binary_crossentropy(y_true, y_pred))
    y_true, y_pred = _inputs("onehot", rng)
    assert_close(L.categorical_focal_crossentropy(y_true, y_pred, alpha=1.0, gamma=0.0),
                 L.categorical_crossentropy(y_true, y_pred))


def test_binary_focal_crossentropy_by_hand():
    # p_t = 0.8 for the positive, 1 - 0.4 = 0.6 for the negative; factors (1 - p_t) ** 2
    value = L.binary_focal_crossentropy([[1.0, 0.0]], [[0.8, 0.4]], gamma=2.0)
    assert_close(value, [-(0.2**2 * math.log(0.8) + 0.4**2 * math.log(0.6)) / 2])


def test_generalized_cross_entropy_by_hand():
    # (1 - p ** q) / q with p the probability of the true class; (batch, 1) labels read as (batch,)
    p = [[0.7, 0.3], [0.2, 0.8]]
    expected = [(1 - 0.7**0.5) / 0.5, (1 - 0.8**0.5) / 0.5]
    assert_close(L.categorical_generalized_cross_entropy([0, 1], p, q=0.5), expected)
    assert_close(L.CategoricalGeneralizedCrossEntropy(reduction="none")([[0], [1]], p), expected)


def test_dice_by_hand():
    # intersection 1, sums 2 and 1.5: 1 - 2 / 3.5
    assert_close(L.dice([[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.5]]), 1 - 2 / 3.5, atol=1e-6)


def test_tversky_with_equal_weights_is_dice(rng):
    y_true, y_pred = _inputs("masks3d", rng)
    assert_close(L.tversky(y_true, y_pred, axis=(1, 2)), L.dice(y_true, y_pred, axis=(1, 2)))


def test_ctc_of_a_single_step_is_minus_log_softmax_of_the_label():
    logits = torch.tensor([[[0.5, 2.0, -1.0]]])
    assert_close(L.ctc(torch.tensor([[1]]), logits), -torch.log_softmax(logits[0, 0], dim=-1)[1:2])


def test_circle_gives_zero_without_pairs_and_a_finite_gradient():
    embeddings = torch.nn.functional.normalize(torch.randn(3, 4), dim=1).requires_grad_()
    loss = L.Circle(reduction="none")
    values = loss(torch.tensor([0, 1, 2]), embeddings)  # no sample has a positive pair
    assert values.tolist() == [0.0, 0.0, 0.0]
    L.Circle()(torch.tensor([0, 0, 1]), embeddings).backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0


def test_mean_with_sample_weight_divides_by_the_weights():
    # per-sample MSE 1 and 4 with weights 1 and 3: (1 + 12) / 4
    loss = L.MeanSquaredError(reduction="mean_with_sample_weight")
    assert_close(loss([[0.0], [0.0]], [[1.0], [2.0]], sample_weight=[1.0, 3.0]), 13 / 4)


@pytest.mark.parametrize(("name", "kind"), [("MeanSquaredError", "masks"), ("BinaryCrossentropy", "binary"),
                                          ("SparseCategoricalCrossentropy", "sparse")])
def test_mean_with_sample_weight_matches_keras_for_the_older_losses(keras, rng, name, kind):
    y_true, y_pred = _inputs(kind, rng)
    weights = rng.uniform(0.0, 2.0, size=N).astype(np.float32)
    kwargs = {"reduction": "mean_with_sample_weight"}
    expected = _keras_value(keras, name, kwargs, y_true, y_pred, sample_weight=weights)
    assert_close(getattr(L, name)(**kwargs)(y_true, y_pred, sample_weight=weights), expected)


# --- errors --------------------------------------------------------------------------------------------


def test_generalized_cross_entropy_rejects_q_outside_the_unit_interval():
    with pytest.raises(ConfigError, match=r"q must be in the interval \(0, 1\).*q=1.5"):
        L.CategoricalGeneralizedCrossEntropy(q=1.5)


def test_categorical_focal_rejects_a_bool_axis():
    with pytest.raises(ValueError, match="axis must be an int"):
        L.categorical_focal_crossentropy([[0.0, 1.0]], [[0.4, 0.6]], axis=True)


def test_categorical_focal_warns_about_a_single_class_like_keras():
    with pytest.warns(SyntaxWarning, match="binary_crossentropy"):
        L.categorical_focal_crossentropy([[1.0]], [[0.7]])


@pytest.mark.parametrize(("y_true", "y_pred", "match"), [
    (np.zeros((2, 3, 1)), np.zeros((2, 4, 3)), r"targets of shape \(batch_size, max_length\)"),
    (np.zeros((2, 3)), np.zeros((2, 4)), r"logits of shape \(batch_size, max_length, num_classes\)"),
])
def test_ctc_rejects_wrong_ranks(y_true, y_pred, match):
    with pytest.raises(DataError, match=match):
        L.ctc(y_true, y_pred)


def test_prepare_targets_check_labels_before_training():
    with pytest.raises(DataError, match=r"labels must be in \[0, 2\]"):
        L.CategoricalGeneralizedCrossEntropy().prepare_targets(torch.tensor([0, 3]), (3,))
    with pytest.raises(DataError, match=r"labels must be in \[0, 4\].*0 is the blank"):
        L.CTC().prepare_targets(torch.tensor([[1, 5]]), (6, 5))
    with pytest.raises(DataError, match="needs integer class labels"):
        L.Circle().prepare_targets(torch.tensor([0.5, 1.0]), (4,))
    with pytest.raises(DataError, match="one-hot targets"):
        L.CategoricalFocalCrossentropy().prepare_targets(torch.tensor([0, 2]), (3,))


# --- configs, names, training ---------------------------------------------------------------------------

KERAS_NAMES = {
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "categorical_generalized_cross_entropy": "CategoricalGeneralizedCrossEntropy",
    "dice": "Dice", "tversky": "Tversky", "circle": "Circle", "ctc": "CTC",
}


@pytest.mark.parametrize(("name", "kwargs", "kind"), CASES, ids=CASE_IDS)
def test_config_matches_keras_and_round_trips(keras, name, kwargs, kind):
    ours = getattr(L, name)(**kwargs)
    theirs = getattr(keras.losses, name)(**kwargs).get_config()
    theirs.pop("dtype", None)
    assert ours.get_config() == theirs
    clone = L.deserialize(L.serialize(ours))
    assert type(clone) is type(ours) and clone.get_config() == ours.get_config()


@pytest.mark.parametrize(("name", "class_name"), KERAS_NAMES.items())
def test_names_resolve_to_the_loss_classes(name, class_name):
    cls = getattr(L, class_name)
    assert type(L.get(name)) is cls and type(L.get(class_name)) is cls
    assert type(L.get(getattr(L, name))) is cls
    assert L.get(name).name == name


def _model(lib, kind: str):
    layers = {
        "binary": [lib.Input(shape=(5,)), lib.layers.Dense(K, activation="sigmoid")],
        "onehot": [lib.Input(shape=(5,)), lib.layers.Dense(K, activation="softmax")],
        "embeddings": [lib.Input(shape=(5,)), lib.layers.Dense(K), lib.layers.UnitNormalization()],
        "sequences": [lib.Input(shape=(6, 5)), lib.layers.Dense(K)],
    }[kind]
    return lib.Sequential(layers)


FIT_CASES = [
    ("binary_focal_crossentropy", "binary", "binary"),
    ("categorical_focal_crossentropy", "onehot", "onehot"),
    ("categorical_generalized_cross_entropy", "onehot", "sparse"),
    ("dice", "binary", "masks"),
    ("tversky", "binary", "masks"),
    ("circle", "embeddings", "embeddings"),
    ("ctc", "sequences", "sequences"),
]


@pytest.mark.parametrize(("name", "model_kind", "data_kind"), FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_with_the_loss_name_trains_like_keras(keras, rng, name, model_kind, data_kind):
    y, _ = _inputs(data_kind, rng)
    x = rng.normal(size=(N, 6, 5) if model_kind == "sequences" else (N, 5)).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, size=N).astype(np.float32)
    models = [_model(lib, model_kind) for lib in (keras, nnkit)]
    models[1].set_weights(models[0].get_weights())
    histories = []
    for lib, model in zip((keras, nnkit), models):
        # Keras's get() does not know this name (its function needs q), so Keras gets the class
        loss = keras.losses.CategoricalGeneralizedCrossEntropy() if (
            lib is keras and name == "categorical_generalized_cross_entropy") else name
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss=loss)
        histories.append(model.fit(x, y, sample_weight=weights, epochs=3, batch_size=4, shuffle=False,
                                   verbose=0).history["loss"])
    assert_close(histories[1], histories[0], rtol=1e-4, atol=1e-5)
    assert histories[1][-1] < histories[1][0]
