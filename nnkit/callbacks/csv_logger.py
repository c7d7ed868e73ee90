"""CSVLogger: one row of epoch logs per epoch in a CSV file."""

from __future__ import annotations

import collections.abc
import csv
import os
from typing import Any

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError
from nnkit.utils.atomic import ensure_folder


class CSVLogger(Callback):
    """Write ``epoch`` and every logged value to ``filename`` after each epoch, in Keras's layout.

    The columns are the first epoch's keys, sorted (when that epoch has no validation results, the
    ``val_`` columns are added too and hold ``NA`` until validation runs, as in Keras). The file is opened
    for each row and closed after it, so every finished epoch is on disk and a crash leaves no open file.
    With :class:`BackupAndRestore`, a resumed run cuts the file back to the rows of the
    backed-up epochs and continues it, so the file matches an uninterrupted run.

    Args:
        filename: Path of the CSV file (its folder is created).
        separator: Field separator.
        append: Append to an existing file (and write the header only if the file is empty).

    Raises:
        ConfigError: the folder of ``filename`` cannot be created or written (at the start of training).
    """

    main_process_only = True  # in distributed training only rank 0 writes (nnkit.distributed)

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise ConfigError(f"CSVLogger expects a file path. Received: filename={filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ConfigError(f"CSVLogger expects a one-character separator. Received: separator={separator!r}.")
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self.append_header = True
        self._mode = "w"
        self._size = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        ensure_folder(self.filename, "filename")
        self.keys, self._size, self.append_header = None, 0, True
        self._mode = "a" if self.append else "w"  # "w" truncates at the first row, not before
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self.append_header = not f.readline()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
        with open(self.filename, self._mode, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.append_header:
                writer.writeheader()
            writer.writerow({"epoch": epoch, **{key: _cell(logs.get(key, "NA")) for key in self.keys}})
            self._size = f.tell()
        self._mode, self.append_header = "a", False

    def get_state(self) -> dict[str, Any]:
        return {"keys": self.keys, "size": self._size}

    def set_state(self, state: dict[str, Any]) -> None:
        # Cut the file back to the rows of the backed-up epochs (a killed run may have written more).
        self.keys, self._size = state["keys"], int(state["size"])
        if os.path.exists(self.filename):
            os.truncate(self.filename, min(self._size, os.path.getsize(self.filename)))
        self._mode, self.append_header = "a", self._size == 0

    def __repr__(self) -> str:
        return f"CSVLogger({self.filename!r}, separator={self.sep!r}, append={self.append})"


def _cell(value: Any) -> Any:
    """A log value as Keras writes it: strings and numbers as they are, sequences as ``"[a, b]"``."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and getattr(value, "ndim", 1) != 0:
        return f'"[{", ".join(map(str, value))}]"'
    return value
