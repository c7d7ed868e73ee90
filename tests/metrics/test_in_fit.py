"""Metrics by name in compile(): what they resolve to, how they appear in fit/evaluate logs, and that
the logged values equal scikit-learn on the model's predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support, roc_auc_score

from nnkit import losses, metrics
from nnkit.errors import ConfigError
from nnkit.layers import Dense
from nnkit.models import Sequential


def classifier(units: int, activation: str | None, loss, metric_list, weighted_metrics=None) -> Sequential:
    model = Sequential([Dense(8, activation="relu", input_dim=5), Dense(units, activation=activation)])
    model.compile(loss=loss, optimizer="adam", metrics=metric_list, weighted_metrics=weighted_metrics)
    return model


@pytest.fixture
def data(rng):
    x = rng.normal(size=(240, 5))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.7)  # three classes, unbalanced
    return x[:160], y[:160], x[160:], y[160:]


def test_names_resolve_to_the_right_metric_and_log_name():
    cases = {"acc": metrics.MeanMetricWrapper, "precision": metrics.Precision, "recall": metrics.Recall,
             "f1": metrics.F1Score, "f1_macro": metrics.F1Score, "f1_micro": metrics.F1Score,
             "f1_weighted": metrics.F1Score, "auc": metrics.AUC, "pr_auc": metrics.AUC,
             "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy, "mse": metrics.MeanSquaredError,
             "rmse": metrics.RootMeanSquaredError, "mae": metrics.MeanAbsoluteError,
             "mape": metrics.MeanAbsolutePercentageError, "msle": metrics.MeanSquaredLogarithmicError,
             "r2": metrics.R2Score, "logcosh": metrics.LogCoshError, "cosine_similarity": metrics.CosineSimilarity,
             "true_positives": metrics.TruePositives, "confusion_matrix": metrics.ConfusionMatrix}
    for name, cls in cases.items():
        metric = metrics.get(name)
        assert isinstance(metric, cls) and metric.name == name
    assert metrics.get("f1_weighted").average == "weighted"
    assert metrics.get("pr_auc").curve == "PR"
    assert metrics.get("F1Score").name == "f1_score"  # class spellings log under Keras's default name
    assert metrics.get(metrics.Recall).name == "recall"
    config = {"class_name": "FBetaScore", "config": {"beta": 2.0, "average": "micro"}}
    assert metrics.get(config).beta == 2.0
    with pytest.raises(ConfigError, match="Did you mean 'FBetaScore'"):
        metrics.get({"class_name": "FbetaScore"})


def test_unknown_name_at_compile_suggests_the_closest():
    model = Sequential([Dense(2, input_dim=3)])
    with pytest.raises(ConfigError, match=r"Unknown metric 'precison'\. Did you mean 'precision'"):
        model.compile(loss="mse", metrics=["precison"])
    with pytest.raises(ConfigError, match="Did you mean 'f1_macro'"):
        model.compile(loss="mse", metrics=["f1_marco"])


def test_multiclass_logs_match_sklearn_on_predictions(data):
    x, y, x_val, y_val = data
    model = classifier(3, "softmax", "sparse_categorical_crossentropy",
                       ["accuracy", "precision", "recall", "f1", "f1_micro", "auc", metrics.Precision(average=None)])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x_val, y_val))
    logged = {k: v[-1] for k, v in history.history.items()}
    assert {"precision_0", "precision_1", "precision_2", "val_precision_2", "val_f1", "val_auc"} <= set(logged)
    probs = model.predict(x_val, verbose=0)
    predicted = probs.argmax(1)
    macro = precision_recall_fscore_support(y_val, predicted, average="macro", zero_division=0)
    per_class = precision_recall_fscore_support(y_val, predicted, average=None, labels=[0, 1, 2], zero_division=0)
    assert logged["val_precision"] == pytest.approx(macro[0], abs=1e-6)
    assert logged["val_recall"] == pytest.approx(macro[1], abs=1e-6)
    assert logged["val_f1"] == pytest.approx(macro[2], abs=1e-6)
    assert logged["val_f1_micro"] == pytest.approx(logged["val_accuracy"], abs=1e-6)
    assert logged["val_auc"] == pytest.approx(roc_auc_score(y_val, probs, multi_class="ovr"), abs=1e-6)
    assert [logged[f"val_precision_{c}"] for c in range(3)] == pytest.approx(per_class[0], abs=1e-6)
    evaluated = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert evaluated["f1"] == pytest.approx(macro[2], abs=1e-6)
    assert evaluated["precision_1"] == pytest.approx(per_class[0][1], abs=1e-6)


def test_one_hot_targets_and_weighted_metrics(data):
    x, y, x_val, y_val = data
    model = classifier(3, "softmax", "categorical_crossentropy", ["f1_weighted"], weighted_metrics=["f1_weighted"])
    model.fit(x, np.eye(3)[y], epochs=1, verbose=0)
    weight = np.linspace(0.1, 2.0, len(y_val))
    logs = model.evaluate(x_val, np.eye(3)[y_val], sample_weight=weight, verbose=0, return_dict=True)
    predicted = model.predict(x_val, verbose=0).argmax(1)
    assert logs["f1_weighted"] == pytest.approx(f1_score(y_val, predicted, average="weighted"), abs=1e-6)
    assert logs["weighted_f1_weighted"] == pytest.approx(
        f1_score(y_val, predicted, average="weighted", sample_weight=weight), abs=1e-6)


def test_binary_sigmoid_and_logit_outputs(data):
    x, y, x_val, y_val = data
    y, y_val = (y > 0).astype(np.float32), (y_val > 0).astype(np.float32)
    names = ["precision", "recall", "f1", "auc"]
    for activation, loss in (("sigmoid", "binary_crossentropy"),
                             (None, losses.BinaryCrossentropy(from_logits=True))):
        model = classifier(1, activation, loss, names)
        model.fit(x, y, epochs=1, verbose=0)
        logs = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
        scores = model.predict(x_val, verbose=0)[:, 0]
        predicted = scores > (0.5 if activation else 0.0)
        expected = precision_recall_fscore_support(y_val, predicted, average="binary", zero_division=0)
        assert [logs[n] for n in names[:3]] == pytest.approx(expected[:3], abs=1e-6)
        assert logs["auc"] == pytest.approx(roc_auc_score(y_val, scores), abs=1e-6)


def test_sparse_labels_with_logits_loss_read_auc_through_softmax(data):
    x, y, x_val, y_val = data
    model = classifier(3, None, losses.SparseCategoricalCrossentropy(from_logits=True), ["auc", "f1"])
    model.fit(x, y, epochs=1, verbose=0)
    logs = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    logits = model.predict(x_val, verbose=0)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert logs["auc"] == pytest.approx(roc_auc_score(y_val, probs, multi_class="ovr"), abs=1e-6)
    assert logs["f1"] == pytest.approx(f1_score(y_val, logits.argmax(1), average="macro"), abs=1e-6)


def test_multilabel_outputs_under_binary_crossentropy_are_thresholded(rng):
    x = rng.normal(size=(120, 5))
    y = (x[:, :3] > 0).astype(np.float32)
    model = classifier(3, "sigmoid", "binary_crossentropy", ["f1", "precision_micro"])
    model.fit(x, y, epochs=2, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    predicted = model.predict(x, verbose=0) > 0.5
    assert logs["f1"] == pytest.approx(f1_score(y, predicted, average="macro", zero_division=0), abs=1e-6)
    assert logs["precision_micro"] == pytest.approx(
        precision_recall_fscore_support(y, predicted, average="micro", zero_division=0)[0], abs=1e-6)


def test_incompatible_metrics_fail_before_training(data):
    x, y, _, _ = data
    for entry, message in ((metrics.F1Score(average="binary"), "average='binary'"),
                           ("top_k_categorical_accuracy", "k=5"), ("mae", "integer class labels")):
        model = classifier(3, "softmax", "sparse_categorical_crossentropy", [entry])
        before = [w.copy() for w in model.get_weights()]
        with pytest.raises(ConfigError, match=message):
            model.fit(x, y, epochs=1, verbose=0)
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
