"""The fit arguments training control relies on, against Keras on the same weights: class and sample weights,
initial_epoch, steps_per_epoch, validation_freq and gradient clipping."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

import nnkit
from nnkit.callbacks import LambdaCallback
from nnkit.layers import Dense
from tests.helpers import assert_close


def _pair(keras, units=3, features=5, optimizer=("SGD", {"learning_rate": 0.1}), loss="categorical_crossentropy"):
    k_model = keras.Sequential([keras.Input(shape=(features,)), keras.layers.Dense(units, activation="softmax")])
    n_model = nnkit.Sequential([nnkit.Input(shape=(features,)), Dense(units, activation="softmax")])
    n_model.set_weights(k_model.get_weights())
    name, kwargs = optimizer
    k_model.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss=loss)
    n_model.compile(optimizer=getattr(nnkit.optimizers, name)(**kwargs), loss=loss)
    return n_model, k_model


def _data(rng, n=60, features=5, classes=3):
    x = rng.normal(size=(n, features)).astype(np.float32)
    labels = rng.choice(classes, size=n, p=[0.6, 0.3, 0.1])
    return x, labels, nnkit.utils.to_categorical(labels, classes)


def _same_fit(n_model, k_model, *args, rtol=1e-5, **kwargs):
    kwargs = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0, **kwargs}
    n_hist = n_model.fit(*args, **kwargs)
    k_hist = k_model.fit(*args, **kwargs)
    assert n_hist.epoch == k_hist.epoch and list(n_hist.history) == list(k_hist.history)
    for key in k_hist.history:
        assert_close(n_hist.history[key], k_hist.history[key], rtol=rtol)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=rtol, atol=1e-6)
    return n_hist


def test_balanced_class_weight_equals_keras_with_scikit_learns_weights(keras, rng):
    x, labels, y = _data(rng)
    n_model, k_model = _pair(keras)
    table = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    n_hist = n_model.fit(x, y, class_weight="balanced", epochs=3, batch_size=16, shuffle=False, verbose=0)
    k_hist = k_model.fit(x, y, class_weight=dict(enumerate(table)), epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert_close(n_hist.history["loss"], k_hist.history["loss"], rtol=1e-5)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_class_weight_dict_and_sample_weight_match_keras(keras, rng):
    x, _, y = _data(rng)
    n_model, k_model = _pair(keras)
    _same_fit(n_model, k_model, x, y, class_weight={0: 0.5, 1: 2.0, 2: 4.0})
    _same_fit(n_model, k_model, x, y, sample_weight=rng.random(len(x)).astype(np.float32))


def test_initial_epoch_numbers_epochs_like_keras(keras, rng):
    x, _, y = _data(rng)
    n_model, k_model = _pair(keras)
    seen = []
    probe = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    hist = n_model.fit(x, y, epochs=5, initial_epoch=2, verbose=0, callbacks=[probe])
    assert hist.epoch == seen == [2, 3, 4] == k_model.fit(x, y, epochs=5, initial_epoch=2, verbose=0).epoch
    assert n_model.optimizer.iterations == 3 * 2  # 60 rows in batches of 32


def test_validation_freq_matches_keras(keras, rng):
    x, _, y = _data(rng)
    n_model, k_model = _pair(keras)
    hist = _same_fit(n_model, k_model, x, y, epochs=4, validation_split=0.25, validation_freq=2)
    assert len(hist.history["val_loss"]) == 2
    hist = _same_fit(n_model, k_model, x, y, epochs=4, initial_epoch=1, validation_split=0.25, validation_freq=[1, 3])
    assert hist.epoch == [1, 2, 3] and len(hist.history["val_loss"]) == 1


def test_steps_per_epoch_limits_each_epoch(rng):
    # Each epoch starts a fresh pass over the data (Keras instead continues one iterator across epochs and
    # runs out of data on array inputs).
    x, _, y = _data(rng)
    model = nnkit.Sequential([Dense(3, activation="softmax", input_dim=5)])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    batches = []
    probe = LambdaCallback(on_train_batch_begin=lambda batch, logs: batches.append(batch))
    model.fit(x, y, epochs=3, batch_size=16, steps_per_epoch=2, verbose=0, callbacks=[probe])
    assert batches == [0, 1] * 3 and model.optimizer.iterations == 6


@pytest.mark.parametrize("clip", [{"clipnorm": 0.05}, {"clipvalue": 0.02}, {"global_clipnorm": 0.05}])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_gradient_clipping_in_fit_matches_keras(keras, rng, name, clip):
    # Steps large enough that clipping binds: SGD moves by lr * clipped gradient, Adam by about lr.
    x, _, y = _data(rng)
    n_model, k_model = _pair(keras, optimizer=(name, {"learning_rate": 0.5 if name == "SGD" else 0.02, **clip}))
    _same_fit(n_model, k_model, x, y, rtol=1e-4)


def test_clipping_really_bounds_the_update(rng):
    x, _, y = _data(rng)
    free = nnkit.Sequential([Dense(3, activation="softmax", input_dim=5)])
    clipped = nnkit.Sequential([Dense(3, activation="softmax", input_dim=5)])
    clipped.set_weights(free.get_weights())
    start = [w.copy() for w in free.get_weights()]
    free.compile(optimizer=nnkit.optimizers.SGD(1.0), loss="categorical_crossentropy")
    clipped.compile(optimizer=nnkit.optimizers.SGD(1.0, global_clipnorm=1e-3), loss="categorical_crossentropy")
    for model in (free, clipped):
        model.fit(x, y, epochs=1, batch_size=len(x), verbose=0)
    moved = [np.sqrt(sum(((w - s) ** 2).sum() for w, s in zip(m.get_weights(), start))) for m in (free, clipped)]
    assert moved[1] == pytest.approx(1e-3, rel=1e-4) and moved[0] > 10 * moved[1]
