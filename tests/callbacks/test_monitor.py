"""Monitored keys: a typo is an error naming the available keys; missing validation warns once per fit."""

from __future__ import annotations

import warnings

import pytest

from nnkit.callbacks import EarlyStopping, LambdaCallback, ModelCheckpoint, ReduceLROnPlateau
from tests.callbacks.helpers import make_model


@pytest.mark.parametrize("make", [lambda: EarlyStopping(monitor="val_los"), lambda: ReduceLROnPlateau(monitor="val_los"),
                                  lambda: ModelCheckpoint("m.safetensors", monitor="val_los", save_best_only=True)])
def test_a_key_that_is_not_in_the_logs_names_the_available_keys(regression, make):
    x, y = regression
    with pytest.raises(ValueError, match=r"monitors 'val_los', which is not in the logs\. Did you mean 'val_loss'\? "
                                         r"Available keys: loss, val_loss"):
        make_model().fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[make()])


def test_missing_validation_warns_once_per_fit_and_training_goes_on(regression):
    x, y = regression
    stop = EarlyStopping(patience=0)  # monitors val_loss, but there is no validation data
    with pytest.warns(UserWarning, match=r"monitors 'val_loss', but the logs hold no validation results "
                                         r"\(available keys: loss\)") as record:
        history = make_model().fit(x, y, epochs=4, verbose=0, callbacks=[stop])
    assert len(record) == 1 and history.epoch == [0, 1, 2, 3]


def test_validation_every_other_epoch_is_monitored_when_present(regression):
    x, y = regression
    stop = EarlyStopping(patience=1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        make_model().fit(x, y, epochs=4, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[stop])
    assert len(record) == 1  # epoch 1 has no val_loss: one warning, then epochs 2 and 4 are compared
    assert stop.best is not None


def test_auto_mode_needs_a_hint_for_unknown_names(regression):
    x, y = regression
    logger = EarlyStopping(monitor="my_score")
    add = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(my_score=1.0))
    with pytest.raises(ValueError, match=r"cannot tell whether monitor='my_score' should go up or down\. Pass "
                                         r"mode='max'"):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[add, logger])


@pytest.mark.parametrize(("monitor", "direction"), [("loss", "min"), ("val_loss", "min"), ("val_accuracy", "max"),
                                                    ("auc", "max"), ("mean_absolute_error", "min"),
                                                    ("val_precision", "max"), ("mse", "min")])
def test_auto_mode_directions(monitor, direction):
    stop = EarlyStopping(monitor=monitor)
    assert stop._resolve_direction() == direction
