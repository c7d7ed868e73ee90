"""What users pass as data reaches the model intact: formats, loaders, splits, batches, weights, checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import DataLoader, TensorDataset

import nnkit
from nnkit.errors import DataError
from nnkit.layers import Dense
from nnkit.models import Sequential, preparation
from nnkit.training.data import ArrayData, check_finite, class_weight_to_sample_weight
from tests.helpers import assert_close

FEATURES, CLASSES = 4, 3


def _classifier() -> Sequential:
    return Sequential([Dense(8, activation="relu", input_dim=FEATURES), Dense(CLASSES, activation="softmax")])


def _compiled(weights: list[np.ndarray], model: Sequential | None = None, **compile_kwargs) -> Sequential:
    """A classifier starting from ``weights`` (so two models train from the same point)."""
    model = model or _classifier()
    model.set_weights(weights)
    compile_kwargs.setdefault("loss", "sparse_categorical_crossentropy")
    model.compile(optimizer=compile_kwargs.pop("optimizer", "adam"), **compile_kwargs)
    return model


@pytest.fixture
def data(rng) -> tuple[np.ndarray, np.ndarray]:
    """40 samples, float64 features and int64 labels, as NumPy users usually have them."""
    return rng.normal(size=(40, FEATURES)), rng.integers(CLASSES, size=40)


@pytest.fixture
def initial_weights() -> list[np.ndarray]:
    return _classifier().get_weights()


# -- (a) every array format gives the same model -------------------------------------------------------
FORMATS = {
    "numpy_float64": lambda x, y: (x, y),
    "numpy_float32": lambda x, y: (x.astype(np.float32), y.astype(np.int32)),
    "torch_tensor": lambda x, y: (torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)),
    "pandas": lambda x, y: (pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])]), pd.Series(y, name="y")),
    "nested_lists": lambda x, y: (x.tolist(), y.tolist()),
}


def _fit_evaluate_predict(x, y, weights):
    model = _compiled(weights, metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return history.history["loss"], model.evaluate(x, y, verbose=0), model.predict(x, verbose=0)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_array_format_trains_evaluates_and_predicts_identically(fmt, data, initial_weights):
    x, y = data
    expected_loss, expected_eval, expected_pred = _fit_evaluate_predict(x, y, initial_weights)
    loss, evaluation, pred = _fit_evaluate_predict(*FORMATS[fmt](x, y), initial_weights)
    assert isinstance(pred, np.ndarray) and pred.dtype == np.float32 and pred.shape == (40, CLASSES)
    np.testing.assert_array_equal(pred, expected_pred)
    assert loss == expected_loss
    assert evaluation == expected_eval


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_predict_accepts_every_array_format(fmt, data, initial_weights):
    x, y = data
    model = _compiled(initial_weights)
    np.testing.assert_array_equal(model.predict(FORMATS[fmt](x, y)[0], verbose=0), model.predict(x, verbose=0))


# -- (b) torch Datasets and DataLoaders ---------------------------------------------------------------
def _tensors(x: np.ndarray, y: np.ndarray, *rest: np.ndarray) -> list[torch.Tensor]:
    return [torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y), *(torch.from_numpy(r) for r in rest)]


def _as_source(kind: str, *tensors: torch.Tensor, batch_size: int = 8):
    dataset = TensorDataset(*tensors)
    return dataset if kind == "dataset" else DataLoader(dataset, batch_size=batch_size, shuffle=False)


@pytest.mark.parametrize("kind", ["dataset", "dataloader"])
def test_fit_on_torch_data_matches_fit_on_arrays(kind, data, initial_weights):
    x, y = data
    on_arrays = _compiled(initial_weights)
    arrays_history = on_arrays.fit(x.astype(np.float32), y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    on_torch = _compiled(initial_weights)
    torch_history = on_torch.fit(_as_source(kind, *_tensors(x, y)), batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_close(torch_history.history["loss"], arrays_history.history["loss"], rtol=1e-6)
    for ours, reference in zip(on_torch.get_weights(), on_arrays.get_weights()):
        assert_close(ours, reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["dataset", "dataloader"])
def test_evaluate_and_predict_on_torch_data_match_arrays(kind, data, initial_weights):
    x, y = data
    model = _compiled(initial_weights, metrics=["accuracy"])
    tensors = _tensors(x, y)
    assert_close(model.evaluate(_as_source(kind, *tensors), verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
    x_only = TensorDataset(tensors[0]) if kind == "dataset" else DataLoader(TensorDataset(tensors[0]), batch_size=8)
    assert_close(model.predict(x_only, verbose=0), model.predict(x, verbose=0))
    assert_close(model.predict(_as_source(kind, *tensors), verbose=0), model.predict(x, verbose=0))


class _Stream(torch.utils.data.IterableDataset):
    """Samples in a fixed order, as a generator-backed pipeline yields them."""

    def __init__(self, *tensors: torch.Tensor) -> None:
        self.tensors = tensors

    def __iter__(self):
        yield from zip(*self.tensors)


def test_an_iterable_dataset_trains_in_its_own_order_and_predicts_each_sample_once(data, initial_weights):
    """``shuffle`` (True by default) does not apply to a stream, as in Keras for generators."""
    x, y = data
    on_arrays = _compiled(initial_weights)
    arrays_history = on_arrays.fit(x.astype(np.float32), y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    on_stream = _compiled(initial_weights)
    stream_history = on_stream.fit(_Stream(*_tensors(x, y)), batch_size=8, epochs=2, verbose=0)
    assert_close(stream_history.history["loss"], arrays_history.history["loss"], rtol=1e-6)
    predictions = on_stream.predict(_Stream(_tensors(x, y)[0]), batch_size=8, verbose=0)
    assert predictions.shape == (len(x), CLASSES)
    assert_close(predictions, on_stream.predict(x, verbose=0))


def test_a_stream_on_a_gpu_is_read_by_this_process_alone():
    """Worker processes would each replay the whole stream; a map-style Dataset does get them."""
    from nnkit.training.data import loader_options

    stream = _Stream(torch.zeros(4, 2))
    gpu = torch.device("cuda")
    assert loader_options(stream, 8, shuffle=True, device=gpu) == {"batch_size": 8, "pin_memory": True}
    mapped = loader_options(TensorDataset(torch.zeros(4, 2)), 8, shuffle=True, device=gpu)
    assert mapped["num_workers"] >= 1 and mapped["pin_memory"] and mapped["shuffle"]


@pytest.mark.parametrize("kind", ["dataset", "dataloader"])
def test_third_dataset_tensor_is_the_sample_weight(kind, data, initial_weights, rng):
    x, y = data
    w = rng.uniform(0.0, 3.0, size=len(y)).astype(np.float32)
    source = _as_source(kind, *_tensors(x, y, w))

    scorer = _compiled(initial_weights)
    weighted = scorer.evaluate(x, y, sample_weight=w, verbose=0)
    assert weighted != pytest.approx(scorer.evaluate(x, y, verbose=0))  # the weights matter here
    assert_close(scorer.evaluate(source, verbose=0), weighted, rtol=1e-6)

    on_arrays = _compiled(initial_weights)
    on_arrays.fit(x, y, sample_weight=w, batch_size=8, shuffle=False, verbose=0)
    on_torch = _compiled(initial_weights)
    on_torch.fit(source, batch_size=8, shuffle=False, verbose=0)
    for ours, reference in zip(on_torch.get_weights(), on_arrays.get_weights()):
        assert_close(ours, reference, rtol=1e-6, atol=1e-7)


# -- (c) validation_split: the last fraction, before shuffling ------------------------------------------
def _indexed(n: int) -> ArrayData:
    """Data whose x, y and weights all record the sample index, so any reordering shows."""
    index = torch.arange(n)
    return ArrayData(index.float().reshape(n, 1), index * 10, index.float() + 0.5)


@pytest.mark.parametrize(
    ("n", "split", "n_train"), [(10, 0.2, 8), (10, 0.25, 7), (10, 0.33, 6), (7, 0.5, 3), (100, 0.1, 90), (3, 0.5, 1)]
)
def test_split_keeps_the_first_floor_of_n_times_one_minus_split_for_training(n, split, n_train):
    train, validation = _indexed(n).split(split)
    assert (len(train), len(validation)) == (n_train, n - n_train)
    assert train.x[:, 0].tolist() == list(range(n_train))
    assert validation.x[:, 0].tolist() == list(range(n_train, n))
    assert validation.y.tolist() == [10 * i for i in range(n_train, n)]
    assert validation.sample_weight.tolist() == [i + 0.5 for i in range(n_train, n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 200), split=st.floats(0.01, 0.99))
def test_split_sizes_follow_keras(n, split):
    cut = math.floor(n * (1.0 - split))
    if not 0 < cut < n:
        with pytest.raises(DataError, match="empty training or validation set"):
            _indexed(n).split(split)
        return
    train, validation = _indexed(n).split(split)
    assert (len(train), len(validation)) == (cut, n - cut)
    assert torch.equal(torch.cat([train.x, validation.x]), _indexed(n).x)


def test_fit_validates_on_the_last_rows_even_when_shuffling(data, initial_weights):
    x, y = data  # 40 rows, split 0.25 -> the last 10 validate
    model = _compiled(initial_weights)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=True, validation_split=0.25, verbose=0)
    assert_close(history.history["val_loss"][0], model.evaluate(x[30:], y[30:], verbose=0), rtol=1e-6)
    assert history.history["val_loss"][0] != pytest.approx(model.evaluate(x[:10], y[:10], verbose=0))


# -- (d) batches --------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 20))
def test_unshuffled_batches_are_contiguous_slices_with_a_smaller_last_batch(n, batch_size):
    data = _indexed(n)
    batches = list(data.batches(batch_size, shuffle=False))
    assert len(batches) == data.steps(batch_size) == math.ceil(n / batch_size)
    for i, (x, y, w) in enumerate(batches):
        start, end = i * batch_size, min((i + 1) * batch_size, n)
        assert torch.equal(x, data.x[start:end]) and torch.equal(y, data.y[start:end])
        assert torch.equal(w, data.sample_weight[start:end])
    assert [len(b[0]) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert len(batches[-1][0]) == (n % batch_size or batch_size)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 20))
def test_a_shuffled_epoch_yields_every_sample_exactly_once(n, batch_size):
    batches = list(_indexed(n).batches(batch_size, shuffle=True))
    index = torch.cat([x[:, 0] for x, _, _ in batches]).long()
    assert sorted(index.tolist()) == list(range(n))
    assert torch.equal(torch.cat([y for _, y, _ in batches]), index * 10)  # y and weights follow x
    assert torch.equal(torch.cat([w for _, _, w in batches]), index.float() + 0.5)
    assert [len(b[0]) for b in batches] == [batch_size] * (n // batch_size) + (
        [n % batch_size] if n % batch_size else []
    )


def test_each_shuffled_epoch_draws_a_new_order():
    data = _indexed(50)
    orders = [torch.cat([x[:, 0] for x, _, _ in data.batches(16, shuffle=True)]).tolist() for _ in range(2)]
    assert orders[0] != orders[1]
    assert list(range(50)) not in orders


# -- (e) class weights ----------------------------------------------------------------------------------
LABELS = np.array([0, 2, 2, 1, 0, 2, 2, 2, 1, 0])


def _label_formats(labels: np.ndarray) -> dict[str, torch.Tensor]:
    return {
        "integer": torch.from_numpy(labels),
        "float_integer": torch.from_numpy(labels.astype(np.float32)),
        "one_hot": torch.from_numpy(nnkit.utils.to_categorical(labels, int(labels.max()) + 1)),
    }


@pytest.mark.parametrize("fmt", ["integer", "float_integer", "one_hot"])
def test_class_weight_dict_gives_each_sample_its_class_weight(fmt):
    weights = class_weight_to_sample_weight({0: 1.0, 1: 2.0, 2: 0.25}, _label_formats(LABELS)[fmt])
    assert_close(weights, np.array([1.0, 2.0, 0.25])[LABELS])


def test_classes_missing_from_class_weight_weigh_one():
    assert_close(class_weight_to_sample_weight({2: 3.0}, torch.from_numpy(LABELS)), np.array([1.0, 1.0, 3.0])[LABELS])


def test_binary_column_labels_are_weighted_by_their_class():
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0]])
    assert_close(class_weight_to_sample_weight({0: 0.5, 1: 3.0}, y), [0.5, 3.0, 3.0, 0.5, 3.0])


BALANCED_CASES = [
    (labels, fmt)
    for labels in (LABELS, np.array([0, 2, 2, 0, 2]), np.array([1, 1, 1, 0]))
    for fmt in ("integer", "float_integer", "one_hot")
]
BALANCED_CASES += [(labels, "binary_column") for labels in (np.array([1, 1, 1, 0]), np.array([0, 0, 1, 0, 0, 0]))]


@pytest.mark.parametrize(("labels", "fmt"), BALANCED_CASES, ids=lambda v: v if isinstance(v, str) else str(v.tolist()))
def test_balanced_class_weight_matches_scikit_learn(labels, fmt):
    if fmt == "binary_column":
        y = torch.from_numpy(labels.astype(np.float32).reshape(-1, 1))
    else:
        y = _label_formats(labels)[fmt]
    classes = np.unique(labels)
    table = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=labels)))
    expected = np.array([table[label] for label in labels])
    assert_close(class_weight_to_sample_weight("balanced", y), expected, rtol=1e-6)


def test_fit_with_class_weight_equals_fit_with_the_same_sample_weight(rng):
    x = rng.normal(size=(32, FEATURES))
    y = (x[:, 0] + 0.5 * rng.normal(size=32) > 0).astype(np.float32)

    def binary() -> Sequential:
        return Sequential([Dense(6, activation="tanh", input_dim=FEATURES), Dense(1, activation="sigmoid")])

    weights = binary().get_weights()
    runs = []
    for kwargs in ({"class_weight": {0: 1, 1: 2}}, {"sample_weight": np.where(y == 1, 2.0, 1.0)}, {}):
        model = _compiled(weights, binary(), loss="binary_crossentropy")
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, **kwargs)
        runs.append((history.history["loss"], model.get_weights()))
    (class_loss, class_weights), (sample_loss, sample_weights), (plain_loss, _) = runs
    assert_close(class_loss, sample_loss, rtol=1e-6)
    for ours, reference in zip(class_weights, sample_weights):
        assert_close(ours, reference, rtol=1e-6, atol=1e-7)
    assert class_loss != pytest.approx(plain_loss)  # the class weights did change training


# -- (f) finite checks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(12,), (12, 3), (12, 2, 3)])
def test_check_finite_names_the_first_bad_sample(bad, shape):
    values = torch.ones(shape)
    values[5].view(-1)[-1] = bad
    values[9].view(-1)[0] = bad
    with pytest.raises(DataError, match=r"`x` contains NaN or infinite values \(first in sample 5\)"):
        check_finite(values, "x")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), features=st.integers(1, 5), data=st.data())
def test_check_finite_finds_any_single_bad_value(n, features, data):
    row, column = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, features - 1))
    values = torch.zeros(n, features)
    values[row, column] = data.draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    with pytest.raises(DataError, match=rf"first in sample {row}\)"):
        check_finite(values, "y")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_huge_but_finite_values_are_not_rejected(dtype):
    huge = torch.finfo(dtype).max * 0.9  # 3e38 for float32: the sum overflows, no value is infinite
    values = torch.full((1000, 4), huge, dtype=dtype)
    assert not torch.isfinite(values.sum())
    check_finite(values, "x")
    check_finite(-values, "x")


def test_huge_but_finite_inputs_reach_the_model():
    x = np.full((64, FEATURES), 3e38)
    assert torch.equal(preparation.inputs(x, "x"), torch.full((64, FEATURES), 3e38))
    assert _classifier().predict(x, verbose=0).shape == (64, CLASSES)


def test_integer_data_needs_no_finite_check():
    check_finite(torch.arange(10), "y")


# -- (g) History ------------------------------------------------------------------------------------------
def test_history_logs_sorted_keys_one_python_float_per_epoch(data, initial_weights):
    x, y = data
    model = _compiled(initial_weights, metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == 3 for values in history.history.values())
    assert all(type(value) is float for values in history.history.values() for value in values)
    assert history.epoch == [0, 1, 2]
    assert model.history is history


def test_history_keys_match_keras(keras, data, initial_weights):
    x, y = data
    reference = keras.Sequential(
        [
            keras.Input(shape=(FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    reference.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_history = reference.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    ours = _compiled(initial_weights, metrics=["accuracy"]).fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert list(ours.history) == list(keras_history.history)
    assert [len(v) for v in ours.history.values()] == [len(v) for v in keras_history.history.values()]


def test_history_without_validation_has_no_val_keys(data, initial_weights):
    x, y = data
    history = _compiled(initial_weights, metrics=["accuracy"]).fit(x, y, epochs=2, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -0.5, "heavy"])
def test_a_class_weight_that_is_not_a_finite_non_negative_number_is_refused(weight):
    """NaN or inf class weights trained into NaN weights without an error; now fit refuses them by class."""
    model = nnkit.models.Sequential([nnkit.layers.Input((2,)), nnkit.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    x, y = np.zeros((6, 2), "float32"), np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=r"class_weight for class 1 (is|must be)"):
        model.fit(x, y, class_weight={0: 1.0, 1: weight}, verbose=0)
