"""BackupAndRestore: a run SIGKILLed mid-epoch and started again ends exactly like an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nnkit.callbacks import BackupAndRestore, Callback, CallbackList, EarlyStopping, ReduceLROnPlateau
from nnkit.utils.state_file import load_state
from tests.callbacks import resumable_training
from tests.callbacks.helpers import make_model

SCRIPT = Path(__file__).with_name("resumable_training.py")
ROOT = Path(__file__).resolve().parents[2]


def _start(workdir: Path, save_freq: str, pause: tuple[int, int] | None = None) -> subprocess.Popen:
    workdir.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NNKIT_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    args = [sys.executable, str(SCRIPT), str(workdir), save_freq, *(map(str, pause or ()))]
    with open(workdir / "stderr.txt", "ab") as stderr:
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def _finish(process: subprocess.Popen, workdir: Path) -> None:
    process.wait(timeout=120)
    assert process.returncode == 0, (workdir / "stderr.txt").read_text()


def _result(workdir: Path) -> dict:
    with np.load(workdir / "result.npz") as data:
        weights = [data[f"arr_{i}"] for i in range(len([k for k in data.files if k.startswith("arr_")]))]
        return {"weights": weights, "history": json.loads(str(data["history"])),
                "epochs": json.loads(str(data["epochs"])), "first_epoch": int(data["first_epoch"]),
                "iterations": int(data["iterations"])}


def _kill_when_paused(process: subprocess.Popen, workdir: Path) -> None:
    deadline = time.monotonic() + 120
    while not (workdir / "paused").exists():
        assert process.poll() is None, (workdir / "stderr.txt").read_text()
        assert time.monotonic() < deadline, "the training script never reached its pause point"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def processes():
    """Started subprocesses; any still running when the test ends (e.g. it failed) are killed."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _run_here(workdir: Path, save_freq: str, pause: tuple[int, int] | None = None) -> None:
    """The training script in this process (on one thread, as in its own process); a pause is a crash."""
    workdir.mkdir(exist_ok=True)
    threads = torch.get_num_threads()
    try:
        resumable_training.main([str(workdir), save_freq, *(map(str, pause or ()))], crash=True)
    finally:
        torch.set_num_threads(threads)


def _assert_same_run(ours: dict, theirs: dict, resumed_at: tuple[int, int]) -> None:
    assert ours["first_epoch"] == resumed_at[0] and theirs["first_epoch"] == 0
    for a, b in zip(ours["weights"], theirs["weights"]):
        np.testing.assert_array_equal(a, b)
    assert ours["iterations"] == theirs["iterations"]
    assert ours["epochs"] == theirs["epochs"] == list(range(10))  # early stopping at the same epoch
    assert ours["history"]["learning_rate"] == theirs["history"]["learning_rate"]  # same plateau decisions
    if resumed_at[1] == 0:
        assert ours["history"] == theirs["history"]
    else:  # resumed mid-epoch: that epoch's training loss covers only the batches run after resuming
        assert ours["history"]["val_loss"] == theirs["history"]["val_loss"]
        differ = [i for i, (a, b) in enumerate(zip(ours["history"]["loss"], theirs["history"]["loss"])) if a != b]
        assert differ == [resumed_at[0]]


# 90 training rows in batches of 16: 6 batches per epoch. The run is killed at the start of batch 5 of
# epoch 4; the last backup is from the start of epoch 4.
def test_sigkill_mid_epoch_then_rerun_ends_with_the_uninterrupted_weights(tmp_path, processes):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    victim = _start(crashed, "epoch", pause=(4, 5))
    processes.append(victim)
    _run_here(reference, "epoch")  # meanwhile, the uninterrupted run
    _kill_when_paused(victim, crashed)
    backup = load_state(crashed / "backup" / "latest.safetensors")
    assert backup["kind"] == "backup" and (backup["epoch"], backup["batch"]) == (4, 0)
    rerun = _start(crashed, "epoch")  # the same script again: resumes from the backup
    processes.append(rerun)
    _finish(rerun, crashed)
    _assert_same_run(_result(crashed), _result(reference), (4, 0))
    assert (crashed / "log.csv").read_bytes() == (reference / "log.csv").read_bytes()
    assert not (crashed / "backup").exists()  # deleted at the end of training


@pytest.mark.parametrize(("save_freq", "pause", "resumed_at"), [("4", (4, 5), (4, 4)), ("4", (0, 5), (0, 4)),
                                                                 ("3", (7, 2), (7, 0)), ("epoch", (0, 3), (0, 0))])
def test_crash_then_rerun_ends_with_the_uninterrupted_weights(tmp_path, save_freq, pause, resumed_at):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    _run_here(reference, save_freq)
    with pytest.raises(KeyboardInterrupt):
        _run_here(crashed, save_freq, pause)
    if resumed_at != (0, 0):
        backup = load_state(crashed / "backup" / "latest.safetensors")
        assert (backup["epoch"], backup["batch"]) == resumed_at
    _run_here(crashed, save_freq)
    _assert_same_run(_result(crashed), _result(reference), resumed_at)


class Crash(Callback):
    """Raises at a given (epoch, batch), as a crash would (on_train_end never runs)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def _callbacks(backup_dir, **kwargs):
    return [EarlyStopping(monitor="loss", patience=50), ReduceLROnPlateau(monitor="loss", patience=50),
            BackupAndRestore(backup_dir, **kwargs)]


def test_callback_state_is_restored_after_their_on_train_begin(regression, tmp_path):
    x, y = regression
    model = make_model()
    callbacks = _callbacks(tmp_path / "b", delete_checkpoint=False)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[*callbacks, Crash(3, 1)])
    stop, reduce, _ = callbacks
    saved = (stop.wait, stop.best, reduce.wait, reduce.best)
    fresh = _callbacks(tmp_path / "b", delete_checkpoint=False)
    resumed = make_model()
    history = resumed.fit(x, y, epochs=3, verbose=0, callbacks=fresh)  # epoch 3 of 3: nothing left to train
    assert history.epoch == [0, 1, 2] and resumed.optimizer.iterations == 6
    assert (fresh[0].wait, fresh[0].best, fresh[1].wait, fresh[1].best) == saved


def test_a_backup_from_other_callbacks_is_refused(regression, tmp_path):
    x, y = regression
    with pytest.raises(KeyboardInterrupt):
        make_model().fit(x, y, epochs=4, verbose=0, callbacks=[*_callbacks(tmp_path / "b"), Crash(2, 0)])
    with pytest.raises(ValueError, match=r"holds the state of the callbacks \['EarlyStopping', 'ReduceLROnPlateau', "
                                         r"'History'\], but this fit\(\) has \['History'\].*delete"):
        make_model().fit(x, y, epochs=4, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b")])


def test_a_mid_epoch_backup_needs_the_same_batches_per_epoch(regression, tmp_path):
    x, y = regression
    with pytest.raises(KeyboardInterrupt):
        make_model().fit(x, y, epochs=3, batch_size=8, verbose=0,
                         callbacks=[BackupAndRestore(tmp_path / "b", save_freq=2), Crash(1, 5)])
    with pytest.raises(ValueError, match=r"made at batch 4 of an epoch of 8 batches, but this fit\(\) has 2 batches"):
        make_model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b", 2)])


def test_double_checkpoint_falls_back_to_the_previous_backup(regression, tmp_path):
    x, y = regression
    with pytest.raises(KeyboardInterrupt):
        make_model().fit(x, y, epochs=5, verbose=0,
                         callbacks=[BackupAndRestore(tmp_path / "b", double_checkpoint=True), Crash(3, 0)])
    assert load_state(tmp_path / "b" / "previous.safetensors")["epoch"] == 2
    (tmp_path / "b" / "latest.safetensors").write_bytes(b"torn")  # as if the disk had lost it
    seen = []
    from nnkit.callbacks import LambdaCallback

    make_model().fit(x, y, epochs=5, verbose=0, callbacks=[
        BackupAndRestore(tmp_path / "b", double_checkpoint=True),
        LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))])
    assert seen == [2, 3, 4]


def test_an_unreadable_backup_without_fallback_says_how_to_start_over(regression, tmp_path):
    x, y = regression
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "latest.safetensors").write_bytes(b"torn")
    with pytest.raises(ValueError, match=r"not a readable nnkit state file.*Delete .*b' to start training over"):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b")])


def test_it_runs_first_and_epoch_backups_add_no_batch_hook(tmp_path):
    backup = BackupAndRestore(tmp_path)
    callbacks = CallbackList([EarlyStopping(), backup])
    assert callbacks.callbacks[0] is backup and not callbacks.train_batch_begin
    assert CallbackList([BackupAndRestore(tmp_path, save_freq=10)]).train_batch_begin


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backup_dir": ""}, r"expects a folder path"),
        ({"save_freq": 0}, r"save_freq='epoch' or a positive int.*save_freq=0"),
        ({"save_freq": "batch"}, r"save_freq='batch'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BackupAndRestore(**{"backup_dir": "backup", **kwargs})


def test_a_backup_folder_that_cannot_be_created(regression, tmp_path):
    x, y = regression
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"Cannot create the folder .*file/b.* for backup_dir="):
        make_model().fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(tmp_path / "file" / "b")])
