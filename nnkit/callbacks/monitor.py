"""MonitorCallback: the shared logic of callbacks that watch one logged value (``monitor``, ``mode``)."""

from __future__ import annotations

import warnings
from typing import Any

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError
from nnkit.registry import closest

MODES = ("auto", "min", "max")
# Name fragments of logged values that improve upwards, for mode="auto" when a metric does not say.
_UPWARD = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2")
_DOWNWARD = ("loss", "error", "crossentropy", "hinge", "mse", "mae", "mape", "msle", "poisson", "divergence",
             "cosh", "huber")


class MonitorCallback(Callback):
    """Base of callbacks that compare a logged value (``monitor``) to the best seen so far.

    Args:
        monitor: Key of the epoch logs to watch, e.g. ``'val_loss'`` or ``'accuracy'``.
        mode: ``'min'``, ``'max'``, or ``'auto'`` (losses and errors go down; accuracy-like metrics up).
        baseline: Initial best value (``None``: the first value is the first best).
        min_delta: Smallest change that counts as an improvement.

    Raises:
        ConfigError: ``mode`` is not ``'auto'``, ``'min'`` or ``'max'``.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0.0) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"{name} expects `monitor` to be the name of a logged value such as 'val_loss'. "
                              f"Received: monitor={monitor!r}.")
        if mode not in MODES:
            raise ConfigError(f"{name} expects `mode` to be one of 'auto', 'min', 'max'. Received: mode={mode!r}.")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)):
            raise ConfigError(f"{name} expects `min_delta` to be a number. Received: min_delta={min_delta!r}.")
        self.monitor, self.mode, self.best = monitor, mode, baseline
        self.min_delta = abs(float(min_delta))
        self.direction: str | None = None  # "min" or "max", resolved from `mode` on the first epoch
        self._warned_missing = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._warned_missing = False

    def _resolve_direction(self) -> str:
        if self.direction is None:
            self.direction = self.mode if self.mode != "auto" else self._auto_direction()
        return self.direction

    def _auto_direction(self) -> str:
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("_loss"):
            return "min"
        for metric in getattr(self.model, "metrics", None) or []:
            if getattr(metric, "name", None) == name:
                declared = getattr(metric, "direction", None) or getattr(metric, "_direction", None)
                if declared in ("up", "down"):
                    return "max" if declared == "up" else "min"
        if any(part in name for part in _UPWARD):
            return "max"
        if any(part in name for part in _DOWNWARD):
            return "min"
        raise ConfigError(
            f"{type(self).__name__} cannot tell whether monitor='{self.monitor}' should go up or down. "
            "Pass mode='max' (higher is better) or mode='min' (lower is better)."
        )

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        direction = self._resolve_direction()  # first, so an unknown direction fails on the first epoch
        if reference is None:
            return True
        if direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def get_monitor_value(self, logs: dict[str, Any] | None) -> float | None:
        """The monitored value in ``logs``, or ``None`` if this epoch has none (e.g. no validation ran).

        Raises:
            ConfigError: the key can never appear in these logs (a typo); the message lists the keys.
        """
        logs = logs if logs is not None else {}
        value = logs.get(self.monitor)
        if value is not None:
            return float(value)
        keys = list(logs)
        available = ", ".join(keys) or "none"
        validation_missing = self.monitor.startswith("val_") and not any(k.startswith("val_") for k in keys)
        if not validation_missing:
            guess = closest(self.monitor, keys)
            hint = f" Did you mean '{guess}'?" if guess else ""
            where = getattr(self, "config_path", None)  # set for callbacks made from a config (fit.callbacks[i])
            raise ConfigError(("" if where is None else f"{where}.monitor: ")
                              + f"{type(self).__name__} monitors '{self.monitor}', which is not in the logs.{hint} "
                              f"Available keys: {available}.")
        if not self._warned_missing:
            self._warned_missing = True
            warnings.warn(
                f"{type(self).__name__} monitors '{self.monitor}', but the logs hold no validation results "
                f"(available keys: {available}). Pass validation_data or validation_split to fit(), or monitor "
                "a training value such as 'loss'. Epochs without validation are skipped.",
                UserWarning, stacklevel=2,
            )
        return None
