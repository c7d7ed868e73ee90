"""``Progbar``: Keras's progress bar for hand-written loops, drawn with tqdm."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from nnkit.errors import ConfigError


def _shown(value: float) -> str:
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


class Progbar:
    """A progress bar with running metric averages (Keras's ``keras.utils.Progbar``).

    Values passed to :meth:`update` are averaged over the steps they cover, unless their name is in
    ``stateful_metrics`` (shown as given; with ``stateless_metrics`` instead, only those are averaged).
    ``verbose=1`` draws a tqdm bar on stdout, ``verbose=2`` prints one line when the bar finishes, ``0``
    prints nothing. nnkit draws the bar with tqdm, so it looks like ``fit``'s progress bar rather than
    Keras's; the averages are Keras's.

    Args:
        target: Total number of steps, ``None`` if unknown.
        width: Width of the bar, in characters.
        verbose: 0 (silent), 1 (bar) or 2 (one line at the end).
        interval: Minimum seconds between two redraws.
        stateful_metrics: Names of values shown as given rather than averaged.
        unit_name: Name of a step (``'step'`` or ``'sample'``).
        stateless_metrics: Names of the only values to average (not together with ``stateful_metrics``).

    Example:
        >>> bar = Progbar(target=3, verbose=0)
        >>> for step in range(3):
        ...     bar.update(step + 1, values=[("loss", 1.0 / (step + 1))])
        >>> round(bar.average("loss"), 4)
        0.6111
    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics: Iterable[str] | None = None, unit_name: str = "step",
                 stateless_metrics: Iterable[str] | None = None) -> None:
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ConfigError("Only one of `stateful_metrics` or `stateless_metrics` can be provided: "
                              "`stateful_metrics` lists the values shown as given (the rest are averaged), "
                              "`stateless_metrics` the values averaged (the rest are shown as given).")
        if verbose not in (0, 1, 2) or isinstance(verbose, bool):
            raise ConfigError(f"Progbar verbose must be 0, 1 or 2. Received: verbose={verbose!r}.")
        self.target, self.width, self.verbose, self.interval, self.unit_name = target, width, verbose, interval, unit_name
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._values: dict[str, list[Any]] = {}  # name -> [sum of value * steps, steps], as Keras keeps them
        self._values_order: list[str] = []
        self._seen_so_far = 0
        self._start = time.time()
        self._bar: Any = None

    def __repr__(self) -> str:
        return f"Progbar(target={self.target}, current={self._seen_so_far}, verbose={self.verbose})"

    def _averaged(self, name: str) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def average(self, name: str) -> float:
        """The value shown for ``name``: its average over the steps so far, or its last value if stateful."""
        if name not in self._values:
            raise KeyError(f"Progbar has no value {name!r}; it has {self._values_order}.")
        total, count = self._values[name]
        return float(np.mean(np.asarray(total)) / max(1, count))

    def update(self, current: int, values: list[tuple[str, Any]] | None = None, finalize: bool | None = None) -> None:
        """Move the bar to step ``current``.

        Args:
            current: Index of the current step (steps done so far).
            values: ``(name, value_for_last_step)`` pairs; an averaged value counts once per step covered
                since the previous update.
            finalize: Whether this is the last update; by default ``current >= target``.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if name not in self._values_order:
                self._values_order.append(name)
            if not self._averaged(name) or finalize:  # a final value is taken as the overall one, as in Keras
                self._values[name] = [value, 1]
                continue
            steps = max(current - self._seen_so_far, 1)
            if name in self._values:
                self._values[name][0] += value * steps
                self._values[name][1] += steps
            else:
                self._values[name] = [value * steps, steps]
        self._seen_so_far = current
        if self.verbose == 1:
            self._draw(current, finalize)
        elif self.verbose == 2 and finalize and self.target:
            self._print_line(current)

    def add(self, n: int, values: list[tuple[str, Any]] | None = None) -> None:
        """Advance the bar by ``n`` steps (see :meth:`update`)."""
        self.update(self._seen_so_far + n, values)

    def _summary(self) -> str:
        return " - ".join(f"{name}: {_shown(self.average(name))}" for name in self._values_order)

    def _draw(self, current: int, finalize: bool) -> None:
        if self._bar is None:
            from tqdm.auto import tqdm

            total = self.target if self.target else None
            self._bar = tqdm(total=total, unit=self.unit_name, file=sys.stdout, mininterval=self.interval,
                             dynamic_ncols=True, leave=True,
                             bar_format=f"{{n_fmt}}/{{total_fmt}} |{{bar:{self.width}}}| {{elapsed}}<{{remaining}}"
                                        "{postfix}" if total else "{n_fmt}/Unknown {elapsed}{postfix}")
        self._bar.set_postfix_str(self._summary(), refresh=False)
        self._bar.update(current - self._bar.n)
        if finalize:
            self._bar.close()
            self._bar = None

    def _print_line(self, current: int) -> None:
        seconds = time.time() - self._start
        per_step = seconds / max(current, 1)
        pace = (f"{per_step:.0f}s" if per_step >= 1 or per_step == 0 else f"{per_step * 1e3:.0f}ms"
                if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us")
        line = f"{current}/{self.target} - {seconds:.0f}s - {pace}/{self.unit_name}"
        print(" - ".join([line, self._summary()]) if self._values_order else line, file=sys.stdout, flush=True)
