"""BackupAndRestore: resume a training run that was killed, exactly where its last backup left it."""

from __future__ import annotations

import os
from typing import Any

from nnkit import distributed
from nnkit.callbacks.callback import Callback
from nnkit.callbacks.checkpointing import load_optimizer, load_weights, optimizer_state, weights_state
from nnkit.callbacks.model_checkpoint import check_save_freq
from nnkit.errors import ConfigError, DataError
from nnkit.utils.atomic import ensure_folder
from nnkit.utils.rng_state import get_rng_state, set_rng_state
from nnkit.utils.state_file import load_state, save_state


class BackupAndRestore(Callback):
    """Back up the whole training state regularly; a re-run of the same script resumes from it.

    A backup holds the weights, the optimizer state (moments, step count, learning rate), the epoch and
    batch reached, the random number generator states (Python, NumPy, torch) and the state of every
    callback that has one (``EarlyStopping``'s wait count and best weights, ``ReduceLROnPlateau``'s
    cooldown, ``ModelCheckpoint``'s best value, ``CSVLogger``'s rows, ``History``). A process killed at any
    point (even by SIGKILL, even mid-write: writes are atomic) and started again with the same script and
    ``fit`` arguments continues from the last backup and, on CPU, ends with exactly the weights of an
    uninterrupted run.

    Backups are taken at the start of every epoch after the first one the process runs, and with an int
    ``save_freq`` also every ``save_freq`` batches. The callback always runs first in the callback list, so a
    backup sees every other callback between two epochs (or batches). A run resumed mid-epoch skips the
    batches already trained (same shuffled order); that epoch's training logs then cover only the batches
    run after resuming, while validation logs are complete. When training ends, the backup is deleted
    (``delete_checkpoint=True``) or updated to the final state.

    Args:
        backup_dir: Folder for the backup files (created; keep it for this run only).
        save_freq: ``'epoch'``, or also back up every this many batches.
        double_checkpoint: Keep the previous backup too, and fall back to it if the latest is unreadable.
        delete_checkpoint: Delete the backup when training ends.

    Raises:
        ConfigError: empty ``backup_dir`` or bad ``save_freq``; at the start of training, a folder that cannot
            be created or written; on resume, a backup made with different callbacks or batches per epoch.

    Example:
        >>> backup = BackupAndRestore("run1_backup")
        >>> model.fit(x, y, epochs=50, callbacks=[backup])  # doctest: +SKIP  (re-run after a crash: resumes)
    """

    def __init__(self, backup_dir: str | os.PathLike[str], save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise ConfigError(f"BackupAndRestore expects a folder path. Received: backup_dir={backup_dir!r}.")
        check_save_freq(save_freq, "BackupAndRestore")
        self.backup_dir, self.save_freq = os.fspath(backup_dir), save_freq
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self._latest = os.path.join(self.backup_dir, "latest.safetensors")
        self._previous = os.path.join(self.backup_dir, "previous.safetensors")
        self._others: list[Callback] = []
        self._backup: dict[str, Any] | None = None  # loaded at train begin, applied when resuming
        self._rng_epoch: dict[str, Any] | None = None
        self._epoch, self._completed, self._since_backup, self._first_epoch = 0, None, 0, True
        if save_freq != "epoch":  # bound per instance: with 'epoch', no batch hook runs at all
            self.on_train_batch_begin = self._on_train_batch_begin

    # -- restoring -----------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        ensure_folder(self.backup_dir, "backup_dir", is_folder=True)
        self._backup, self._rng_epoch, self._completed = self._read(), None, None
        self._since_backup, self._first_epoch = 0, True

    def _read(self) -> dict[str, Any] | None:
        for path in (self._latest, self._previous) if self.double_checkpoint else (self._latest,):
            try:
                return load_state(path)
            except FileNotFoundError:
                continue
            except DataError as exc:
                if self.double_checkpoint and path == self._latest and os.path.exists(self._previous):
                    continue
                raise DataError(f"{exc} Delete {self.backup_dir!r} to start training over.") from exc
        return None

    def restore_backup(self, callbacks: list[Callback]) -> tuple[int, int] | None:
        """Called by the training loop after ``on_train_begin``: restore the backup, if any.

        Returns:
            ``(epoch, batches_done)`` to resume from, or ``None`` without a backup.
        """
        self._others = [cb for cb in callbacks if cb is not self]
        backup = self._backup
        if backup is None:
            return None
        if backup["batch"] and backup.get("steps") != self.params.get("steps"):
            raise ConfigError(
                f"The backup in {self.backup_dir!r} was made at batch {backup['batch']} of an epoch of "
                f"{backup.get('steps')} batches, but this fit() has {self.params.get('steps')} batches per epoch. "
                f"Resume with the same data and batch_size, or delete {self.backup_dir!r} to start over."
            )
        if not backup["batch"]:  # between epochs: restore now, before any on_epoch_begin
            self._apply(backup)
            set_rng_state(backup["rng"])
        return int(backup["epoch"]), int(backup["batch"])

    def _apply(self, backup: dict[str, Any]) -> None:
        self._backup = None
        load_weights(self.model, backup)
        load_optimizer(self.model, backup)
        stateful = [(cb, cb.get_state()) for cb in self._others]
        stateful = [cb for cb, state in stateful if state is not None]
        # in distributed training, callbacks that run on rank 0 only (CSVLogger, ...) are absent elsewhere
        saved = [entry for entry in backup["callbacks"]
                 if distributed.is_main_process() or not entry.get("main_process_only", False)]
        if [entry["class"] for entry in saved] != [type(cb).__name__ for cb in stateful]:
            raise ConfigError(
                f"The backup in {self.backup_dir!r} holds the state of the callbacks "
                f"{[entry['class'] for entry in saved]}, but this fit() has {[type(cb).__name__ for cb in stateful]}. "
                f"Resume with the same callbacks, or delete {self.backup_dir!r} to start over."
            )
        for cb, entry in zip(stateful, saved):
            cb.set_state(entry["state"])

    # -- backing up ----------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch, self._since_backup = epoch, 0
        if self._backup is not None:  # resuming mid-epoch: replay this epoch's shuffling
            self._rng_epoch = self._backup["rng_epoch"]
            set_rng_state(self._rng_epoch)
            self._first_epoch = False
            return
        self._rng_epoch = get_rng_state()
        if not self._first_epoch:  # the first epoch of a process starts from its inputs or from a backup
            self._save(epoch, 0)
        self._first_epoch = False

    def _on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._backup is not None:  # the first batch after resuming mid-epoch
            backup = self._backup
            self._apply(backup)
            set_rng_state(backup["rng"])
            return
        if batch == 0:
            return
        self._since_backup += 1
        if self._since_backup >= self.save_freq:
            self._save(self._epoch, batch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._backup is not None:
            raise ConfigError(f"The backup in {self.backup_dir!r} was made at batch {self._backup['batch']} of epoch "
                              f"{epoch + 1}, but this epoch ended before that batch. Resume with the same data and "
                              f"batch_size, or delete {self.backup_dir!r} to start over.")
        self._completed = epoch + 1

    def _save(self, epoch: int, batch: int) -> None:
        self._since_backup = 0
        if not distributed.is_main_process():  # in distributed training, rank 0 writes for all
            return
        rng = get_rng_state()
        state = {
            "kind": "backup", "epoch": epoch, "batch": batch, "steps": self.params.get("steps"),
            "weights": weights_state(self.model), "optimizer": optimizer_state(self.model),
            "rng_epoch": self._rng_epoch if batch else rng, "rng": rng,
            "callbacks": [{"class": type(cb).__name__, "state": state,
                           "main_process_only": getattr(cb, "main_process_only", False)}
                          for cb in self._others if (state := cb.get_state()) is not None],
        }
        if self.double_checkpoint and os.path.exists(self._latest):
            os.replace(self._latest, self._previous)
        save_state(self._latest, state)

    def on_train_end(self, logs: dict | None = None) -> None:
        if not self.delete_checkpoint:
            if self._completed is not None:
                self._save(self._completed, 0)
        elif distributed.is_main_process():
            for path in (self._latest, self._previous):
                if os.path.exists(path):
                    os.remove(path)
            if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)
        distributed.barrier()  # no rank starts another fit (and reads the folder) before rank 0 is done with it

    def __repr__(self) -> str:
        return f"BackupAndRestore({self.backup_dir!r}, save_freq={self.save_freq!r})"
