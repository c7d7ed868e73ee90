"""What metrics return, as under Keras on the torch backend: ``result()`` is a float32 torch tensor (a scalar,
or one value per class), the function forms are Keras's, and fit/evaluate still log Python floats."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from nnkit import callbacks, metrics
from nnkit.layers import Dense
from nnkit.models import Sequential


def keras_array(value) -> np.ndarray:
    return np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)


@pytest.fixture
def data(rng):
    labels = rng.integers(0, 3, size=40)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    probs = rng.dirichlet(np.ones(3), size=40).astype(np.float32)
    binary = (rng.random((40, 1)) < 0.5).astype(np.float32)
    scores = rng.random((40, 1)).astype(np.float32)
    values = rng.normal(size=(40, 2)).astype(np.float32)
    return {"labels": labels, "one_hot": one_hot, "probs": probs, "binary": binary, "scores": scores,
            "values": values, "other": (values + rng.normal(size=(40, 2))).astype(np.float32),
            "weight": rng.random(40).astype(np.float32)}


# (class name, constructor kwargs, y_true key, y_pred key): Keras and nnkit compute the same thing here.
CASES = [
    ("BinaryAccuracy", {}, "binary", "scores"), ("CategoricalAccuracy", {}, "one_hot", "probs"),
    ("SparseCategoricalAccuracy", {}, "labels", "probs"), ("TopKCategoricalAccuracy", {"k": 2}, "one_hot", "probs"),
    ("MeanSquaredError", {}, "values", "other"), ("RootMeanSquaredError", {}, "values", "other"),
    ("MeanAbsoluteError", {}, "values", "other"), ("LogCoshError", {}, "values", "other"),
    ("CosineSimilarity", {}, "values", "other"), ("R2Score", {}, "values", "other"),
    ("R2Score", {"class_aggregation": None}, "values", "other"), ("AUC", {"num_thresholds": 50}, "binary", "scores"),
    ("Precision", {}, "binary", "scores"), ("Recall", {"thresholds": [0.3, 0.6]}, "one_hot", "probs"),
    ("TruePositives", {}, "binary", "scores"), ("FalseNegatives", {}, "binary", "scores"),
    ("F1Score", {}, "one_hot", "probs"), ("FBetaScore", {"beta": 2.0}, "one_hot", "probs"),
    ("F1Score", {"average": "macro"}, "one_hot", "probs"), ("BinaryCrossentropy", {}, "binary", "scores"),
    ("CategoricalCrossentropy", {}, "one_hot", "probs"), ("KLDivergence", {}, "one_hot", "probs"),
    ("MeanIoU", {"num_classes": 3, "sparse_y_pred": False}, "labels", "probs"),
    ("PearsonCorrelation", {}, "values", "other"), ("PrecisionAtRecall", {"recall": 0.5}, "binary", "scores"),
]


@pytest.mark.parametrize("name, kwargs, true_key, pred_key", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_result_is_a_float32_tensor_equal_to_keras(keras, data, name, kwargs, true_key, pred_key):
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    y_true, y_pred = data[true_key], data[pred_key]
    for part in (slice(0, 15), slice(15, 40)):  # two batches, the second weighted
        weight = {} if part.start == 0 else {"sample_weight": data["weight"][part]}
        if name == "MeanIoU":
            weight = {}  # Keras's integer confusion matrix truncates float weights (see test_iou.py)
        ours.update_state(y_true[part], y_pred[part], **weight)
        theirs.update_state(y_true[part], y_pred[part], **weight)
    result, expected = ours.result(), keras_array(theirs.result())
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32
    assert tuple(result.shape) == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=2e-5, atol=2e-6)


def test_mean_and_sum_return_tensors_like_keras(keras):
    for name in ("Mean", "Sum"):
        ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
        assert ours.result().dtype == torch.float32 and float(ours.result()) == float(theirs.result()) == 0.0
        for metric in (ours, theirs):
            metric.update_state([1.0, 3.0, 5.0], sample_weight=[1.0, 0.5, 0.0])
        assert float(ours.result()) == pytest.approx(float(theirs.result()))
        assert ours([2.0]).shape == ()  # calling a metric returns the running result


def test_f1_and_fbeta_default_to_one_score_per_class_like_keras(keras, data):
    for make in (lambda m: m.F1Score(), lambda m: m.FBetaScore(beta=0.5)):
        ours, theirs = make(metrics), make(keras.metrics)
        assert ours.average is None
        ours.update_state(data["one_hot"], data["probs"], sample_weight=data["weight"])
        theirs.update_state(data["one_hot"], data["probs"], sample_weight=data["weight"])
        np.testing.assert_allclose(ours.result().numpy(), keras_array(theirs.result()), rtol=1e-5, atol=1e-6)
    assert metrics.get("f1").average == "auto"  # nnkit's compile shortcut keeps one number


LOSS_FUNCTIONS = {
    "binary_crossentropy": ("binary", "scores"), "categorical_crossentropy": ("one_hot", "probs"),
    "sparse_categorical_crossentropy": ("labels", "probs"), "categorical_hinge": ("one_hot", "probs"),
    "hinge": ("binary", "scores"), "squared_hinge": ("binary", "scores"), "huber": ("values", "other"),
    "log_cosh": ("values", "other"), "kl_divergence": ("one_hot", "probs"), "poisson": ("one_hot", "probs"),
    "mean_absolute_error": ("values", "other"), "mean_absolute_percentage_error": ("values", "other"),
    "mean_squared_error": ("values", "other"), "mean_squared_logarithmic_error": ("one_hot", "probs"),
    "pearson_correlation": ("values", "other"), "concordance_correlation": ("values", "other"),
    "binary_focal_crossentropy": ("binary", "scores"), "categorical_focal_crossentropy": ("one_hot", "probs"),
}


@pytest.mark.parametrize("name", sorted(LOSS_FUNCTIONS))
def test_function_forms_match_keras_metrics(keras, data, name):
    true_key, pred_key = LOSS_FUNCTIONS[name]
    ours = getattr(metrics, name)(data[true_key], data[pred_key])
    theirs = keras_array(getattr(keras.metrics, name)(data[true_key], data[pred_key]))
    assert isinstance(ours, torch.Tensor) and tuple(ours.shape) == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6)
    assert name in metrics.__all__


def test_fit_and_evaluate_log_python_floats_one_per_class(rng, tmp_path):
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)]
    model = Sequential([Dense(3, activation="softmax", input_dim=4)])
    model.compile(loss="categorical_crossentropy", optimizer="adam",
                  metrics=[metrics.F1Score(), metrics.AUC(), metrics.MeanIoU(3, sparse_y_true=False, sparse_y_pred=False)])
    log_file = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, batch_size=20, validation_data=(x, y), verbose=0,
                        callbacks=[callbacks.CSVLogger(str(log_file)),
                                   callbacks.EarlyStopping(monitor="val_f1_score_2", mode="max", patience=5)])
    per_class = [f"f1_score_{c}" for c in range(3)]
    assert set(per_class) | {"auc", "mean_io_u", "loss"} | {f"val_{k}" for k in per_class} <= set(history.history)
    assert all(isinstance(v, float) for values in history.history.values() for v in values)
    with open(log_file) as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["val_f1_score_2"]) == pytest.approx(history.history["val_f1_score_2"][-1])
    logs = model.evaluate(x, y, batch_size=20, return_dict=True, verbose=0)
    assert all(isinstance(v, float) for v in logs.values())
    expected = metrics.F1Score()(y, model.predict(x, verbose=0))
    np.testing.assert_allclose([logs[k] for k in per_class], expected.numpy(), rtol=1e-5)
    as_list = model.evaluate(x, y, batch_size=20, verbose=0)
    # Keras's order (loss, then compile order) with the per-class vector spread in place of Keras's array.
    assert as_list == [logs[k] for k in ("loss", *per_class, "auc", "mean_io_u")]


def test_a_custom_test_step_returning_metric_results_logs_one_float_per_class(rng):
    import nnkit

    class CustomModel(nnkit.Model):
        def test_step(self, data):  # as Keras's guide writes it
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                metric.update_state(loss) if metric.name == "loss" else metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = nnkit.Input(shape=(4,))
    model = CustomModel(inputs, nnkit.layers.Dense(3, activation="softmax")(inputs))
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=[metrics.F1Score()])
    x = rng.normal(size=(30, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=30)]
    logs = model.evaluate(x, y, batch_size=30, return_dict=True, verbose=0)
    expected = metrics.F1Score()(y, model.predict(x, verbose=0))
    assert all(isinstance(v, float) for v in logs.values())
    np.testing.assert_allclose([logs[f"f1_score_{c}"] for c in range(3)], expected.numpy(), rtol=1e-5)


def test_new_metrics_survive_save_and_load(rng, tmp_path):
    import nnkit

    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=32)]
    model = Sequential([Dense(3, activation="softmax", input_dim=4)])
    model.compile(loss="categorical_crossentropy", optimizer="sgd",
                  metrics=[metrics.OneHotMeanIoU(3), metrics.Precision(thresholds=[0.2, 0.5], name="p"),
                           metrics.ConcordanceCorrelation(), metrics.SpecificityAtSensitivity(0.4, num_thresholds=20)])
    model.save(tmp_path / "model.keras")
    loaded = nnkit.models.load_model(tmp_path / "model.keras")
    expected = model.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    assert set(expected) == {"loss", "one_hot_mean_io_u", "p_0", "p_1", "concordance_correlation",
                             "specificity_at_sensitivity"}
    assert loaded.evaluate(x, y, batch_size=32, return_dict=True, verbose=0) == pytest.approx(expected)
