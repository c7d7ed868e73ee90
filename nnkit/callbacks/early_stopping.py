"""EarlyStopping: stop training when a monitored value has stopped improving."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.callbacks.monitor import MonitorCallback
from nnkit.errors import ConfigError


class EarlyStopping(MonitorCallback):
    """Stop training once ``monitor`` has not improved for ``patience`` epochs (Keras 3 semantics).

    Args:
        monitor: Logged value to watch (``'val_loss'`` by default).
        min_delta: Smallest change that counts as an improvement.
        patience: Epochs without improvement after which training stops.
        verbose: 1 prints when training stops and when weights are restored.
        mode: ``'auto'``, ``'min'`` or ``'max'``.
        baseline: Training also stops if the value does not beat this within ``patience`` epochs.
        restore_best_weights: At the end of training, put back the weights of the best epoch (even if
            training was not stopped early, as Keras 3 does).
        start_from_epoch: Epochs to wait before watching (warm-up).

    Attributes:
        stopped_epoch: 0-based epoch at which training stopped (0 if it did not stop early).
        best_epoch: 0-based epoch with the best value.
        wait: Epochs since the last improvement.

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])  # doctest: +SKIP
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        for key, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"EarlyStopping expects `{key}` to be a non-negative int. Received: {key}={value!r}.")
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def _weights(self) -> list[np.ndarray]:
        # Copies: on the CPU, get_weights() may return views that training would keep changing.
        return [np.array(w, copy=True) for w in self.model.get_weights()]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self._weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_state(self) -> dict[str, Any]:
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def set_state(self, state: dict[str, Any]) -> None:
        self.wait, self.stopped_epoch, self.best = state["wait"], state["stopped_epoch"], state["best"]
        self.best_epoch, self.best_weights = state["best_epoch"], state["best_weights"]

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, mode={self.mode!r}, "
                f"min_delta={self.min_delta}, restore_best_weights={self.restore_best_weights})")
