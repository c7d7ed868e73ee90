"""CSVLogger: rows match History, and the file is byte for byte what Keras's CSVLogger writes."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from nnkit.callbacks import CSVLogger, LambdaCallback
from tests.callbacks.helpers import make_model


def test_rows_match_history(regression, tmp_path):
    x, y = regression
    path = tmp_path / "log.csv"
    model = make_model()
    history = model.fit(x, y, epochs=4, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == history.epoch
    for key in ("loss", "val_loss"):
        assert [float(r[key]) for r in rows] == history.history[key]  # repr round-trips exactly


def _write(logger_class, path, epochs_logs, **kwargs):
    logger = logger_class(str(path), **kwargs)
    logger.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        logger.on_epoch_end(epoch, logs)
    logger.on_train_end()
    return path.read_bytes()


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_file_is_identical_to_keras(keras, tmp_path, separator):
    logs = [{"loss": 0.5, "accuracy": 0.25, "vec": np.array([1, 2])},
            {"loss": 0.25, "accuracy": 0.5, "val_loss": 0.75, "vec": np.array([3, 4])}]
    ours = _write(CSVLogger, tmp_path / "ours.csv", logs, separator=separator)
    theirs = _write(keras.callbacks.CSVLogger, tmp_path / "theirs.csv", logs, separator=separator)
    assert ours == theirs
    assert b"NA" in ours  # no validation in the first epoch: val_ columns added and filled with NA, as in Keras


def test_append_writes_the_header_once(regression, tmp_path):
    x, y = regression
    path = tmp_path / "log.csv"
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    model.fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss" and len(lines) == 6
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])  # without append: overwritten
    assert len(path.read_text().splitlines()) == 2


def test_each_row_is_on_disk_when_the_epoch_ends(regression, tmp_path):
    x, y = regression
    path = tmp_path / "log.csv"
    lines_seen = []
    probe = LambdaCallback(on_epoch_end=lambda epoch, logs: lines_seen.append(len(path.read_text().splitlines())))
    make_model().fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(path), probe])
    assert lines_seen == [2, 3, 4]


def test_folders_are_created_and_unusable_ones_refused(regression, tmp_path):
    x, y = regression
    make_model().fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(tmp_path / "logs" / "run.csv")])
    assert (tmp_path / "logs" / "run.csv").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"Cannot create the folder .*file.* for filename="):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(tmp_path / "file" / "run.csv")])


@pytest.mark.parametrize(("kwargs", "match"), [({"separator": ";;"}, "one-character separator"),
                                               ({"filename": ""}, "expects a file path")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CSVLogger(**{"filename": "log.csv", **kwargs})
