"""Figures of training results: learning curves, confusion matrices, and a crash-safe way to save them.

The figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas, never pyplot ones: no GUI
backend, no global figure registry, and a figure is garbage-collected like any object. matplotlib is imported
on first use only, so ``import nnkit`` stays fast.

Example:
    >>> history = model.fit(x, y, validation_split=0.2, epochs=10)  # doctest: +SKIP
    >>> save_figure(plot_history(history), "curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.errors import ConfigError, DataError, WriteError
from nnkit.registry import closest
from nnkit.utils.atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NORMALIZE = (None, "true", "pred", "all")
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_MISSING = ("", "na", "nan", "none", "null")  # what CSV loggers write for an epoch without a value
_MAX_ANNOTATED_CLASSES = 50  # past this, cell texts overlap at any readable size


# -- learning curves ----------------------------------------------------------------------------------------
def plot_history(history: Any, metrics: list[str] | None = None, figsize: tuple[float, float] | None = None,
                 log_scale: bool | None = None, restored_epoch: int | None = None) -> Figure:
    """Plot the learning curves of a training run: one subplot per metric, training and validation.

    Each subplot shows a metric against the epoch number (1-based) with its ``val_`` counterpart when the
    logs hold one; ``loss`` comes first, then the other metrics in the order they were logged (a
    ``learning_rate`` series is a metric like any other). Epochs without a value (``None``, NaN, ``NA``
    in a CSV file) leave a gap in the curve. Series that are not numbers (strings, per-class lists) are
    left out unless ``metrics`` asks for them, which is an error.

    Args:
        history: What ``fit`` returned (a :class:`~nnkit.callbacks.History`, or Keras's), its ``.history``
            dict of per-epoch lists, or the path of a CSV file written by :class:`~nnkit.callbacks.CSVLogger`
            (first column ``epoch``).
        metrics: Base names of the metrics to plot, in this order (``"loss"``, ``"accuracy"``, ...; the
            ``val_`` curve comes with its metric). ``None`` plots all of them.
        figsize: Figure size in inches; by default 5 x 3.5 per subplot.
        log_scale: A logarithmic y axis; ``None``: for each subplot whose values are all positive and span
            more than :data:`LOG_SCALE_RATIO` (a regression's loss falling from 10000 to 1).
        restored_epoch: An epoch (1-based) to mark with a dashed line, e.g. the one whose weights
            ``EarlyStopping(restore_best_weights=True)`` put back.

    Returns:
        A matplotlib ``Figure``; save it with :func:`save_figure`.

    Raises:
        ConfigError: ``history`` is of an unknown type, ``metrics`` names a metric the logs do not hold
            (with a did-you-mean), or ``figsize`` is not two positive numbers.
        DataError: The history has no epochs, a requested series is not numeric, a series has fewer values
            than there are epochs (a dict from ``fit(validation_freq=...)``: use the CSV file instead),
            or the CSV file is malformed.

    Example:
        >>> fig = plot_history({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss']
    """
    epochs, logs = _read_history(history)
    names = _choose_metrics(logs, metrics)
    # Asked-for series must be numeric; among all of them, non-numeric ones (say, notes) are left out.
    series = {key: _numeric(key, logs[key], len(epochs)) for name in names for key in (name, f"val_{name}")
              if _has_values(logs.get(key)) and (metrics is not None or _is_numeric(logs[key]))}
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    figure = _new_figure(_size(figsize, (5.0 * cols, 3.5 * rows)))
    grid = figure.subplots(rows, cols, squeeze=False).ravel()
    for unused in grid[len(names):]:
        unused.remove()
    from matplotlib.ticker import MaxNLocator

    marker = "o" if len(epochs) <= 50 else None  # a single epoch must still show up
    for ax, name in zip(grid, names):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in series:
                ax.plot(epochs, series[key], marker=marker, markersize=3, label=label)
        if restored_epoch is not None:
            ax.axvline(restored_epoch, color="0.4", linestyle="--", linewidth=1,
                       label=f"restored weights (epoch {restored_epoch})")
        ax.set_title(name)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(name)
        values = [series[key] for key in (name, f"val_{name}") if key in series]
        if log_scale or (log_scale is None and _spans_decades(values)):
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if f"val_{name}" in series or restored_epoch is not None:  # a lone curve needs no "training" legend
            ax.legend()
    return figure


#: Largest max / min of a subplot's values that keeps a linear y axis (:func:`plot_history`).
LOG_SCALE_RATIO = 100.0


def _spans_decades(values: list[np.ndarray]) -> bool:
    """Whether positive values span more than :data:`LOG_SCALE_RATIO` (a linear axis would flatten the end)."""
    finite = np.concatenate([np.asarray(v, dtype=float).ravel() for v in values]) if values else np.array([])
    finite = finite[np.isfinite(finite)]
    return bool(finite.size) and bool(np.all(finite > 0)) and finite.max() / finite.min() > LOG_SCALE_RATIO


def _read_history(history: Any) -> tuple[np.ndarray, dict[str, list]]:
    """(1-based epoch numbers, name -> raw per-epoch values) from any accepted ``history``."""
    if isinstance(history, (str, os.PathLike)):
        return _read_csv(os.fspath(history))
    epoch_indices = None
    if not isinstance(history, Mapping) and isinstance(getattr(history, "history", None), Mapping):
        epoch_indices = getattr(history, "epoch", None)
        history = history.history
    if not isinstance(history, Mapping):
        raise ConfigError(
            "plot_history expects a History (what fit returns), its .history dict of per-epoch lists, or the "
            f"path of a CSVLogger file. Received: {type(history).__name__}."
        )
    logs = {str(key): _as_list(key, values) for key, values in history.items()}
    n = max((len(values) for values in logs.values()), default=0)
    if n == 0:
        raise DataError("plot_history received an empty history: it holds no epochs. Plot it after fit has run "
                        "at least one epoch.")
    if epoch_indices is not None and len(epoch_indices) == n:
        return np.asarray(epoch_indices, dtype=np.int64) + 1, logs
    return np.arange(1, n + 1), logs


def _as_list(key: Any, values: Any) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise DataError(f"plot_history expects a list of per-epoch values for each metric. Received for {key!r}: "
                        f"{type(values).__name__}.")
    return list(values)


def _read_csv(path: str) -> tuple[np.ndarray, dict[str, list]]:
    with open(path, newline="") as f:
        text = f.read()
    # CSVLogger's separator is configurable; its header always starts with "epoch" and then that separator.
    separator = text[5] if text.startswith("epoch") and len(text) > 5 and text[5] not in "\r\n" else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    if not rows or not rows[0] or rows[0][0] != "epoch":
        raise DataError(f"{path!r} is not a CSVLogger file: its first column must be 'epoch'. Received header: "
                        f"{rows[0] if rows else '(empty file)'}.")
    header, body = rows[0], [row for row in rows[1:] if row]
    if not body:
        raise DataError(f"{path!r} holds no epochs, only a header. Plot it after fit has run at least one epoch.")
    epochs = []
    for line, row in enumerate(body, start=2):
        try:
            epochs.append(int(row[0]) + 1)  # CSVLogger writes 0-based epoch indices
        except ValueError:
            raise DataError(f"{path!r}, line {line}: the epoch must be an integer. Received: {row[0]!r}.") from None
    logs = {key: [row[i] if i < len(row) else None for row in body] for i, key in enumerate(header) if i > 0}
    return np.asarray(epochs, dtype=np.int64), logs


def _choose_metrics(logs: dict[str, list], metrics: list[str] | None) -> list[str]:
    """Base metric names to plot: ``loss`` first, then in logged order; or the requested ones."""
    bases = list(dict.fromkeys(key.removeprefix("val_") for key in logs))
    if metrics is None:
        plottable = [name for name in bases if any(_has_values(logs.get(key)) and _is_numeric(logs[key])
                                                   for key in (name, f"val_{name}"))]
        if not plottable:
            raise DataError(f"plot_history found no numeric series to plot among {sorted(logs)}.")
        return sorted(plottable, key=lambda name: name != "loss")  # stable: the others keep their order
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise ConfigError(f"plot_history expects `metrics` to be a non-empty list of metric names, or None for all. "
                          f"Received: metrics={metrics!r}.")
    for name in metrics:
        if name not in bases:
            guess = closest(name, bases)
            hint = f" Did you mean '{guess}'?" if guess else ""
            raise ConfigError(f"plot_history got metrics=[..., {name!r}, ...], which is not in the history.{hint} "
                              f"Available metrics: {', '.join(bases)}.")
        if not any(_has_values(logs.get(key)) for key in (name, f"val_{name}")):
            raise DataError(f"plot_history cannot plot {name!r}: the history holds no value for it in any epoch.")
    return list(dict.fromkeys(metrics))


def _has_values(values: list | None) -> bool:
    """Whether a series holds at least one value (CSVLogger writes all-``NA`` val_ columns without validation)."""
    return values is not None and any(not _is_missing(v) for v in values)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in _MISSING
    return isinstance(value, numbers.Real) and math.isnan(value)


def _to_float(value: Any) -> float:
    if _is_missing(value):
        return math.nan
    if isinstance(value, (str, bytes, Sequence)):  # float("1.5") would accept a number written as text
        if isinstance(value, str):
            return float(value)
        raise TypeError
    return float(value)  # ints, NumPy scalars, 0-d tensors


def _is_numeric(values: list) -> bool:
    try:
        [_to_float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return True


def _numeric(key: str, values: list, n_epochs: int) -> np.ndarray:
    if len(values) != n_epochs:
        raise DataError(
            f"plot_history cannot place {key!r} on the epochs: it has {len(values)} values for {n_epochs} epochs "
            "(fit(validation_freq=...) logs validation only on some epochs). Plot the CSVLogger file, which marks "
            "epochs without a value as NA, or pad the list with None for those epochs."
        )
    out = []
    for epoch, value in enumerate(values, start=1):
        try:
            out.append(_to_float(value))
        except (TypeError, ValueError):
            raise DataError(f"plot_history can only plot numbers; {key!r} holds {value!r} at epoch {epoch}. Leave "
                            f"it out of `metrics`.") from None
    return np.asarray(out, dtype=np.float64)


# -- confusion matrix ---------------------------------------------------------------------------------------
def plot_confusion_matrix(y_true: Any = None, y_pred: Any = None, *, matrix: Any = None, labels: Any = None,
                          normalize: str | None = None, title: str | None = None,
                          figsize: tuple[float, float] | None = None) -> Figure:
    """Plot a confusion matrix: rows are true classes, columns predicted ones, each cell annotated.

    Computed with :func:`sklearn.metrics.confusion_matrix` from label arrays, or drawn from a precomputed
    ``matrix``. Labels may be integers, strings, probability rows or one-hot rows (arg-maxed to column
    indices), or one column of probabilities of the positive class (thresholded at 0.5).

    Args:
        y_true: True labels, one per sample.
        y_pred: Predicted labels or model outputs, one per sample.
        matrix: A precomputed square matrix of counts, instead of ``y_true`` and ``y_pred``.
        labels: The classes, in the order of the rows and columns (as in scikit-learn); they are also the
            tick labels. Names for integer labels work too: class ``i`` is shown as ``labels[i]``. With
            ``matrix``, the names of its rows.
        normalize: ``None`` (counts), ``'true'`` (each row sums to 1), ``'pred'`` (each column) or
            ``'all'`` (the whole matrix), as in scikit-learn.
        title: Figure title; ``"Confusion matrix"`` by default.
        figsize: Figure size in inches; by default it grows with the number of classes.

    Returns:
        A matplotlib ``Figure`` with the matrix, a colorbar and (up to 50 classes) the value of each cell,
        as a count or, normalized, with two decimals.

    Raises:
        ConfigError: Both or neither of (``y_true``, ``y_pred``) and ``matrix``, an unknown ``normalize``,
            ``labels`` that do not fit the matrix, or a bad ``figsize``.
        DataError: Arrays of different lengths or shapes that are not labels, or a matrix that is not
            square, finite and non-negative.

    Example:
        >>> fig = plot_confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"], normalize="true")
        >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
        ['cat', 'dog']
    """
    if normalize not in NORMALIZE:
        guess = closest(normalize, [n for n in NORMALIZE if n]) if isinstance(normalize, str) else None
        hint = f" Did you mean '{guess}'?" if guess else ""
        raise ConfigError(f"plot_confusion_matrix got normalize={normalize!r}.{hint} Use one of: "
                          f"{', '.join(map(repr, NORMALIZE))}.")
    if matrix is not None:
        if y_true is not None or y_pred is not None:
            raise ConfigError("plot_confusion_matrix takes either y_true and y_pred or matrix=, not both.")
        cm = _normalized(_square(matrix), normalize)
        names = _matrix_names(labels, len(cm))
    elif y_true is None or y_pred is None:
        raise ConfigError("plot_confusion_matrix needs both y_true and y_pred (or a precomputed matrix=). "
                          f"Received: y_true={'None' if y_true is None else '...'}, "
                          f"y_pred={'None' if y_pred is None else '...'}.")
    else:
        cm, names = _confusion(y_true, y_pred, labels, normalize)
    return _draw_matrix(cm, names, normalize is not None, title or "Confusion matrix", figsize)


def _class_labels(y: Any, argument: str, names: list | None) -> np.ndarray:
    """``y`` as a 1-D array of class labels (arg-maxed or thresholded outputs become indices)."""
    if hasattr(y, "detach"):  # a torch tensor, possibly on a GPU
        y = y.detach().cpu().numpy()
    try:
        array = np.asarray(y)
    except ValueError as exc:
        raise DataError(f"plot_confusion_matrix could not read {argument} as an array: {exc}.") from None
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        if array.dtype.kind not in "biuf":
            raise DataError(f"plot_confusion_matrix got a 2-D {argument} of {array.dtype}; 2-D inputs must be "
                            "probability or one-hot rows (numbers).")
        array = array.argmax(axis=1)
    elif array.ndim != 1:
        raise DataError(f"plot_confusion_matrix expects {argument} to be labels of shape (samples,) or rows of "
                        f"class scores of shape (samples, classes). Received shape {array.shape}.")
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise DataError(f"plot_confusion_matrix found NaN or infinite values in {argument}.")
        if np.array_equal(array, np.round(array)):
            array = array.astype(np.int64)
        elif array.min() >= 0 and array.max() <= 1:
            array = (array > 0.5).astype(np.int64)  # probabilities of the positive class, as Keras thresholds them
        else:
            raise DataError(f"plot_confusion_matrix expects class labels in {argument}, but it holds non-integer "
                            f"values outside [0, 1] (e.g. {array[array != np.round(array)][0]!r}). Pass labels, or "
                            "probability rows of shape (samples, classes).")
    if names is not None and array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() >= len(names)):
            raise DataError(f"plot_confusion_matrix got class indices in {argument} from {array.min()} to "
                            f"{array.max()}, but labels names only {len(names)} classes. Pass one name per class.")
        array = np.asarray(names, dtype=object)[array]
    return array


def _confusion(y_true: Any, y_pred: Any, labels: Any, normalize: str | None) -> tuple[np.ndarray, list[str]]:
    from sklearn.metrics import confusion_matrix
    from sklearn.utils.multiclass import unique_labels

    if labels is not None:
        labels = list(labels)
        if not labels:
            raise ConfigError("plot_confusion_matrix got an empty labels list. Pass the classes, or None.")
    # Names given for integer labels: index i means labels[i] (the scikit-learn meaning needs no mapping).
    names = labels if labels is not None and any(isinstance(v, str) for v in labels) else None
    true, pred = _class_labels(y_true, "y_true", names), _class_labels(y_pred, "y_pred", names)
    if len(true) != len(pred):
        raise DataError(f"plot_confusion_matrix needs one prediction per sample, but y_true has {len(true)} "
                        f"samples and y_pred has {len(pred)}.")
    if len(true) == 0:
        raise DataError("plot_confusion_matrix received no samples: y_true and y_pred are empty.")
    try:
        cm = confusion_matrix(true, pred, labels=labels, normalize=normalize)
        classes = labels if labels is not None else list(unique_labels(true, pred))
    except ValueError as exc:
        raise DataError(f"plot_confusion_matrix could not compare y_true and y_pred: {exc} If one holds names "
                        "and the other class indices or probability rows, pass labels= with the names in column "
                        "order.") from exc
    return np.asarray(cm, dtype=np.float64), [str(c) for c in classes]


def _square(matrix: Any) -> np.ndarray:
    try:
        cm = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("plot_confusion_matrix expects matrix= to be a square array of counts. Received: "
                        f"{type(matrix).__name__} that is not numeric.") from None
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0:
        raise DataError(f"plot_confusion_matrix expects matrix= to be square (classes x classes). Received shape "
                        f"{cm.shape}.")
    if not np.isfinite(cm).all() or (cm < 0).any():
        raise DataError("plot_confusion_matrix expects matrix= to hold finite, non-negative counts.")
    return cm


def _normalized(cm: np.ndarray, normalize: str | None) -> np.ndarray:
    """Normalize like scikit-learn: rows, columns or all; an empty row or column stays 0."""
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            cm = cm / cm.sum()
    return np.nan_to_num(cm)


def _matrix_names(labels: Any, n: int) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    names = [str(label) for label in labels]
    if len(names) != n:
        raise ConfigError(f"plot_confusion_matrix got {len(names)} labels for a matrix of {n} classes. Pass one "
                          "label per row.")
    return names


def _draw_matrix(cm: np.ndarray, names: list[str], normalized: bool, title: str,
                 figsize: tuple[float, float] | None) -> Figure:
    n = len(cm)
    side = min(max(4.0, 0.5 * n + 2.0), 14.0)
    figure = _new_figure(_size(figsize, (side + 1.0, side)))
    ax = figure.subplots()
    image = ax.imshow(cm, cmap="Blues", interpolation="nearest", vmin=0.0, vmax=1.0 if normalized else None)
    figure.colorbar(image, ax=ax)
    if n <= _MAX_ANNOTATED_CLASSES:
        integral = not normalized and np.array_equal(cm, np.round(cm))
        middle = (cm.max() + cm.min()) / 2.0
        for (i, j), value in np.ndenumerate(cm):
            text = str(int(value)) if integral else f"{value:.2f}"
            ax.text(j, i, text, ha="center", va="center", color="white" if value > middle else "black",
                    fontsize=max(5.0, 10.0 - n / 6.0))
    long_names = max(len(name) for name in names) > 4
    ax.set_xticks(range(n), labels=names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(range(n), labels=names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title)
    return figure


# -- figures and files --------------------------------------------------------------------------------------
def save_figure(figure: Figure, path: str | os.PathLike[str], dpi: float = 100) -> None:
    """Render ``figure`` and write it to ``path`` atomically: a crash never leaves a half-written file.

    The format follows the suffix: ``.png`` (also for a path without suffix), ``.pdf`` or ``.svg``. A PNG is
    exactly ``figsize * dpi`` pixels (no tight cropping). The folder is created if needed.

    Args:
        figure: A matplotlib ``Figure``, e.g. from :func:`plot_history`.
        path: Where to write the file.
        dpi: Resolution in dots per inch.

    Raises:
        ConfigError: ``figure`` is not a Figure, the suffix is not a supported format, ``dpi`` is not a
            positive number, or the folder cannot be created.
        WriteError: the file cannot be written (an ``OSError``: a full disk, a read-only folder).
    """
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        raise ConfigError(f"save_figure expects a matplotlib Figure. Received: {type(figure).__name__}.")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not math.isfinite(dpi) or dpi <= 0:
        raise ConfigError(f"save_figure expects dpi to be a positive number. Received: dpi={dpi!r}.")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(f"save_figure expects a file path. Received: path={path!r}.")
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix and suffix not in FORMATS:
        raise ConfigError(f"save_figure cannot write {os.fspath(path)!r}: unknown format {suffix!r}. Use one of "
                          f"{', '.join(FORMATS)}.")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=FORMATS.get(suffix, "png"), dpi=dpi)
    try:
        atomic_write(path, buffer.getvalue())
    except OSError as exc:
        raise WriteError.of(os.fspath(path), exc) from exc


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure on the Agg canvas, outside pyplot (no GUI, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _size(figsize: Any, default: tuple[float, float]) -> tuple[float, float]:
    if figsize is None:
        return default
    ok = (isinstance(figsize, (tuple, list)) and len(figsize) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                  for v in figsize))
    if not ok:
        raise ConfigError(f"figsize must be (width, height) in inches, two positive numbers. Received: "
                          f"figsize={figsize!r}.")
    return float(figsize[0]), float(figsize[1])
