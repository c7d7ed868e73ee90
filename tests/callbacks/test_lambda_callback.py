"""LambdaCallback: plain functions at the hooks, Keras's argument order, batch hooks only when given."""

from __future__ import annotations

import pytest

from nnkit.callbacks import CallbackList, LambdaCallback
from tests.callbacks.helpers import make_model


def test_functions_run_at_their_hooks_with_keras_arguments(regression):
    x, y = regression
    events = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append(f"train_end {sorted(logs)}"),
        on_test_end=lambda logs: events.append("test_end"),
    )
    make_model().fit(x, y, epochs=1, batch_size=32, validation_split=0.5, verbose=0, callbacks=[callback])
    assert events == ["train_begin", "epoch_begin 0", "batch_end 0 ['loss']", "test_end",
                      "epoch_end 0 ['loss', 'val_loss']", "train_end ['loss', 'val_loss']"]


def test_only_given_batch_hooks_are_live():
    assert not CallbackList([LambdaCallback(on_epoch_end=print)]).train_batch_end
    legacy = CallbackList([LambdaCallback(on_batch_end=print)])
    assert legacy.train_batch_end and not legacy.train_batch_begin and not legacy.test_batch_end


def test_legacy_on_batch_end_runs_per_training_batch(regression):
    x, y = regression
    batches = []
    make_model().fit(x, y, epochs=2, batch_size=32, verbose=0,
                     callbacks=[LambdaCallback(on_batch_end=lambda batch, logs: batches.append(batch))])
    assert batches == [0, 1, 0, 1]


def test_bad_arguments_are_type_errors():
    with pytest.raises(TypeError, match=r"unexpected arguments: on_epoch_ends\. Hooks it accepts: on_train_begin"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match=r"`on_epoch_end` to be a function"):
        LambdaCallback(on_epoch_end="print")
    assert repr(LambdaCallback(on_epoch_end=print, on_train_begin=print)) == "LambdaCallback(on_epoch_end, on_train_begin)"
