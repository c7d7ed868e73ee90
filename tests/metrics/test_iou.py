"""IoU metrics against Keras 3 on the same inputs: every variant, streamed in batches, with sample weights,
ignored classes, segmentation-shaped labels, and inside fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnkit import metrics
from nnkit.errors import ConfigError, DataError


def keras_value(metric) -> float:
    return float(np.asarray(metric.result()))


def stream_both(ours, theirs, batches) -> tuple[torch.Tensor, float]:
    for args, kwargs in batches:
        ours.update_state(*args, **kwargs)
        theirs.update_state(*args, **kwargs)
    return ours.result(), keras_value(theirs)


def split(n: int, rng) -> list[slice]:
    cuts = sorted(rng.choice(np.arange(1, n), size=3, replace=False))
    return [slice(a, b) for a, b in zip([0, *cuts], [*cuts, n])]


@pytest.mark.parametrize("ignore_class", [None, 0, 2])
def test_mean_iou_and_iou_stream_like_keras(keras, rng, ignore_class):
    n, classes = 60, 4
    y_true, y_pred = rng.integers(0, classes, size=n), rng.integers(0, classes, size=n)
    weight = rng.integers(0, 3, size=n).astype(np.float32)  # integer-valued: Keras's int confusion matrix agrees
    for make in (lambda m: m.MeanIoU(classes, ignore_class=ignore_class),
                 lambda m: m.IoU(classes, target_class_ids=[1, 3], ignore_class=ignore_class)):
        for w in (None, weight):
            batches = [((y_true[s], y_pred[s]), {} if w is None else {"sample_weight": w[s]}) for s in split(n, rng)]
            ours, theirs = stream_both(make(metrics), make(keras.metrics), batches)
            assert ours.dtype == torch.float32 and ours.shape == ()
            assert float(ours) == pytest.approx(theirs, rel=1e-6, abs=1e-7)


def test_iou_hand_computed():
    # class 0: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 1, fp 1, fn 1 -> 1/3; class 2 never appears: left out.
    m = metrics.MeanIoU(num_classes=3)
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    assert float(m.result()) == pytest.approx(1 / 3, rel=1e-6)
    m.update_state([2], [2], sample_weight=[0.0])  # a zero weight adds nothing
    assert float(m.result()) == pytest.approx(1 / 3, rel=1e-6)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_float_sample_weights_count_as_given_like_keras_float32(keras, rng):
    y_true, y_pred = rng.integers(0, 3, size=40), rng.integers(0, 3, size=40)
    weight = rng.random(40).astype(np.float32)
    ours = metrics.MeanIoU(3)(y_true, y_pred, sample_weight=weight)
    theirs = keras.metrics.MeanIoU(3, dtype="float32")(y_true, y_pred, sample_weight=weight)
    assert float(ours) == pytest.approx(float(np.asarray(theirs)), rel=1e-6)


def test_segmentation_maps_and_per_pixel_weights(keras, rng):
    y_true = rng.integers(0, 3, size=(4, 5, 6))
    scores = rng.random((4, 5, 6, 3)).astype(np.float32)
    onehot = np.eye(3, dtype=np.float32)[y_true]
    pixel_weight = rng.integers(0, 3, size=(4, 5, 6)).astype(np.float32)
    cases = [
        (lambda m: m.MeanIoU(3, sparse_y_pred=False), (y_true, scores)),
        (lambda m: m.OneHotMeanIoU(3), (onehot, scores)),
        (lambda m: m.OneHotIoU(3, target_class_ids=[0, 2]), (onehot, scores)),
        (lambda m: m.MeanIoU(3, sparse_y_true=False, sparse_y_pred=False, ignore_class=1), (onehot, scores)),
    ]
    for make, args in cases:
        for kwargs in ({}, {"sample_weight": pixel_weight}):
            ours, theirs = stream_both(make(metrics), make(keras.metrics), [(args, kwargs)])
            assert float(ours) == pytest.approx(theirs, rel=1e-6)
    # One weight per image is spread over its pixels (Keras would need it repeated per pixel).
    image_weight = np.array([1.0, 0.0, 2.0, 1.0], dtype=np.float32)
    ours = metrics.MeanIoU(3, sparse_y_pred=False)(y_true, scores, sample_weight=image_weight)
    theirs = keras.metrics.MeanIoU(3, sparse_y_pred=False)(
        y_true, scores, sample_weight=np.broadcast_to(image_weight[:, None, None], y_true.shape))
    assert float(ours) == pytest.approx(float(np.asarray(theirs)), rel=1e-6)


def test_binary_iou_thresholds_scores_like_keras(keras, rng):
    y_true = (rng.random((50, 1)) < 0.4).astype(np.float32)
    y_pred = rng.random((50, 1)).astype(np.float32)
    y_pred[:5] = 0.3  # exactly on the threshold: Keras predicts 1 (>=)
    weight = rng.integers(0, 3, size=50).astype(np.float32)
    for kwargs in ({}, {"target_class_ids": [1], "threshold": 0.3}, {"target_class_ids": [0]}):
        for w in (None, weight):
            extra = {} if w is None else {"sample_weight": w}
            batches = [((y_true[s], y_pred[s]), {k: v[s] for k, v in extra.items()}) for s in split(50, rng)]
            ours, theirs = stream_both(metrics.BinaryIoU(**kwargs), keras.metrics.BinaryIoU(**kwargs), batches)
            assert float(ours) == pytest.approx(theirs, rel=1e-6)


def test_out_of_range_labels_are_skipped_like_keras(keras):
    y_true, y_pred = [0, 1, 5, -1, 2], [0, 1, 1, 2, 7]
    ours = metrics.MeanIoU(3)(y_true, y_pred)
    assert float(ours) == pytest.approx(float(np.asarray(keras.metrics.MeanIoU(3)(y_true, y_pred))), rel=1e-6)
    assert float(ours) == pytest.approx(1.0, rel=1e-6)  # only (0, 0) and (1, 1) are counted


def test_names_configs_and_registry(keras):
    made = [metrics.IoU(3, [0, 2]), metrics.MeanIoU(3, ignore_class=0), metrics.BinaryIoU(threshold=0.4),
            metrics.OneHotIoU(3, [1]), metrics.OneHotMeanIoU(4, sparse_y_pred=True)]
    theirs = [keras.metrics.IoU(3, [0, 2]), keras.metrics.MeanIoU(3, ignore_class=0),
              keras.metrics.BinaryIoU(threshold=0.4), keras.metrics.OneHotIoU(3, [1]),
              keras.metrics.OneHotMeanIoU(4, sparse_y_pred=True)]
    for ours, ref in zip(made, theirs):
        config = ours.get_config()
        keras_config = {k: v for k, v in ref.get_config().items() if k not in ("dtype", "name")}
        assert {k: v for k, v in config.items() if k != "name"} == keras_config
        clone = type(ours).from_config(config)
        assert clone.get_config() == config
        assert metrics.get({"class_name": type(ours).__name__, "config": config}).get_config() == config
    # Keras's default names (Keras appends _1, _2, ... to repeated names in a session; nnkit does not).
    assert [m.name for m in made] == ["io_u", "mean_io_u", "binary_io_u", "one_hot_io_u", "one_hot_mean_io_u"]
    assert [ref.name.split("_io_u")[0] for ref in theirs][1:] == ["mean", "binary", "one_hot", "one_hot_mean"]
    assert metrics.METRICS.get("mean_io_u") is metrics.MeanIoU


def test_bad_arguments_and_inputs_are_explained():
    with pytest.raises(ConfigError, match=r"target class id 3 is out of range.*\[0, 3\)"):
        metrics.IoU(3, target_class_ids=[0, 3])
    with pytest.raises(ConfigError, match="num_classes to be an int >= 1"):
        metrics.MeanIoU(0)
    with pytest.raises(ConfigError, match=r"'mean_io_u' needs num_classes.*MeanIoU\(num_classes=\.\.\.\)"):
        metrics.get("mean_io_u")  # a name cannot give the number of classes (Keras fails here too)
    with pytest.raises(DataError, match=r"one target label per predicted label.*\(4,\).*\(3,\)"):
        metrics.MeanIoU(3).update_state([0, 1, 2, 1], [0, 1, 2])
    with pytest.raises(DataError, match="sample_weight"):
        metrics.MeanIoU(3).update_state([0, 1, 2, 1], [0, 1, 2, 1], sample_weight=[1.0, 2.0, 3.0])


def test_mean_iou_in_fit_matches_keras_on_the_same_predictions(keras, rng):
    from nnkit.layers import Dense
    from nnkit.models import Sequential

    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    model = Sequential([Dense(3, activation="softmax", input_dim=5)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                  metrics=[metrics.MeanIoU(3, sparse_y_pred=False)])
    logs = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    predicted = model.predict(x, verbose=0)
    reference = keras.metrics.MeanIoU(3, sparse_y_pred=False)(y, predicted)
    assert isinstance(logs["mean_io_u"], float)
    assert logs["mean_io_u"] == pytest.approx(float(np.asarray(reference)), rel=1e-5)
