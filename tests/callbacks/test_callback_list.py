"""CallbackList dispatch: batch hooks only where overridden; logs only computed when read."""

from __future__ import annotations

import pytest
import torch

from nnkit.callbacks import Callback, CallbackList, History
from nnkit.metrics import MeanMetricWrapper, categorical_accuracy
from nnkit.training.tracker import LazyLogs, RunningLogs


def test_batch_hook_flags_follow_overrides():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None): ...

    class LegacyBatch(Callback):
        def on_batch_end(self, batch, logs=None): ...

    quiet = CallbackList([EpochOnly(), History()])
    assert not (quiet.train_batch_begin or quiet.train_batch_end or quiet.test_batch_end)
    legacy = CallbackList([LegacyBatch()])
    assert legacy.train_batch_end and not legacy.train_batch_begin


def test_legacy_on_batch_end_receives_train_batches():
    seen = []

    class LegacyBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    CallbackList([LegacyBatch()]).on_train_batch_end(3, {})
    assert seen == [3]


def test_non_callbacks_are_rejected():
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([lambda: None])


def test_lazy_logs_compute_once_and_only_when_read():
    calls = []

    def compute():
        calls.append(1)
        return {"loss": 1.5}

    logs = LazyLogs(compute)
    assert calls == []
    assert logs["loss"] == 1.5 and dict(logs) == {"loss": 1.5} and "loss" in logs and len(logs) == 1
    assert calls == [1]


def test_running_logs_weight_batches_by_size_and_stream_metrics():
    metric = MeanMetricWrapper(categorical_accuracy, name="accuracy")
    logs = RunningLogs([(metric, False)])
    y = torch.eye(3)
    logs.add(torch.tensor(1.0), 2, torch.eye(3)[:2], y[:2], None)        # both right
    logs.add(torch.tensor(4.0), 1, torch.eye(3)[[0]], y[[2]], None)      # wrong
    result = logs.results()
    assert list(result) == ["accuracy", "loss"]
    assert result["loss"] == pytest.approx((2 * 1.0 + 1 * 4.0) / 3)
    assert result["accuracy"] == pytest.approx(2 / 3)


def test_history_records_epochs_and_sets_model_history():
    class Model:
        history = None

    model = Model()
    history = History()
    history.set_model(model)
    history.on_train_begin()
    history.on_epoch_end(0, {"loss": 2.0})
    history.on_epoch_end(1, {"loss": 1.0})
    assert history.history == {"loss": [2.0, 1.0]} and history.epoch == [0, 1] and model.history is history
