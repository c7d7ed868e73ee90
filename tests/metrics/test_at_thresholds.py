"""Keras's threshold metrics (PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity,
SpecificityAtSensitivity) and Precision/Recall with Keras's thresholds/top_k/class_id, against Keras 3
on the same inputs, streamed in batches, with sample weights; plus a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit import metrics
from nnkit.errors import ConfigError, DataError

AT_THRESHOLD = [("PrecisionAtRecall", 0.6), ("RecallAtPrecision", 0.55), ("SensitivityAtSpecificity", 0.5),
                ("SpecificityAtSensitivity", 0.7)]
PARTS = (slice(0, 9), slice(9, 10), slice(10, 48), slice(48, 60))


def compare(ours, theirs, y_true, y_pred, weight=None) -> torch.Tensor:
    for part in PARTS:
        kwargs = {} if weight is None else {"sample_weight": weight[part]}
        ours.update_state(y_true[part], y_pred[part], **kwargs)
        theirs.update_state(y_true[part], y_pred[part], **kwargs)
    result = ours.result()
    np.testing.assert_allclose(np.asarray(result), np.asarray(theirs.result()), rtol=1e-6, atol=1e-7)
    return result


@pytest.mark.parametrize("name, value", AT_THRESHOLD)
@pytest.mark.parametrize("num_thresholds", [200, 1, 2, 7])
def test_binary_scores_stream_like_keras(keras, rng, name, value, num_thresholds):
    y_true = (rng.random((60, 1)) < 0.45).astype(np.float32)
    y_pred = np.clip(rng.random((60, 1)) * 0.7 + y_true * 0.3, 0, 1).astype(np.float32)
    y_pred[:4] = [[0.0], [0.5], [1.0], [1 / 6]]  # scores on thresholds
    weight = (rng.random(60) * 2).astype(np.float32)
    for w in (None, weight):
        result = compare(getattr(metrics, name)(value, num_thresholds=num_thresholds),
                         getattr(keras.metrics, name)(value, num_thresholds=num_thresholds), y_true, y_pred, w)
        assert result.dtype == torch.float32 and result.shape == ()


@pytest.mark.parametrize("name, value", AT_THRESHOLD)
def test_multi_column_pooled_and_class_id_like_keras(keras, rng, name, value):
    y_true = (rng.random((60, 3)) < 0.4).astype(np.float32)
    y_pred = rng.random((60, 3)).astype(np.float32)
    weight = rng.random((60, 1)).astype(np.float32)
    for kwargs in ({}, {"class_id": 2}):
        for w in (None, weight):
            compare(getattr(metrics, name)(value, num_thresholds=50, **kwargs),
                    getattr(keras.metrics, name)(value, num_thresholds=50, **kwargs), y_true, y_pred, w)


def test_integer_labels_read_as_one_hot(rng):
    labels = rng.integers(0, 3, size=40)
    y_pred = rng.random((40, 3)).astype(np.float32)
    for name, value in AT_THRESHOLD:
        from_labels = getattr(metrics, name)(value, class_id=1)(labels, y_pred)
        from_one_hot = getattr(metrics, name)(value, class_id=1)(np.eye(3)[labels], y_pred)
        assert float(from_labels) == float(from_one_hot)


def test_precision_at_recall_by_hand():
    # Thresholds 0, 0.5, 1 (num_thresholds=3). Scores above 0: all five; above 0.5: the two 0.8s.
    y_true, y_pred = [0, 0, 1, 1, 1], [0.2, 0.8, 0.3, 0.8, 0.6]
    # threshold 0: recall 1, precision 3/5; threshold 0.5: recall 2/3, precision 2/3; threshold 1: nothing.
    assert float(metrics.PrecisionAtRecall(0.9, num_thresholds=3)(y_true, y_pred)) == pytest.approx(0.6)
    assert float(metrics.PrecisionAtRecall(0.6, num_thresholds=3)(y_true, y_pred)) == pytest.approx(2 / 3)
    assert float(metrics.RecallAtPrecision(0.65, num_thresholds=3)(y_true, y_pred)) == pytest.approx(2 / 3)
    assert float(metrics.RecallAtPrecision(0.99, num_thresholds=3)(y_true, y_pred)) == 0.0  # no threshold qualifies


def test_configs_names_and_errors(keras):
    for name, value in AT_THRESHOLD:
        ours, theirs = getattr(metrics, name)(value, num_thresholds=10, class_id=1), \
            getattr(keras.metrics, name)(value, num_thresholds=10, class_id=1)
        keras_config = {k: v for k, v in theirs.get_config().items() if k not in ("dtype", "name")}
        assert {k: v for k, v in ours.get_config().items() if k != "name"} == keras_config
        assert theirs.name.startswith(ours.name)
        assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
        assert isinstance(metrics.get({"class_name": name, "config": ours.get_config()}), type(ours))
        with pytest.raises(ConfigError, match=r"in the range \[0, 1\]"):
            getattr(metrics, name)(1.5)
        with pytest.raises(ConfigError, match="num_thresholds to be an int > 0"):
            getattr(metrics, name)(0.5, num_thresholds=0)
    with pytest.raises(ConfigError, match=r"class_id=3.*\[0, 2\]"):
        metrics.PrecisionAtRecall(0.5, class_id=3).update_state(np.eye(3), np.eye(3))
    with pytest.raises(DataError, match=r"\(samples, classes\)"):
        metrics.PrecisionAtRecall(0.5, class_id=0).update_state([1, 0], [0.3, 0.4])


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
@pytest.mark.parametrize("kwargs", [{"top_k": 1}, {"top_k": 2}, {"top_k": 2, "class_id": 1}, {"thresholds": 0.4},
                                    {"thresholds": [0.2, 0.5, 0.9]}, {"thresholds": [0.0, 0.5, 1.0]},
                                    {"thresholds": [0.7, 0.1], "class_id": 0}, {"top_k": 2, "thresholds": 0.3}])
def test_precision_recall_keras_definitions(keras, rng, cls, kwargs):
    y_true = (rng.random((60, 4)) < 0.35).astype(np.float32)
    y_pred = rng.random((60, 4)).astype(np.float32)
    weight = rng.random(60).astype(np.float32)
    for w in (None, weight):
        result = compare(getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs), y_true, y_pred, w)
        assert result.dtype == torch.float32
        thresholds = kwargs.get("thresholds")
        assert result.shape == ((len(thresholds),) if isinstance(thresholds, list) else ())


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
@pytest.mark.parametrize("top_k", [1, 3, 6])
def test_top_k_of_one_dimensional_predictions_ranks_all_of_them_as_keras(keras, rng, cls, top_k):
    y_true = (rng.random(8) < 0.5).astype(np.float32)
    y_pred = rng.random(8).astype(np.float32)
    ours, theirs = getattr(metrics, cls)(top_k=top_k), getattr(keras.metrics, cls)(top_k=top_k)
    for part in (slice(0, 6), slice(2, 8)):  # each batch is one ranking, as in Keras
        ours.update_state(y_true[part], y_pred[part])
        theirs.update_state(y_true[part], y_pred[part])
    np.testing.assert_allclose(np.asarray(ours.result()), np.asarray(theirs.result()), rtol=1e-6)
    with pytest.raises(ConfigError, match=r"top_k=9.*only 8"):
        getattr(metrics, cls)(top_k=9).update_state(y_true, y_pred)


def test_precision_keras_config_and_argument_errors(keras):
    ours = metrics.Precision(thresholds=[0.3, 0.6], class_id=1)
    theirs = keras.metrics.Precision(thresholds=[0.3, 0.6], class_id=1)
    config = ours.get_config()
    assert {k: config[k] for k in ("thresholds", "top_k", "class_id")} == \
        {k: theirs.get_config()[k] for k in ("thresholds", "top_k", "class_id")}
    assert metrics.Precision.from_config(config).get_config() == config
    with pytest.raises(ConfigError, match=r"threshold values in \[0, 1\]"):
        metrics.Recall(thresholds=[0.5, 1.2])
    with pytest.raises(ConfigError, match="top_k to be a positive int"):
        metrics.Precision(top_k=0)
    with pytest.raises(ConfigError, match="pass one or the other"):
        metrics.Precision(top_k=2, average="macro")
    with pytest.raises(ConfigError, match=r"top_k=5.*only 3"):
        metrics.Precision(top_k=5).update_state(np.eye(3), np.eye(3))


def test_keras_precision_with_several_thresholds_logs_one_entry_per_threshold(rng):
    from nnkit.layers import Dense
    from nnkit.models import Sequential

    x = rng.normal(size=(48, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = Sequential([Dense(1, activation="sigmoid", input_dim=4)])
    model.compile(loss="binary_crossentropy", optimizer="sgd",
                  metrics=[metrics.Precision(thresholds=[0.3, 0.7]), metrics.PrecisionAtRecall(0.5)])
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    logs = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    assert {"precision_0", "precision_1", "precision_at_recall"} <= set(history.history)
    predicted = model.predict(x, verbose=0)
    reference = metrics.Precision(thresholds=[0.3, 0.7])(y, predicted)
    assert [logs["precision_0"], logs["precision_1"]] == pytest.approx(reference.tolist(), rel=1e-6)
    assert all(isinstance(v, float) for v in logs.values())
