"""Progress output: a tqdm bar per epoch (``verbose=1``) or one line per epoch (``verbose=2``).

A bar needs a terminal: when standard output is a file or a pipe (``nnkit train ... > log.txt``), or
interactive logging is off (:func:`nnkit.config.disable_interactive_logging`), ``verbose=1`` prints the line
per epoch of ``verbose=2`` instead of hundreds of redrawn bars.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from nnkit import config
from nnkit.callbacks.callback import Callback

# Seconds between two refreshes of the running metrics (each refresh reads the device once).
REFRESH_SECONDS = 0.25


def format_logs(logs: dict[str, Any]) -> str:
    """``'loss: 0.1234 - accuracy: 0.9000'``, as Keras prints them."""
    parts = []
    for key, value in logs.items():
        if isinstance(value, float):
            shown = f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return " - ".join(parts)


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a progress bar can redraw its line there)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class ProgbarLogger(Callback):
    """Prints progress; added by ``fit``, ``evaluate`` and ``predict`` when ``verbose`` is on.

    Args:
        verbose: 1 for a progress bar per epoch, 2 for one line per epoch (``None``: take the run's).
    """

    main_process_only = True  # in distributed training only rank 0 writes (nnkit.distributed)

    def __init__(self, verbose: int | None = None) -> None:
        super().__init__()
        self.verbose = verbose
        self._bar: Any = None
        self._in_fit = False
        self._seen = 0
        self._last = 0.0
        self._start = 0.0

    def _mode(self) -> int:
        mode = self.verbose if self.verbose is not None else int(self.params.get("verbose", 1))
        bars = config.is_interactive_logging_enabled() and is_terminal(sys.stdout)
        return 2 if mode == 1 and not bars else mode

    def _open_bar(self, total: int | None, desc: str | None) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="step", file=sys.stdout, dynamic_ncols=True, leave=True,
                         bar_format="{desc}{n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}{postfix}")
        self._seen, self._last = 0, time.monotonic()

    def _advance(self, batch: int, logs: dict | None) -> None:
        self._seen = batch + 1
        now = time.monotonic()
        if self._bar is not None and now - self._last >= REFRESH_SECONDS:
            self._last = now
            if logs:
                self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.update(self._seen - self._bar.n)

    def _close_bar(self, logs: dict | None) -> None:
        if self._bar is None:
            return
        if logs:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
        self._bar.update(self._seen - self._bar.n)
        self._bar.close()
        self._bar = None

    # -- fit ----------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._in_fit = True

    def on_train_end(self, logs: dict | None = None) -> None:
        self._in_fit = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        epochs = self.params.get("epochs")
        self._start = time.monotonic()
        self._seen = 0
        if self._mode() == 1:
            print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout)
            self._open_bar(self.params.get("steps"), None)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._advance(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._mode() == 1:
            self._close_bar(logs)
        elif self._mode() == 2:
            seconds = time.monotonic() - self._start
            steps = self._seen or self.params.get("steps") or 1
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", file=sys.stdout)
            per_step = seconds / steps
            pace = f"{1e3 * per_step:.0f}ms/step" if per_step >= 1e-3 else f"{1e6 * per_step:.0f}us/step"
            print(f"{steps}/{steps} - {seconds:.0f}s - {pace} - {format_logs(logs or {})}", file=sys.stdout,
                  flush=True)

    # -- evaluate and predict (validation inside fit stays quiet, as in Keras) ---------------------
    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._in_fit and self._mode() == 1:
            self._open_bar(self.params.get("steps"), None)

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._in_fit:
            self._advance(batch, logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        if self._in_fit:
            return
        if self._mode() == 1:
            self._close_bar(logs)
        elif self._mode() == 2:
            print(format_logs(logs or {}), file=sys.stdout, flush=True)

    def on_predict_begin(self, logs: dict | None = None) -> None:
        if self._mode() == 1:
            self._open_bar(self.params.get("steps"), None)

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._advance(batch, None)

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._close_bar(None)
