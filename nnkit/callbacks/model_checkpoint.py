"""ModelCheckpoint: save the model (or its weights) during training, optionally only the best one."""

from __future__ import annotations

import os
from typing import Any

from nnkit.callbacks.monitor import MonitorCallback
from nnkit.errors import ConfigError
from nnkit.utils.atomic import ensure_folder


def check_save_freq(save_freq: Any, owner: str) -> None:
    """``save_freq`` is ``'epoch'`` or a positive number of batches."""
    if save_freq == "epoch":
        return
    if isinstance(save_freq, bool) or not isinstance(save_freq, int):
        raise ConfigError(f"{owner} expects save_freq='epoch' or a positive int (a number of batches). "
                          f"Received: save_freq={save_freq!r}.")
    if save_freq <= 0:
        raise ConfigError(f"{owner} expects save_freq='epoch' or a positive int (a number of batches). "
                          f"Received: save_freq={save_freq}.")


class ModelCheckpoint(MonitorCallback):
    """Save a checkpoint at the end of every epoch (or every ``save_freq`` batches).

    Files are what ``model.save`` / ``model.save_weights`` write (safetensors + JSON, never unpickled; the
    extension of ``filepath`` is not interpreted) and every write is atomic, so a crash mid-save leaves
    the previous file intact.

    - ``save_weights_only=True``: the weights; load them with ``model.load_weights(path)``.
    - ``save_weights_only=False``: the whole model (architecture, compile settings, weights, optimizer
      state); ``nnkit.models.load_model(path)`` rebuilds it, ready to continue training.

    Args:
        filepath: Where to save; may contain ``{epoch:02d}`` (1-based), ``{batch}`` (1-based, batch saves)
            and any logged value, e.g. ``"ckpt/{epoch:02d}-{val_loss:.2f}.safetensors"``.
        monitor: Logged value deciding which checkpoint is best (with ``save_best_only``).
        verbose: 1 prints every save decision.
        save_best_only: Save only when ``monitor`` improves (an unchanged path then always holds the best).
        save_weights_only: Save only the weights (see above).
        mode: ``'auto'``, ``'min'`` or ``'max'``.
        save_freq: ``'epoch'``, or save every this many batches.
        initial_value_threshold: A value to beat before the first save (with ``save_best_only``).

    Raises:
        ConfigError: bad ``mode`` or ``save_freq``; at the start of training, a folder that cannot be
            created or written.
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise ConfigError(f"ModelCheckpoint expects a file path. Received: filepath={filepath!r}.")
        check_save_freq(save_freq, "ModelCheckpoint")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None
        self._current_epoch = 0
        if save_freq != "epoch":  # bound per instance: with 'epoch', no batch hook runs at all
            self.on_train_batch_end = self._on_train_batch_end

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        folder = os.path.dirname(self.filepath)
        if "{" not in folder:  # a formatted folder is only known when saving
            ensure_folder(self.filepath)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._current_epoch = epoch

    def _on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> str:
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"ModelCheckpoint cannot fill in filepath={self.filepath!r}: {exc!r}. Fields available: "
                              f"{', '.join(fields)}.") from exc

    def _should_save(self, epoch: int, logs: dict[str, Any], path: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = self.get_monitor_value(logs)
        if current is None:  # e.g. no validation this epoch: save, as Keras does (warned once)
            return True
        previous = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {previous}")
        return False

    def _save(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = dict(logs or {})
        path = self._file_path(epoch, batch, logs)
        if os.path.isdir(path):
            raise ConfigError(f"ModelCheckpoint's filepath {path!r} is an existing folder; give a file path, e.g. "
                              f"{os.path.join(path, 'model.safetensors')!r}.")
        if self._should_save(epoch, logs, path):
            if self.save_weights_only:
                self.model.save_weights(path)
            else:
                self.model.save(path)

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best, "batches_seen": self._batches_seen_since_last_saving,
                "last_batch_seen": self._last_batch_seen, "epoch": self._current_epoch}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best, self._batches_seen_since_last_saving = state["best"], state["batches_seen"]
        self._last_batch_seen, self._current_epoch = state["last_batch_seen"], state["epoch"]

    def __repr__(self) -> str:
        return (f"ModelCheckpoint({self.filepath!r}, monitor={self.monitor!r}, save_best_only={self.save_best_only}, "
                f"save_weights_only={self.save_weights_only}, save_freq={self.save_freq!r})")
