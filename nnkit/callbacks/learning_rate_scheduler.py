"""LearningRateScheduler: set the learning rate at the start of every epoch from a function."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError


def _takes_learning_rate(schedule: Callable) -> bool:
    """Whether ``schedule`` accepts ``(epoch, lr)`` rather than ``(epoch)``."""
    try:
        parameters = list(inspect.signature(schedule).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature: call them Keras's usual way
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


class LearningRateScheduler(Callback):
    """At the start of each epoch, set ``model.optimizer.learning_rate = schedule(epoch, lr)``.

    For per-step schedules, pass a :mod:`nnkit.optimizers.schedules` object as the optimizer's
    ``learning_rate`` instead. Each epoch's logs get the rate it trained with as ``learning_rate``.

    Args:
        schedule: ``schedule(epoch, lr) -> float`` or ``schedule(epoch) -> float``; ``epoch`` is 0-based.
        verbose: 1 prints each change.

    Example:
        >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.5)
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"LearningRateScheduler expects a function schedule(epoch, lr). Received: {schedule!r}.")
        self.schedule, self.verbose = schedule, verbose
        self._with_lr = _takes_learning_rate(schedule)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if self._with_lr:
            value = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            value = self.schedule(epoch)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ConfigError(f"The LearningRateScheduler schedule must return a finite float. At epoch {epoch} it "
                              f"returned {value!r}.")
        optimizer.learning_rate = float(value)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(value)}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)

    def __repr__(self) -> str:
        return f"LearningRateScheduler({getattr(self.schedule, '__name__', self.schedule)!r})"
