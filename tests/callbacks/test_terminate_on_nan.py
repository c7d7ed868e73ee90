"""TerminateOnNaN: stops at the first non-finite loss and leaves the weights of the last good step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnkit.callbacks import CallbackList, TerminateOnNaN
from tests.callbacks.helpers import make_model

POISON = 1e6  # a target marking the sample whose loss becomes NaN


def poisoned_mse(y_true, y_pred):
    """Squared error per sample, NaN for samples whose target is POISON."""
    error = (y_pred - y_true) ** 2
    return torch.where(y_true == POISON, torch.full_like(error, math.nan), error).mean(dim=-1)


def _data(rng, poison_row):
    x = rng.normal(size=(64, 4))
    y = x @ rng.normal(size=(4, 1))
    if poison_row is not None:
        y[poison_row] = POISON
    return x, y


def _model(optimizer="adam"):
    model = make_model(optimizer)
    model.compile(optimizer=optimizer, loss=poisoned_mse)
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_stops_at_the_bad_batch_with_the_last_good_weights_and_optimizer_state(rng, optimizer):
    x, y = _data(rng, poison_row=16 * 2 + 5)  # in batch 2 (64 rows, batch 16)
    reference = _model(optimizer)
    start = [w.copy() for w in reference.get_weights()]
    clean_y = y.copy()
    clean_y[16 * 2 + 5] = 0.0
    reference.fit(x, clean_y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    reference.fit(x, clean_y, epochs=1, batch_size=16, shuffle=False, verbose=0, steps_per_epoch=2)
    # the poisoned model: same start, but the poison only matters in epoch 2
    model = _model(optimizer)
    model.set_weights(start)
    model.fit(x, clean_y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    stop = TerminateOnNaN()
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[stop])
    assert stop.stopped_batch == 2 and history.epoch == [0] and math.isnan(history.history["loss"][0])
    assert model.optimizer.iterations == reference.optimizer.iterations == 4 + 2
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    # the optimizer state was not touched by the NaN step either: training on continues like the reference
    model.fit(x, clean_y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    reference.fit(x, clean_y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_raise_error(rng):
    x, y = _data(rng, poison_row=20)
    model = _model()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch 1\. Loss value: nan"):
        model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_infinite_loss_also_stops(rng, capsys):
    x, y = _data(rng, poison_row=None)
    model = make_model("sgd")
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: ((y_pred - y_true) ** 2).mean(dim=-1) * math.inf)
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.history["loss"] == [math.inf] and model.optimizer.iterations == 0
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out


def test_finite_training_is_untouched_and_only_this_callback_turns_the_check_on(rng):
    x, y = _data(rng, poison_row=None)
    plain, guarded = make_model(), make_model()
    guarded.set_weights(plain.get_weights())
    plain.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    guarded.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    for a, b in zip(plain.get_weights(), guarded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert CallbackList([TerminateOnNaN()]).skip_non_finite_updates
    assert not CallbackList([]).skip_non_finite_updates
