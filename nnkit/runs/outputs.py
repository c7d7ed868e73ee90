"""The run folder: where it goes, and the files in it, each written atomically.

A run folder holds ``model.nnkit`` (reload with :func:`nnkit.models.load_model`), ``history.csv`` and
``history.png`` (learning curves), ``metrics.json`` (test metrics), ``config.yaml`` (the resolved
config), for classifiers ``classes.json`` (class names in output order) and ``confusion_matrix.png`` (and
``class_names.json`` when a named dataset's classes have names, e.g. iris's ``setosa`` for 0), and for
a .csv file with a header row ``columns.json`` (its feature columns in input order, and the target column);
a search adds ``cv_results.csv``. Nothing is written until training has finished, and every file is
replaced in one step, so a failed run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

import numpy as np

from nnkit.errors import WriteError
from nnkit.utils.atomic import atomic_write

MODEL_FILE = "model.nnkit"
HISTORY_CSV = "history.csv"
HISTORY_PLOT = "history.png"
CONFUSION_PLOT = "confusion_matrix.png"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
CLASSES_FILE = "classes.json"
CLASS_NAMES_FILE = "class_names.json"
COLUMNS_FILE = "columns.json"
CV_RESULTS = "cv_results.csv"


def plain(value: Any) -> Any:
    """NumPy scalars and arrays -> Python numbers and lists, for JSON and YAML."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_file(path: str, data: str | bytes) -> None:
    """``atomic_write``, with a failure (a full disk, a read-only folder) as a :class:`~nnkit.errors.WriteError`
    that names the file and the cause."""
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise WriteError.of(path, exc) from exc


def write_json(path: str, value: Any) -> None:
    """Write JSON atomically; NaN and infinities become ``null`` (strict JSON has no such numbers)."""
    def finite(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, list):
            return [finite(x) for x in v]
        return v

    write_file(path, json.dumps(finite(plain(value)), indent=2) + "\n")


def write_yaml(path: str, value: Any, header: str | None = None) -> None:
    """Write YAML atomically (``yaml.safe_dump``: plain types only, key order kept), after a ``# header`` line."""
    import yaml

    text = yaml.safe_dump(plain(value), sort_keys=False, default_flow_style=None, allow_unicode=True)
    write_file(path, (f"# {header}\n" if header else "") + text)


def write_history(path: str, history: dict[str, list[Any]]) -> None:
    """``history.csv`` in :class:`~nnkit.callbacks.CSVLogger`'s layout: ``epoch`` (from 0), then the sorted keys."""
    keys = sorted(history)
    epochs = max((len(v) for v in history.values()), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(epochs):
        writer.writerow([epoch, *(_cell(history[k], epoch) for k in keys)])
    write_file(path, buffer.getvalue())


def _cell(values: list[Any], epoch: int) -> Any:
    if epoch >= len(values) or values[epoch] is None:
        return "NA"
    value = plain(values[epoch])
    return repr(value) if isinstance(value, float) else value


def write_table(path: str, header: list[str], rows: list[list[Any]]) -> None:
    """A CSV file with ``header`` and ``rows``, written atomically with the csv module."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[plain(cell) for cell in row] for row in rows])
    write_file(path, buffer.getvalue())


def write_run_folder(run_dir: str, *, model: Any, config: dict[str, Any], history: dict[str, list[Any]],
                     metrics: dict[str, float] | None, classes: list[Any] | None, y_true: np.ndarray | None = None,
                     y_pred: np.ndarray | None = None, labels: list[str] | None = None,
                     columns: dict[str, Any] | None = None, restored_epoch: int | None = None) -> list[str]:
    """Write the files of a finished run; returns their paths.

    Raises:
        WriteError: a file cannot be written (an ``OSError`` naming it: a full disk, a read-only folder); the
            files written before it stay.

    Args:
        run_dir: The folder (created if needed).
        model: The trained model (saved as ``model.nnkit``).
        config: The resolved config (``config.yaml``).
        history: Per-epoch logs (``history.csv``, ``history.png``).
        metrics: Test metrics (``metrics.json``); ``None`` for an interrupted run, not evaluated.
        classes: Class names (``classes.json``) or ``None`` for a regression.
        y_true, y_pred: Test class ids and predicted ids, for ``confusion_matrix.png``.
        labels: How to show each class in ``confusion_matrix.png`` (e.g. iris's ``setosa``); the classes by
            default.
        columns: The training file's column names (``columns.json``), so predictions match inputs by name.
        restored_epoch: The epoch (1-based) whose weights EarlyStopping restored, marked in ``history.png``.
    """
    from nnkit.utils.plotting import plot_confusion_matrix, plot_history, save_figure

    written = []

    def path(name: str) -> str:
        written.append(os.path.join(run_dir, name))
        return written[-1]

    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as exc:
        raise WriteError.of(run_dir, exc) from exc
    model.save(path(MODEL_FILE))
    write_history(path(HISTORY_CSV), history)
    if metrics is not None:
        write_json(path(METRICS_FILE), metrics)
    write_yaml(path(CONFIG_FILE), config, header="The resolved config of this run (overrides applied, defaults filled in); "
               "`nnkit train` accepts it as it is.")
    if columns is not None:
        write_json(path(COLUMNS_FILE), columns)
    figures = ([(plot_history(history, restored_epoch=restored_epoch), HISTORY_PLOT)]
               if any(len(v) for v in history.values()) else [])
    if classes is not None:
        write_json(path(CLASSES_FILE), classes)
        if labels is not None and list(labels) != [str(c) for c in classes]:
            write_json(path(CLASS_NAMES_FILE), list(labels))
        if y_true is not None and y_pred is not None:
            names = list(labels) if labels is not None else [str(c) for c in classes]
            figure = plot_confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=names)
            figures.append((figure, CONFUSION_PLOT))
    import matplotlib.pyplot as plt

    for figure, name in figures:
        try:
            save_figure(figure, path(name))
        finally:
            plt.close(figure)
    return written


def read_classes(model_path: str) -> list[Any] | None:
    """The class names saved next to a model file (``classes.json``), or ``None``."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), CLASSES_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        classes = json.load(f)
    return classes if isinstance(classes, list) else None


def read_class_names(model_path: str) -> list[str] | None:
    """How to show each class (``class_names.json``, e.g. iris's ``setosa``), else the class names
    (``classes.json``) as text, or ``None``."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), CLASS_NAMES_FILE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            names = json.load(f)
        if isinstance(names, list):
            return [str(name) for name in names]
    classes = read_classes(model_path)
    return None if classes is None else [str(c) for c in classes]


def read_columns(model_path: str) -> dict[str, Any] | None:
    """The training file's column names saved next to a model file (``columns.json``), or ``None``."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), COLUMNS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        columns = json.load(f)
    return columns if isinstance(columns, dict) and isinstance(columns.get("features"), list) else None
