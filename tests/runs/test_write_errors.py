"""A file that cannot be written (a full disk) is an OSError naming the file and the cause; what the run
wrote before it stays."""

from __future__ import annotations

import contextlib
import errno
import os

import pytest
import yaml

from nnkit.cli import main
from nnkit.errors import WriteError
from nnkit.models import Sequential, load_model
from nnkit.runs import prepare, train
from nnkit.utils import atomic
from tests.runs.helpers import iris


@pytest.fixture
def full_disk(monkeypatch):
    """The disk fills up when a file of the given name is written (after its temporary file was created)."""
    names: set[str] = set()
    real = atomic.atomic_open

    @contextlib.contextmanager
    def atomic_open(path, mode="wb"):
        with real(path, mode) as f:
            if os.path.basename(os.fspath(path)) in names:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            yield f

    monkeypatch.setattr(atomic, "atomic_open", atomic_open)
    return names


def test_a_full_disk_at_the_end_of_training_names_the_file_and_keeps_what_was_written(tmp_path, full_disk):
    full_disk.add("history.csv")
    run = prepare(iris(fit={"epochs": 2, "callbacks": [{"type": "ModelCheckpoint", "filepath": "best.nnkit"}]}))
    with pytest.raises(OSError) as caught:
        train(run, output_dir=str(tmp_path / "run"))
    error = caught.value
    assert isinstance(error, WriteError) and not isinstance(error, ValueError)
    assert error.errno == errno.ENOSPC and error.filename == str(tmp_path / "run" / "history.csv")
    assert str(error).startswith(f"Cannot write {str(tmp_path / 'run' / 'history.csv')!r}: No space left on device. "
                                 "The disk (or your quota) is full")
    assert sorted(os.listdir(tmp_path / "run")) == ["best.nnkit", "model.nnkit"]  # no lock, no temporary file
    assert load_model(str(tmp_path / "run" / "model.nnkit")).count_params() == run.model.count_params()


def test_a_failed_overwrite_on_a_full_disk_keeps_the_earlier_run(tmp_path, full_disk):
    target = tmp_path / "run"
    target.mkdir()
    (target / "model.nnkit").write_text("earlier run")
    full_disk.add("model.nnkit")
    with pytest.raises(WriteError, match=r"model\.nnkit'?: No space left on device"):
        train(prepare(iris(output={"dir": str(target), "overwrite": True})))
    assert os.listdir(target) == ["model.nnkit"] and (target / "model.nnkit").read_text() == "earlier run"
    assert os.listdir(tmp_path) == ["run"]


def test_the_command_exits_1_with_one_line_naming_the_file(tmp_path, full_disk, capsys):
    full_disk.add("metrics.json")
    config = tmp_path / "iris.yaml"
    config.write_text(yaml.safe_dump(iris()))
    assert main(["train", str(config), "--quiet", "--output", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nnkit: error: train failed: Cannot write {str(tmp_path / 'run' / 'metrics.json')!r}: "
                          "No space left on device.") and len(err.splitlines()) == 1


def test_model_save_on_a_full_disk_is_an_os_error(tmp_path, full_disk):
    from nnkit import layers

    model = Sequential([layers.Input((3,)), layers.Dense(2)])
    model.save(str(tmp_path / "m.nnkit"))
    full_disk.add("m.nnkit")
    with pytest.raises(WriteError, match=r"Cannot write '.*m\.nnkit': No space left on device") as caught:
        model.save(str(tmp_path / "m.nnkit"))
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == ["m.nnkit"] and load_model(str(tmp_path / "m.nnkit")).count_params() == 8
