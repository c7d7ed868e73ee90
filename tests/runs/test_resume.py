"""Ctrl-C during training keeps the run at its last finished epoch; --resume continues it."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import yaml

from nnkit.callbacks import Callback
from nnkit.cli import main
from nnkit.errors import ConfigError
from nnkit.models import load_model
from nnkit.runs import open_run, prepare, train
from nnkit.runs.resuming import INTERRUPTED_FILE, RESUME_FILE, TrainingInterrupted
from tests.runs.helpers import iris

EPOCHS = 5
CONFIG = iris(fit={"epochs": EPOCHS, "validation_split": 0.2, "callbacks": [{"type": "EarlyStopping", "patience": 50}]})


class CtrlC(Callback):
    """Presses Ctrl-C in the middle of epoch ``epoch`` (after its second batch)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch, self.current = epoch, -1

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.current = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.current == self.epoch and batch == 1:
            raise KeyboardInterrupt


def interrupted_run(monkeypatch, at: int):
    run = prepare(CONFIG)
    made = run.callbacks
    monkeypatch.setattr(run, "callbacks", lambda folder: [*made(folder), CtrlC(at)])
    return run


def epochs_in(folder) -> list[str]:
    with open(folder / "history.csv", newline="") as f:
        return [row["epoch"] for row in csv.DictReader(f)]


def test_ctrl_c_keeps_the_model_of_the_last_finished_epoch_and_resume_finishes_it(tmp_path, monkeypatch):
    complete = train(prepare(CONFIG), output_dir=str(tmp_path / "complete"))
    stopped = tmp_path / "stopped"
    with pytest.raises(TrainingInterrupted) as caught:
        train(interrupted_run(monkeypatch, at=3), output_dir=str(stopped))
    assert isinstance(caught.value, KeyboardInterrupt) and caught.value.epochs_done == 3
    assert f"--resume {stopped}" in caught.value.resume_hint
    assert epochs_in(stopped) == ["0", "1", "2"] and not (stopped / "metrics.json").exists()
    assert "after epoch 3 of 5" in (stopped / INTERRUPTED_FILE).read_text()
    assert not (stopped / ".nnkit-run.lock").exists()
    # the kept model is the one at the end of epoch 3, not the half-trained one of epoch 4
    three = train(prepare(iris(fit={**CONFIG["fit"], "epochs": 3})), output_dir=str(tmp_path / "three"))
    kept = load_model(str(stopped / "model.nnkit"))
    x = prepare(CONFIG).data.x_test
    np.testing.assert_allclose(kept.predict(x, verbose=0), three.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)

    resumed = train(prepare(CONFIG), resume=str(stopped))
    assert resumed.run_dir == str(stopped) and epochs_in(stopped) == ["0", "1", "2", "3", "4"]
    assert len(resumed.history["loss"]) == EPOCHS
    assert not (stopped / INTERRUPTED_FILE).exists() and not (stopped / RESUME_FILE).exists()
    assert resumed.metrics == pytest.approx(complete.metrics, rel=1e-5)  # as if never interrupted
    assert resumed.history["val_loss"] == pytest.approx(complete.history["val_loss"], rel=1e-5)


def test_ctrl_c_before_the_first_epoch_finished_keeps_nothing(tmp_path, monkeypatch):
    with pytest.raises(KeyboardInterrupt) as caught:
        train(interrupted_run(monkeypatch, at=0), output_dir=str(tmp_path / "run"))
    assert not isinstance(caught.value, TrainingInterrupted)
    assert os.listdir(tmp_path) == []


def test_only_an_interrupted_run_folder_can_be_resumed(tmp_path):
    done = train(prepare(iris()), output_dir=str(tmp_path / "done"))
    with pytest.raises(ConfigError, match=r"--resume: .*done' is not the folder of an interrupted run \(it has no "
                                          r"resume\.safetensors\)"):
        train(prepare(iris()), resume=done.run_dir)
    with pytest.raises(ConfigError, match=r"--resume: .*missing' is not a folder"):
        train(prepare(iris()), resume=str(tmp_path / "missing"))


def test_the_command_prints_how_to_resume_and_exits_130(tmp_path, monkeypatch, capsys):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    opened = open_run

    def with_ctrl_c(*args, **kwargs):
        run = opened(*args, **kwargs)
        made = run.callbacks
        run.callbacks = lambda folder: [*made(folder), CtrlC(2)]
        return run

    monkeypatch.setattr("nnkit.runs.open_run", with_ctrl_c)
    folder = tmp_path / "run"
    assert main(["train", str(path), "--output", str(folder), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted after epoch 2 of 5" in err
    assert f"Resume with: nnkit train {path} --resume {folder}" in err
    monkeypatch.setattr("nnkit.runs.open_run", opened)
    assert main(["train", str(path), "--resume", str(folder), "--quiet"]) == 0
    assert epochs_in(folder) == ["0", "1", "2", "3", "4"] and (folder / "metrics.json").exists()
    assert main(["train", str(path), "--resume", str(folder), "--output", str(tmp_path / "x")]) == 2
