"""The data of a run: arrays from a dataset or file, labels encoded for the loss, the train/test split and
the preprocessing layers (``data.reshape``, ``data.rescale``, ``data.standardize``) that lead the model."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnkit.errors import ConfigError, DataError, NnkitError
from nnkit.runs import specs

#: Names of the preprocessing layers put in front of the config's layers.
PREPROCESSING = {"reshape": "input_reshape", "rescale": "input_rescaling", "standardize": "input_normalization"}

_BINARY_LOSSES = ("BinaryCrossentropy", "Hinge", "SquaredHinge")
_SPARSE_LOSSES = ("SparseCategoricalCrossentropy",)

_TARGET_ARGUMENT = re.compile(r"\btarget=(?:'([^']*)'|(-?\d+))?")


def target_option(message: str, option: str) -> str:
    """Rewrite the Python spelling ``target='species'`` in a data loader's message as the user writes it:
    ``option`` ``'--target'`` gives ``--target species``, ``'data.target'`` gives ``data.target: species``."""
    def spelled(match: re.Match[str]) -> str:
        value = match.group(1) if match.group(1) is not None else match.group(2)
        if value is None:
            return option
        return f"{option} {value}" if option.startswith("-") else f"{option}: {value}"

    return _TARGET_ARGUMENT.sub(spelled, message)


@dataclass
class RunData:
    """The arrays of a run after the train/test split.

    Attributes:
        x_train, x_test: Inputs as loaded (preprocessing happens inside the model).
        labels_train, labels_test: Class ids (classification) or targets ``(n, outputs)`` (regression).
        y_train, y_test: What the model trains on: ids, one-hot rows or a 0/1 column, as the loss needs.
        classes: Class names in id order (JSON-ready), ``None`` for regression.
        class_labels: How to show each class (e.g. ``'setosa'`` for iris's class 0), ``None`` for regression.
        columns: ``{"features": [...], "target": name}`` from a .csv file's header row, else ``None``.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    labels_train: np.ndarray
    labels_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    classes: list[Any] | None
    class_labels: list[str] | None = None
    columns: dict[str, Any] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        classes = f", classes={self.classes!r:.80}" if self.classes is not None else ""
        return (f"RunData(train={len(self.x_train)}, test={len(self.x_test)}, input_shape={self.input_shape}, "
                f"y_shape={tuple(self.y_train.shape[1:])}{classes})")


def resolve_data_path(path: str, base_dir: str | None) -> str:
    """The file ``data.path`` names, as an absolute path: a relative path is tried in the current folder,
    then in ``base_dir`` (the config file's folder)."""
    if base_dir and not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(base_dir, path)
    return os.path.abspath(path)


def load_arrays(data: dict[str, Any], base_dir: str | None = None) -> tuple[np.ndarray, np.ndarray, dict | None]:
    """``(X, y, columns)`` from ``data.dataset`` (with ``data.options``) or ``data.path`` (with ``data.target``
    and ``data.header``); ``columns`` is ``{"features": [...], "target": name}`` for a .csv file with a header
    row, else ``None``.

    Raises:
        ConfigError: the dataset or an option is unknown or unusable; DataError: the data cannot be used.
    """
    from nnkit import datasets

    where = ("data.options" if data["options"] else "data.dataset") if data["dataset"] is not None else "data.path"
    columns = None
    try:
        if data["dataset"] is not None:
            x, y = datasets.load(data["dataset"], **data["options"])
        else:
            if data["options"]:
                raise ConfigError("data.options: options belong to a named `dataset`; a file (`path`) takes only "
                                  "`target`. Remove data.options.")
            path = resolve_data_path(data["path"], base_dir)
            if path.lower().endswith(".csv"):
                table = datasets.load_csv(path, target=data["target"], header=data.get("header"))
                x, y = table.x, table.y
                if table.feature_names is not None:
                    columns = {"features": table.feature_names, "target": table.target_name}
            else:
                if data.get("header") is not None:
                    raise ConfigError("data.header: only a .csv file has a header row. Remove `header`.")
                x, y = datasets.load_file(path, target=data["target"])
    except NnkitError as exc:
        raise type(exc)(f"{where}: {target_option(str(exc), 'data.target')}") from exc
    except FileNotFoundError as exc:
        raise DataError(f"{where}: {exc}") from exc
    except Exception as exc:  # a loader fed odd options: the config is what is wrong
        raise ConfigError(f"data.options: loading {data['dataset'] or data['path']!r} failed: "
                          f"{type(exc).__name__}: {exc}") from exc
    if y is None:
        raise ConfigError(f"data.target: {data['path']!r} holds no targets; name the label column with "
                          "data.target (a .csv header name or index), or store `y` in the .npz file.")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or len(x) != len(y):
        raise DataError(f"{where}: expected X of shape (n_samples, ...) and one target per sample; received X of "
                        f"shape {x.shape} and y of shape {y.shape}.")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise DataError(f"{where}: the inputs must be finite numbers; they hold "
                        f"{'NaN or infinite values' if np.issubdtype(x.dtype, np.number) else x.dtype}.")
    return x, y, columns


def _encode(y: np.ndarray, task: str, loss: Any) -> tuple[np.ndarray, list[Any] | None]:
    """Labels -> class ids with the class names, or targets -> float32 ``(n, outputs)``."""
    if task == "regression":
        if not np.issubdtype(y.dtype, np.number):
            raise DataError(f"data: a regression needs numeric targets, but they are {y.dtype}. Use a classification "
                            "loss (e.g. sparse_categorical_crossentropy) or set task: classification.")
        y = y.astype(np.float32)
        return (y[:, None] if y.ndim == 1 else y.reshape(len(y), -1)), None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"data: a classifier needs one label per sample, but the targets have shape {y.shape}.")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise DataError("data: the targets are fractional numbers, which are not class labels. Use a regression "
                        "loss (e.g. mse) or set task: regression.")
    classes, ids = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"data: a classifier needs at least two classes; the labels hold only {classes.tolist()}.")
    names = [c.item() if hasattr(c, "item") else c for c in classes]
    return ids.astype(np.int64), names


def encode_for_loss(ids: np.ndarray, n_classes: int, loss: Any) -> np.ndarray:
    """Class ids in the encoding ``loss`` trains on."""
    kind = type(loss).__name__
    if kind in _SPARSE_LOSSES:
        return ids
    if kind in _BINARY_LOSSES:
        if n_classes != 2:
            raise ConfigError(f"compile.loss: {kind} needs two classes, but the data has {n_classes}. Use "
                              "sparse_categorical_crossentropy with a softmax output of one unit per class.")
        return ids.astype(np.float32)[:, None]
    return np.eye(n_classes, dtype=np.float32)[ids]


def split_data(config: dict[str, Any], x: np.ndarray, y: np.ndarray, loss: Any) -> RunData:
    """Subsample (``data.limit``), encode the labels and hold out ``data.test_size`` (stratified for
    classifiers) with ``random_state=seed``."""
    from sklearn.model_selection import train_test_split

    data, seed, task = config["data"], config["seed"], config["task"]
    if data["limit"] is not None and data["limit"] < len(x):
        keep = np.sort(np.random.default_rng(seed).choice(len(x), data["limit"], replace=False))
        x, y = x[keep], y[keep]
    labels, classes = _encode(y, task, loss)
    try:
        x_train, x_test, l_train, l_test = train_test_split(
            x, labels, test_size=data["test_size"], random_state=seed, stratify=labels if classes else None)
    except ValueError as exc:
        raise DataError(f"data.test_size: cannot hold out {data['test_size']} of {len(x)} samples"
                        + (" with every class on both sides" if classes else "") + f" ({exc}). Use more samples "
                        "(raise or remove data.limit) or another test_size.") from None
    if classes is None:
        return RunData(x_train, x_test, l_train, l_test, l_train, l_test, None)
    y_train, y_test = (encode_for_loss(ids, len(classes), loss) for ids in (l_train, l_test))
    return RunData(x_train, x_test, l_train, l_test, y_train, y_test, classes, class_labels(data, classes))


def class_labels(data: dict[str, Any], classes: list[Any]) -> list[str]:
    """How to show each class: a named dataset's class names (``nnkit.datasets.class_names``, e.g. iris's
    ``setosa`` for label 0) where the labels are their ids, else the labels as text."""
    from nnkit import datasets

    names = datasets.class_names(data["dataset"]) if data["dataset"] is not None else None
    if names and all(isinstance(c, int) and 0 <= c < len(names) for c in classes):
        return [names[c] for c in classes]
    return [str(c) for c in classes]


def preprocessing_layers(data_config: dict[str, Any], x_train: np.ndarray) -> list[Any]:
    """``Reshape``, ``Rescaling`` and an adapted ``Normalization`` as ``data`` asks, in that order, so a saved
    model takes the raw inputs (flat CSV rows too)."""
    from nnkit.layers import Normalization, Rescaling, Reshape

    layers: list[Any] = []
    sample = x_train.astype(np.float32)
    if data_config["reshape"] is not None:
        target = data_config["reshape"]
        layers.append(specs.construct(Reshape, {"target_shape": tuple(target), "name": PREPROCESSING["reshape"]},
                                      "data.reshape", "Reshape"))
        try:
            sample = sample.reshape(len(sample), *target)
        except ValueError:
            raise ConfigError(f"data.reshape: cannot reshape samples of shape {x_train.shape[1:]} "
                              f"({int(np.prod(x_train.shape[1:]))} values) to {target}.") from None
    if data_config["rescale"] is not None:
        layers.append(Rescaling(data_config["rescale"], name=PREPROCESSING["rescale"]))
        sample = sample * np.float32(data_config["rescale"])
    if data_config["standardize"]:
        norm = Normalization(axis=-1, name=PREPROCESSING["standardize"])
        norm.adapt(sample)
        layers.append(norm)
    return layers
