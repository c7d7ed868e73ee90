"""Keras's standalone usage, only the imports changed: losses, activations and metrics called on Python lists
and NumPy arrays, initializers asked for a shape, and callbacks that read ``logs`` in every hook."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnkit

A = np.array


def _value(x):
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype="float64")


LOSS_CASES = {
    "BinaryCrossentropy": (lambda m: m.losses.BinaryCrossentropy(), (A([[0, 1], [0, 0]]), A([[0.6, 0.4], [0.4, 0.6]])),
                           {}),
    "CategoricalCrossentropy": (lambda m: m.losses.CategoricalCrossentropy(),
                                (A([[0, 1, 0], [0, 0, 1]]), A([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), {}),
    "SparseCategoricalCrossentropy": (lambda m: m.losses.SparseCategoricalCrossentropy(),
                                      (A([1, 2]), A([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), {}),
    "MeanSquaredError weighted": (lambda m: m.losses.MeanSquaredError(),
                                  (A([[0.0, 1.0], [0.0, 0.0]]), A([[1.0, 1.0], [1.0, 0.0]])),
                                  {"sample_weight": A([0.7, 0.3])}),
    "MeanAbsoluteError sum": (lambda m: m.losses.MeanAbsoluteError(reduction="sum"),
                              (A([[0.0, 1.0], [0.0, 0.0]]), A([[1.0, 1.0], [1.0, 0.0]])), {}),
    "Huber": (lambda m: m.losses.Huber(), (A([[0, 1], [0, 0]]), A([[0.6, 0.4], [0.4, 0.6]])), {}),
    "categorical_crossentropy function": (lambda m: m.losses.categorical_crossentropy,
                                          (A([[0, 1, 0], [0, 0, 1]]), A([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), {}),
    "mean_squared_error function": (lambda m: m.losses.mean_squared_error, (A([[0.0, 1.0]]), A([[1.0, 1.0]])), {}),
}


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_losses_take_numpy_arrays_like_keras(keras, case):
    make, args, kwargs = LOSS_CASES[case]
    expected = _value(keras.ops.convert_to_numpy(make(keras)(*args, **kwargs)))
    actual = make(nnkit)(*args, **kwargs)
    assert isinstance(actual, torch.Tensor)
    np.testing.assert_allclose(_value(actual), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "selu", "softplus",
                                  "softsign", "silu", "exponential", "hard_sigmoid", "relu6", "mish", "celu", "glu",
                                  "hard_shrink", "soft_shrink", "hard_tanh", "log_sigmoid", "tanh_shrink",
                                  "squareplus", "sparse_plus", "sparsemax", "hard_swish", "hard_silu"])
def test_activations_take_lists_like_keras(keras, name):
    values = [[-2.0, -0.5, 0.0, 0.5, 3.0, 1.5]]
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(np.array(values, dtype="float32")))
    actual = getattr(nnkit.activations, name)(values)
    assert actual.dtype == torch.float32
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5, atol=1e-6)


METRIC_CASES = {
    "Accuracy": (lambda m: m.metrics.Accuracy(), ([[1], [2], [3], [4]], [[0], [2], [3], [4]]), {}),
    "SparseCategoricalAccuracy": (lambda m: m.metrics.SparseCategoricalAccuracy(),
                                  (A([[2], [1]]), A([[0.1, 0.6, 0.3], [0.05, 0.95, 0]])), {}),
    "Mean weighted": (lambda m: m.metrics.Mean(), ([1, 3, 5, 7],), {"sample_weight": [1, 1, 0, 0]}),
    "Precision": (lambda m: m.metrics.Precision(), ([0, 1, 1, 1], [1, 0, 1, 1]), {}),
    "Recall": (lambda m: m.metrics.Recall(), ([0, 1, 1, 1], [1, 0, 1, 1]), {}),
    "BinaryAccuracy": (lambda m: m.metrics.BinaryAccuracy(), ([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]), {}),
    "MeanSquaredError": (lambda m: m.metrics.MeanSquaredError(), ([[0, 1], [0, 0]], [[1, 1], [0, 0]]), {}),
    # Keras's docstring examples of the IoU, correlation and threshold metrics.
    "IoU": (lambda m: m.metrics.IoU(num_classes=2, target_class_ids=[0]), ([0, 0, 1, 1], [0, 1, 0, 1]), {}),
    "MeanIoU": (lambda m: m.metrics.MeanIoU(num_classes=2), ([0, 0, 1, 1], [0, 1, 0, 1]), {}),
    "BinaryIoU": (lambda m: m.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3),
                  ([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7]), {"sample_weight": [2, 1, 1, 1]}),
    "OneHotMeanIoU": (lambda m: m.metrics.OneHotMeanIoU(num_classes=3),
                      ([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]],
                       [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]]), {}),
    "PearsonCorrelation": (lambda m: m.metrics.PearsonCorrelation(),
                           ([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]]), {}),
    "ConcordanceCorrelation": (lambda m: m.metrics.ConcordanceCorrelation(),
                               ([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]]), {}),
    "PrecisionAtRecall": (lambda m: m.metrics.PrecisionAtRecall(0.5), ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]),
                          {"sample_weight": [2, 2, 2, 1, 1]}),
    "SensitivityAtSpecificity": (lambda m: m.metrics.SensitivityAtSpecificity(0.5),
                                 ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]), {}),
    "Precision top_k": (lambda m: m.metrics.Precision(top_k=2), ([[0, 0, 1], [0, 1, 0]], [[.2, .3, .5], [.6, .3, .1]]),
                        {}),
    "Recall class_id": (lambda m: m.metrics.Recall(thresholds=0.6, class_id=2),
                        ([[0, 0, 1], [0, 1, 0], [0, 0, 1]], [[.2, .3, .7], [.1, .3, .6], [.2, .3, .5]]), {}),
}


@pytest.mark.parametrize("case", sorted(METRIC_CASES))
def test_metrics_update_from_lists_and_arrays_like_keras(keras, case):
    make, args, kwargs = METRIC_CASES[case]
    k_metric, n_metric = make(keras), make(nnkit)
    k_metric.update_state(*args, **kwargs)
    n_metric.update_state(*args, **kwargs)
    assert float(n_metric.result()) == pytest.approx(float(keras.ops.convert_to_numpy(k_metric.result())), rel=1e-6)
    assert isinstance(n_metric.result(), torch.Tensor) and n_metric.result().dtype == torch.float32  # as Keras's


@pytest.mark.parametrize(("name", "std"), [("GlorotUniform", math.sqrt(2.0 / 500)), ("GlorotNormal", math.sqrt(2.0 / 500)),
                                           ("HeNormal", math.sqrt(2.0 / 200)), ("HeUniform", math.sqrt(2.0 / 200)),
                                           ("LecunNormal", math.sqrt(1.0 / 200)), ("RandomNormal", 0.05),
                                           ("Zeros", 0.0), ("Ones", 0.0)])
def test_initializers_return_a_tensor_of_a_shape_with_keras_fans(keras, name, std):
    """Fans follow Keras's layout: a (200, 300) kernel has 200 inputs and 300 units."""
    ours = getattr(nnkit.initializers, name)()(shape=(200, 300))
    theirs = keras.ops.convert_to_numpy(getattr(keras.initializers, name)()(shape=(200, 300)))
    assert tuple(ours.shape) == theirs.shape and ours.dtype == torch.float32
    assert float(ours.std()) == pytest.approx(float(theirs.std()), rel=0.05, abs=1e-6)
    assert float(ours.std()) == pytest.approx(std, rel=0.05, abs=1e-6)
    assert nnkit.initializers.get("glorot_uniform")((2, 2)).shape == (2, 2)


def test_every_callback_hook_receives_a_dict_of_logs(rng):
    seen = {}

    class Recorder(nnkit.callbacks.Callback):  # Keras's "writing your own callbacks" pattern
        def _record(self, hook, logs):
            seen[hook] = list(logs.keys())

        def on_train_begin(self, logs=None):
            self._record("on_train_begin", logs)

        def on_epoch_begin(self, epoch, logs=None):
            self._record("on_epoch_begin", logs)

        def on_train_batch_begin(self, batch, logs=None):
            self._record("on_train_batch_begin", logs)

        def on_test_begin(self, logs=None):
            self._record("on_test_begin", logs)

        def on_predict_begin(self, logs=None):
            self._record("on_predict_begin", logs)

        def on_epoch_end(self, epoch, logs=None):
            self._record("on_epoch_end", logs)

    model = nnkit.Sequential([nnkit.Input(shape=(3,)), nnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    model.fit(x, y, epochs=1, verbose=0, callbacks=[Recorder()], validation_data=(x, y))
    model.predict(x, verbose=0, callbacks=[Recorder()])
    assert seen["on_train_begin"] == [] and seen["on_epoch_begin"] == [] and seen["on_predict_begin"] == []
    assert seen["on_epoch_end"] == ["loss", "val_loss"]


def test_threshold_and_activations_by_name_in_layers(keras):
    x = [[-2.0, 0.2, 0.7, 3.0]]
    expected = keras.ops.convert_to_numpy(keras.activations.threshold(np.array(x, dtype="float32"), 0.5, -1.0))
    np.testing.assert_allclose(nnkit.activations.threshold(x, 0.5, -1.0).numpy(), expected)
    dense = nnkit.layers.Dense(4, activation="sparsemax")
    probabilities = dense(np.ones((2, 3), dtype="float32")).detach()
    np.testing.assert_allclose(probabilities.sum(dim=-1).numpy(), [1.0, 1.0], rtol=1e-6)


def test_config_and_backend_names(keras):
    assert nnkit.config.backend() == keras.config.backend() == "torch"
    assert nnkit.config.epsilon() == keras.config.epsilon()
    nnkit.config.set_epsilon(1e-3)
    try:
        value = float(nnkit.losses.binary_crossentropy(np.array([1.0]), np.array([0.0])))
    finally:
        nnkit.config.set_epsilon(1e-7)
    assert value == pytest.approx(-math.log(1e-3), rel=1e-6)
    assert nnkit.backend.floatx() == "float32" and str(nnkit.config.dtype_policy().name) == "float32"
    nnkit.backend.clear_session()
    assert nnkit.layers.Dense(1).name == "dense"


def test_pad_sequences_matches_keras(keras):
    sequences = [[1, 2, 3], [4], [5, 6, 7, 8], []]
    for kwargs in ({}, {"maxlen": 2}, {"padding": "post"}, {"maxlen": 3, "truncating": "post", "value": -1}):
        np.testing.assert_array_equal(nnkit.utils.pad_sequences(sequences, **kwargs),
                                      keras.utils.pad_sequences(sequences, **kwargs))
    with pytest.raises(ValueError, match="padding 'pre' or 'post'"):
        nnkit.utils.pad_sequences(sequences, padding="middle")


def test_every_module_with_get_has_serialize_and_deserialize():
    for module, obj in ((nnkit.initializers, nnkit.initializers.HeNormal(seed=3)),
                        (nnkit.regularizers, nnkit.regularizers.L2(0.1)),
                        (nnkit.constraints, nnkit.constraints.MaxNorm(2.0)),
                        (nnkit.losses, nnkit.losses.Huber(delta=2.0)),
                        (nnkit.optimizers, nnkit.optimizers.Adam(learning_rate=0.01)),
                        (nnkit.metrics, nnkit.metrics.MeanAbsoluteError())):
        config = module.serialize(obj)
        again = module.deserialize(config)
        assert type(again) is type(obj) and module.serialize(again) == config
    assert nnkit.activations.deserialize(nnkit.activations.serialize(nnkit.activations.gelu)) is nnkit.activations.gelu


def test_keras_spellings_of_initializers_and_registration_helpers(keras):
    for name in ("glorot_uniform", "he_normal", "lecun_uniform", "orthogonal", "zeros", "identity"):
        assert isinstance(getattr(nnkit.initializers, name)(), nnkit.initializers.Initializer)
    eye = nnkit.initializers.Identity(gain=2.0)(shape=(3, 3))
    np.testing.assert_array_equal(eye.numpy(), keras.ops.convert_to_numpy(keras.initializers.Identity(2.0)(shape=(3, 3))))

    def scaled(x):
        return 2 * x

    nnkit.utils.get_custom_objects()["scaled_for_test"] = scaled
    try:
        assert nnkit.saving.get_registered_object("scaled_for_test") is scaled
        assert nnkit.utils.get_registered_object("other", custom_objects={"other": scaled}) is scaled
    finally:
        del nnkit.utils.get_custom_objects()["scaled_for_test"]
    assert nnkit.utils.is_keras_tensor(nnkit.Input(shape=(2,))) and not nnkit.utils.is_keras_tensor(np.ones(2))
    assert nnkit.utils.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert nnkit.utils.pack_x_y_sample_weight(1, 2) == (1, 2)


LOSS_METRICS = {
    "BinaryCrossentropy": ([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
    "CategoricalCrossentropy": ([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]),
    "SparseCategoricalCrossentropy": ([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]),
    "KLDivergence": ([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
    "Poisson": ([[0, 1], [0, 0]], [[1, 1], [0, 0]]),
    "Hinge": ([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
    "SquaredHinge": ([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
    "CategoricalHinge": ([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
}


@pytest.mark.parametrize("name", sorted(LOSS_METRICS))
def test_losses_as_metrics_match_keras(keras, name):
    y_true, y_pred = (np.array(v, dtype="float32") for v in LOSS_METRICS[name])
    k_metric, n_metric = getattr(keras.metrics, name)(), getattr(nnkit.metrics, name)()
    for metric in (k_metric, n_metric):
        metric.update_state(y_true, y_pred)
        metric.update_state(y_true[:1], y_pred[:1], sample_weight=np.array([0.5], dtype="float32"))
    assert n_metric.name == k_metric.name
    assert float(n_metric.result()) == pytest.approx(float(keras.ops.convert_to_numpy(k_metric.result())), rel=1e-5)


def test_sum_matches_keras(keras):
    k_metric, n_metric = keras.metrics.Sum(), nnkit.metrics.Sum()
    for metric in (k_metric, n_metric):
        metric.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert float(n_metric.result()) == float(keras.ops.convert_to_numpy(k_metric.result())) == 4.0
