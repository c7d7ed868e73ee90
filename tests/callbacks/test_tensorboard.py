"""TensorBoard: Keras's run layout and tags, and a clear error when the optional package is missing."""

from __future__ import annotations

import sys

import pytest

import nnkit.callbacks.tensorboard as tb
from nnkit.callbacks import CallbackList, LearningRateScheduler, TensorBoard
from tests.callbacks.helpers import make_model


class FakeWriter:
    """Records what a SummaryWriter is asked to write."""

    runs: dict[str, FakeWriter] = {}

    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.histograms, self.closed = log_dir, [], [], False
        FakeWriter.runs[log_dir] = self

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def add_histogram(self, tag, values, step):
        self.histograms.append((tag, tuple(values.shape), step))

    def flush(self): ...

    def close(self):
        self.closed = True


@pytest.fixture
def fake_writer(monkeypatch):
    FakeWriter.runs = {}
    monkeypatch.setattr(tb, "_summary_writer_class", lambda: FakeWriter)
    return FakeWriter.runs


def test_epoch_logs_go_to_train_and_validation_runs_with_keras_tags(regression, tmp_path, fake_writer):
    x, y = regression
    model = make_model()
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1)), TensorBoard(tmp_path, histogram_freq=1)])
    train, validation = fake_writer[str(tmp_path / "train")], fake_writer[str(tmp_path / "validation")]
    history = model.history.history
    assert sorted(train.scalars) == sorted(
        [(f"epoch_{key}", history[key][epoch], epoch) for key in ("loss", "learning_rate") for epoch in (0, 1)])
    assert validation.scalars == [("epoch_loss", history["val_loss"][0], 0), ("epoch_loss", history["val_loss"][1], 1)]
    assert ("dense/weight", (1, 4), 1) in train.histograms and train.closed and validation.closed


def test_learning_rate_is_logged_even_without_a_learning_rate_callback(regression, tmp_path, fake_writer):
    x, y = regression
    make_model().fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    assert ("epoch_learning_rate", 0.01, 0) in fake_writer[str(tmp_path / "train")].scalars


def test_batch_scalars_every_update_freq_batches(regression, tmp_path, fake_writer):
    x, y = regression  # 64 rows, batch 16: 4 batches, scalars after batches 2 and 4 (optimizer steps 2, 4)
    make_model().fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[TensorBoard(tmp_path, update_freq=2)])
    batch = [(tag, step) for tag, _, step in fake_writer[str(tmp_path / "train")].scalars if tag.startswith("batch_")]
    assert batch == [("batch_loss", 2), ("batch_loss", 4)]
    assert not CallbackList([TensorBoard(tmp_path)]).train_batch_end


def test_missing_tensorboard_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"needs the optional `tensorboard` package.*pip install tensorboard"):
        TensorBoard()


@pytest.mark.parametrize(("kwargs", "match"), [({"profile_batch": 2}, "does not support profile_batch=2"),
                                               ({"write_images": True}, "write_images"),
                                               ({"update_freq": 0}, "update_freq='epoch' or a positive int"),
                                               ({"histogram_freq": -1}, "histogram_freq")])
def test_unsupported_or_bad_options(fake_writer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TensorBoard(**kwargs)


def test_real_event_files(regression, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = regression
    model = make_model()
    model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[TensorBoard(tmp_path)])
    events = EventAccumulator(str(tmp_path / "validation"))
    events.Reload()
    assert [round(e.value, 5) for e in events.Scalars("epoch_loss")] == [
        round(v, 5) for v in model.history.history["val_loss"]]


def test_steps_per_second(regression, tmp_path, fake_writer):
    x, y = regression
    make_model().fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path, write_steps_per_second=True)])
    (rate,) = [v for tag, v, _ in fake_writer[str(tmp_path / "train")].scalars if tag == "epoch_steps_per_second"]
    assert rate > 0
