"""Ctrl-C during `nnkit train`: keep the run at its last finished epoch, and resume it later.

While a run trains, :class:`EpochSnapshot` keeps, in memory on the CPU, the state at the start of the epoch
being trained: the weights, the optimizer state, the random number generator states and the state of every
callback that has one (``History``, ``EarlyStopping``, ``CSVLogger``, ...). On Ctrl-C, the run folder gets
the model of the last finished epoch, its history, ``INTERRUPTED.txt`` (what happened, how to resume) and
``resume.safetensors`` (that state). ``nnkit train CONFIG --resume RUN_FOLDER`` restores it and trains the
remaining epochs in the same folder; on the CPU the result is that of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from typing import Any

from nnkit.callbacks.callback import Callback
from nnkit.callbacks.checkpointing import load_optimizer, load_weights, optimizer_state
from nnkit.errors import ConfigError, DataError, WriteError
from nnkit.runs.outputs import write_file
from nnkit.utils.rng_state import get_rng_state, set_rng_state
from nnkit.utils.state_file import load_state, save_state

INTERRUPTED_FILE = "INTERRUPTED.txt"
RESUME_FILE = "resume.safetensors"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C after some epochs had finished; the run folder holds the run so far.

    Attributes:
        run_dir: The run folder.
        epochs_done: Epochs finished (the model in the folder is the one at their end).
        epochs: Epochs the run asked for.
        resume_hint: The command that resumes it.
    """

    def __init__(self, run_dir: str, epochs_done: int, epochs: int, resume_hint: str) -> None:
        super().__init__(f"interrupted after epoch {epochs_done} of {epochs}; the run so far is in {run_dir}")
        self.run_dir, self.epochs_done, self.epochs, self.resume_hint = run_dir, epochs_done, epochs, resume_hint


def cpu_copy(value: Any) -> Any:
    """A deep copy of nested dicts, lists and tuples whose tensors are copied to the CPU."""
    import copy

    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: cpu_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(cpu_copy(item) for item in value)
    return copy.deepcopy(value)


class EpochSnapshot(Callback):
    """Keeps the training state at the start of each epoch, to save it when training is interrupted; restores
    such a state (``resume``) when training starts.

    It takes part in the loop's backup protocol (:meth:`restore_backup`), so it runs before the other callbacks
    and sees them all.

    Args:
        resume: A state read from ``resume.safetensors``, to continue from.
    """

    def __init__(self, resume: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._resume, self._others = resume, []
        self._snapshot: dict[str, Any] | None = None
        self._in_epoch, self._done, self._finished = False, 0, False

    def restore_backup(self, callbacks: list[Callback]) -> tuple[int, int] | None:
        """Called by the training loop after ``on_train_begin``: restore the state to resume, if any."""
        self._others = [cb for cb in callbacks if cb is not self and not hasattr(cb, "restore_backup")]
        state, self._resume = self._resume, None
        if state is None:
            return None
        load_weights(self.model, state)
        load_optimizer(self.model, state)
        stateful = [cb for cb in self._others if cb.get_state() is not None]
        saved = state["callbacks"]
        if [entry["class"] for entry in saved] != [type(cb).__name__ for cb in stateful]:
            raise ConfigError(f"--resume: the interrupted run had the callbacks {[e['class'] for e in saved]}, this "
                              f"config has {[type(cb).__name__ for cb in stateful]}. Resume with the run's own "
                              "config.yaml (or the same fit.callbacks).")
        for cb, entry in zip(stateful, saved):
            cb.set_state(entry["state"])
        set_rng_state(state["rng"])
        self._done = int(state["epoch"])
        return (int(self.params["epochs"]) if state.get("finished") else self._done), 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._snapshot = self._take(epoch)
        self._in_epoch = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._in_epoch, self._done = False, epoch + 1

    def on_train_end(self, logs: dict | None = None) -> None:
        self._finished = True

    def _take(self, epoch: int) -> dict[str, Any]:
        rng = get_rng_state()
        return cpu_copy({
            "kind": "backup", "epoch": epoch, "batch": 0, "finished": self._finished,
            "weights": dict(self.model.module.state_dict()), "optimizer": optimizer_state(self.model),
            "rng_epoch": rng, "rng": rng,
            "callbacks": [{"class": type(cb).__name__, "state": state}
                          for cb in self._others if (state := cb.get_state()) is not None],
        })

    def interrupted_state(self) -> dict[str, Any] | None:
        """The state of the last finished epoch, or ``None`` when no epoch has finished (or none since resuming).

        Between epochs (or after training), the model's current state is that epoch's end state.
        """
        if not self._in_epoch and self.model is not None and (self._snapshot is None or
                                                               self._done > self._snapshot["epoch"]):
            self._snapshot = self._take(self._done)
        return self._snapshot if self._snapshot is not None and self._snapshot["epoch"] > 0 else None


def write_interrupted(folder: str, state: dict[str, Any], epochs: int, model: Any, resume_hint: str) -> None:
    """Put the model back to ``state`` and write ``INTERRUPTED.txt`` and ``resume.safetensors`` into ``folder``
    (the other files of the run folder are written by the caller)."""
    load_weights(model, state)
    load_optimizer(model, state)
    path = os.path.join(folder, RESUME_FILE)
    try:
        save_state(path, state)
    except OSError as exc:
        raise WriteError.of(path, exc) from exc
    done = int(state["epoch"])
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    write_file(os.path.join(folder, INTERRUPTED_FILE),
                 f"Training was interrupted on {when} after epoch {done} of {epochs}.\n"
                 f"model.nnkit is the model at the end of epoch {done}; history.csv holds epochs 0 to {done - 1}; "
                 "there are no test metrics yet.\n"
                 f"Resume with: {resume_hint}\n")


def read_resume_state(run_dir: str) -> dict[str, Any]:
    """The state an interrupted run left in ``run_dir``.

    Raises:
        ConfigError: ``run_dir`` is not the folder of an interrupted run.
        DataError: its ``resume.safetensors`` is damaged.
    """
    path = os.path.join(run_dir, RESUME_FILE)
    if not os.path.isdir(run_dir):
        raise ConfigError(f"--resume: {run_dir!r} is not a folder. Name the run folder of an interrupted run.")
    if not os.path.isfile(path):
        raise ConfigError(f"--resume: {run_dir!r} is not the folder of an interrupted run (it has no {RESUME_FILE}); "
                          "only a run stopped with Ctrl-C can be resumed.")
    state = load_state(path)
    if not isinstance(state, dict) or state.get("kind") != "backup" or "epoch" not in state:
        raise DataError(f"--resume: {path!r} is not a resume state (written when a run is interrupted).")
    return state


def clear_interrupted(run_dir: str) -> None:
    """A resumed run finished: its folder is no longer that of an interrupted run."""
    for name in (INTERRUPTED_FILE, RESUME_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(run_dir, name))
