"""EarlyStopping: stops at Keras's epoch on any scripted sequence and restores the best epoch's weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnkit.callbacks import EarlyStopping
from tests.callbacks.helpers import FakeModel, Script, make_model


def _drive(callback, values, key="val_loss"):
    """Feed ``values`` as epoch logs until the callback stops training; return the epochs run."""
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        model.set_weights([np.full(2, float(epoch))])  # weights tell which epoch they come from
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return epochs, model


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from([1.0, 1.5, 2.0, 2.05, 2.5, 3.0]), min_size=1, max_size=12),
    patience=st.integers(0, 3),
    min_delta=st.sampled_from([0.0, 0.1, 0.6]),
    baseline=st.sampled_from([None, 1.2, 2.2]),
    start_from_epoch=st.integers(0, 3),
    mode=st.sampled_from(["min", "max", "auto"]),
)
def test_stops_and_restores_exactly_like_keras(keras, values, patience, min_delta, baseline, start_from_epoch, mode):
    kwargs = {"patience": patience, "min_delta": min_delta, "baseline": baseline, "mode": mode,
              "start_from_epoch": start_from_epoch, "restore_best_weights": True}
    ours_epochs, ours_model = _drive(EarlyStopping(**kwargs), values)
    theirs = keras.callbacks.EarlyStopping(**kwargs)
    theirs_epochs, theirs_model = _drive(theirs, values)
    assert ours_epochs == theirs_epochs
    assert ours_model.stop_training == theirs_model.stop_training
    np.testing.assert_array_equal(ours_model.get_weights()[0], theirs_model.get_weights()[0])


def test_fit_stops_at_the_right_epoch_and_restores_the_best_weights(regression):
    x, y = regression
    #          epoch:  0    1    2    3    4    5    6    7
    val_loss = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 2.0, 1.0]
    script = Script("val_loss", val_loss)
    stop = EarlyStopping(patience=3, restore_best_weights=True)
    model = make_model()
    history = model.fit(x, y, epochs=8, validation_split=0.25, callbacks=[script, stop], verbose=0)
    # best at epoch 2; epochs 3, 4, 5 do not improve -> stop after epoch 5
    assert history.epoch == [0, 1, 2, 3, 4, 5]
    assert (stop.stopped_epoch, stop.best_epoch, stop.best) == (5, 2, 3.0)
    for ours, best in zip(model.get_weights(), script.weights[2]):
        np.testing.assert_array_equal(ours, best)
    assert not np.array_equal(script.weights[2][0], script.weights[5][0])


def test_without_restore_the_last_weights_stay(regression):
    x, y = regression
    script = Script("loss", [3.0, 2.0, 2.5, 2.6, 1.0])
    model = make_model()
    model.fit(x, y, epochs=5, callbacks=[script, EarlyStopping(monitor="loss", patience=2)], verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], script.weights[3][0])


def test_baseline_counts_the_first_epoch_as_waiting(regression):
    # Keras semantics: an epoch that improves on the best but not on the baseline does not reset the wait.
    x, y = regression
    losses = [3.0, 3.1, 3.2, 3.3, 3.4]
    with_baseline = make_model().fit(x, y, epochs=5, verbose=0, callbacks=[
        Script("loss", losses), EarlyStopping(monitor="loss", patience=2, baseline=1.0)])
    without = make_model().fit(x, y, epochs=5, verbose=0, callbacks=[
        Script("loss", losses), EarlyStopping(monitor="loss", patience=2)])
    assert with_baseline.epoch == [0, 1] and without.epoch == [0, 1, 2]


def test_accuracy_is_maximised_in_auto_mode(rng):
    x = rng.normal(size=(40, 4))
    labels = (x[:, 0] > 0).astype(int)
    model = make_model(units=2)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    script = Script("accuracy", [0.5, 0.7, 0.9, 0.8, 0.85, 0.6])
    stop = EarlyStopping(monitor="accuracy", patience=2)
    history = model.fit(x, labels, epochs=6, callbacks=[script, stop], verbose=0)
    assert stop.direction == "max" and stop.best == 0.9 and history.epoch == [0, 1, 2, 3, 4]


def test_verbose_reports_stop_and_restore(regression, capsys):
    x, y = regression
    script = Script("loss", [1.0, 2.0, 3.0])
    make_model().fit(x, y, epochs=3, verbose=0,
                     callbacks=[script, EarlyStopping(monitor="loss", patience=1, verbose=1, restore_best_weights=True)])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out and "best epoch: 1." in out


def test_state_round_trip():
    stop = EarlyStopping(patience=4, restore_best_weights=True)
    _drive(stop, [3.0, 2.0, 2.5])
    clone = EarlyStopping(patience=4, restore_best_weights=True)
    clone.on_train_begin()
    clone.set_state(stop.get_state())
    assert (clone.wait, clone.best, clone.best_epoch) == (1, 2.0, 1)
    np.testing.assert_array_equal(clone.best_weights[0], [1.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "maximum"}, r"`mode` to be one of 'auto', 'min', 'max'\. Received: mode='maximum'"),
        ({"patience": -1}, r"`patience` to be a non-negative int"),
        ({"patience": 2.5}, r"patience=2\.5"),
        ({"start_from_epoch": -2}, r"start_from_epoch=-2"),
        ({"monitor": ""}, r"`monitor` to be the name of a logged value"),
        ({"min_delta": "0.1"}, r"min_delta='0\.1'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)
