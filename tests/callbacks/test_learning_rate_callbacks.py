"""ReduceLROnPlateau and LearningRateScheduler change the torch optimizer's real learning rate, log it as
``learning_rate`` exactly when Keras does, and follow Keras's decisions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnkit
from nnkit.callbacks import LambdaCallback, LearningRateScheduler, ReduceLROnPlateau
from nnkit.layers import Dense
from nnkit.optimizers import SGD, schedules
from tests.callbacks.helpers import FakeModel, Script, make_model
from tests.helpers import assert_close


def _lr_sequence(callback, values):
    model = FakeModel(learning_rate=1.0)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        rates.append((logs["learning_rate"], model.optimizer.learning_rate))
    return rates


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from([1.0, 1.5, 2.0, 2.00005, 3.0]), min_size=1, max_size=15),
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
    factor=st.sampled_from([0.5, 0.1]),
    min_lr=st.sampled_from([0.0, 0.2]),
    min_delta=st.sampled_from([1e-4, 0.6]),
)
def test_plateau_reductions_match_keras(keras, values, patience, cooldown, factor, min_lr, min_delta):
    kwargs = {"patience": patience, "cooldown": cooldown, "factor": factor, "min_lr": min_lr, "min_delta": min_delta}
    ours = _lr_sequence(ReduceLROnPlateau(**kwargs), values)
    theirs = _lr_sequence(keras.callbacks.ReduceLROnPlateau(**kwargs), values)
    assert_close(ours, theirs, rtol=1e-12)


def test_plateau_lowers_the_real_torch_learning_rate_and_logs_it(regression):
    x, y = regression
    model = make_model(SGD(learning_rate=0.1))
    script = Script("val_loss", [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    reduce = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    seen = []
    probe = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(
        model.optimizer.torch_optimizer.param_groups[0]["lr"]))
    history = model.fit(x, y, epochs=7, validation_split=0.25, callbacks=[probe, script, reduce], verbose=0)
    # end of epoch 1: plateau -> 0.05; 2: cooldown (Keras counts the cooldown down first, so cooldown=2 blocks
    # one epoch); 3 improves; 4: plateau -> 0.025; 5: cooldown; 6: plateau -> 0.0125
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert history.history["learning_rate"] == pytest.approx(seen)
    assert list(history.history) == ["loss", "val_loss", "learning_rate"]  # appended last, as in Keras
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


def _keras_and_nnkit(keras, rng, callbacks_for):
    x = rng.normal(size=(48, 3)).astype(np.float32)
    y = rng.normal(size=(48, 1)).astype(np.float32)
    k_model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    n_model = nnkit.Sequential([nnkit.Input(shape=(3,)), Dense(1)])
    n_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    n_model.compile(optimizer=SGD(0.05), loss="mse")
    fit = {"epochs": 6, "batch_size": 16, "shuffle": False, "validation_split": 0.25, "verbose": 0}
    k_hist = k_model.fit(x, y, callbacks=callbacks_for(keras.callbacks), **fit).history
    n_hist = n_model.fit(x, y, callbacks=callbacks_for(nnkit.callbacks), **fit).history
    assert list(n_hist) == list(k_hist)
    for key in k_hist:
        assert_close(n_hist[key], k_hist[key], rtol=1e-5)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_plateau_history_and_weights_match_keras_fit(keras, rng):
    _keras_and_nnkit(keras, rng, lambda cbs: [cbs.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0,
                                                                     min_delta=10.0)])


def test_scheduler_history_and_weights_match_keras_fit(keras, rng):
    _keras_and_nnkit(keras, rng, lambda cbs: [cbs.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)])


def test_scheduler_takes_one_or_two_argument_functions(regression):
    x, y = regression
    seen = []

    def by_epoch(epoch):
        return 0.1 / (epoch + 1)

    model = make_model()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(by_epoch)])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: seen.append(lr) or lr)])
    assert seen == pytest.approx([0.1 / 3, 0.1 / 3])  # the optimizer's current rate is passed in


def test_plain_fit_has_no_learning_rate_key_like_keras(regression):
    x, y = regression
    model = nnkit.Sequential([Dense(1, input_dim=4)])
    model.compile(optimizer=SGD(schedules.ExponentialDecay(0.1, 2, 0.5)), loss="mse")
    assert list(model.fit(x, y, epochs=1, verbose=0).history) == ["loss"]


def test_scheduler_verbose_prints_each_change(regression, capsys):
    x, y = regression
    make_model().fit(x, y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.01, verbose=1)])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.01." in capsys.readouterr().out


def test_schedule_returning_a_non_number_is_refused(regression):
    x, y = regression
    with pytest.raises(ValueError, match=r"must return a finite float\. At epoch 0 it returned '0\.1'"):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: "0.1")])


def test_callbacks_cannot_assign_a_scheduled_learning_rate(regression):
    x, y = regression
    model = nnkit.Sequential([Dense(1, input_dim=4)])
    model.compile(optimizer=SGD(schedules.CosineDecay(0.1, 10)), loss="mse")
    with pytest.raises(ValueError, match="cannot be assigned"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: 0.1)])


def test_plateau_state_round_trip():
    reduce = ReduceLROnPlateau(patience=3, cooldown=2)
    _lr_sequence(reduce, [1.0, 2.0, 2.0])
    clone = ReduceLROnPlateau(patience=3, cooldown=2)
    clone.on_train_begin()
    clone.set_state(reduce.get_state())
    assert (clone.best, clone.wait, clone.cooldown_counter) == (1.0, 2, 0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ReduceLROnPlateau(factor=1.0), r"`factor` in \[0, 1\)\. Received: factor=1\.0"),
        (lambda: ReduceLROnPlateau(mode="lowest"), r"mode='lowest'"),
        (lambda: ReduceLROnPlateau(cooldown=-1), r"`cooldown` to be a non-negative int"),
        (lambda: ReduceLROnPlateau(min_lr=-0.1), r"`min_lr` to be a non-negative number"),
        (lambda: LearningRateScheduler(0.1), r"expects a function schedule\(epoch, lr\)"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_legacy_epsilon_and_unknown_arguments():
    assert ReduceLROnPlateau(epsilon=0.5).min_delta == 0.5
    with pytest.raises(TypeError, match="unexpected arguments: pateince"):
        ReduceLROnPlateau(pateince=3)
