"""Using a saved model: evaluate it on data, predict a file, and read the run folder around it."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from nnkit.errors import ConfigError, DataError, NnkitError
from nnkit.runs.data import target_option
from nnkit.runs.outputs import CONFIG_FILE, plain, read_class_names, read_classes, read_columns, write_table
from nnkit.runs.training import class_ids, evaluate_split
from nnkit.utils.atomic import atomic_write

DATA_SUFFIXES = (".csv", ".npy", ".npz")
OUTPUT_SUFFIXES = (".csv", ".npy")


def load_saved_model(path: str) -> Any:
    """``nnkit.models.load_model(path)`` with a message that names the file.

    Raises:
        ConfigError: no such file; DataError: the file is not a readable nnkit model.
    """
    from nnkit.models import load_model

    if not os.path.isfile(path):
        raise ConfigError(f"Model file {path!r} does not exist. Pass the model.nnkit file of a run folder.")
    try:
        return load_model(path)
    except NnkitError as exc:
        raise type(exc)(about(path, str(exc))) from exc


def about(path: str, message: str) -> str:
    """``'<path>: <message>'``, or the message alone when it already names the file."""
    names = {path, str(Path(path)), os.path.abspath(path)}
    return message if any(name in message for name in names) else f"{path}: {message}"


def is_classifier(model: Any) -> bool:
    """Whether the model's loss is a cross-entropy or hinge loss."""
    name = type(model.loss).__name__.lower() if model.loss is not None else ""
    return "crossentropy" in name or "hinge" in name


def read_inputs(path: str, target: str | int | None = None, header: bool | None = None,
                columns: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y)`` from a .csv/.npy/.npz file (``y`` is ``None`` without ``target``/``y`` array).

    With ``columns`` (the training file's names, from ``columns.json``), a .csv file with a header row is
    matched by name: its columns may come in any order, and the training target column, if present, is
    left out; missing or unknown columns are an error that lists them. A file without a header row is
    matched by position.

    Raises:
        ConfigError, DataError: an unsupported suffix, a missing file, unreadable data or unmatched columns.
    """
    from nnkit import datasets

    if not os.path.isfile(path):
        raise ConfigError(f"Input file {path!r} does not exist.")
    try:
        if not path.lower().endswith(".csv"):
            return datasets.load_file(path, target=target)
        if target is None and columns is not None and columns.get("target") in _first_row(path):
            target = columns["target"]  # a labelled file: the label is not an input
        table = datasets.load_csv(path, target=target, header=header)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from exc
    except NnkitError as exc:  # the loader speaks Python (target='species'); the user typed --target species
        raise type(exc)(about(path, target_option(str(exc), "--target"))) from exc
    if columns is None:
        return table.x, table.y
    return _matched(path, table, [str(name) for name in columns["features"]]), table.y


def _first_row(path: str) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [cell.strip() for cell in next(csv.reader(handle), [])]


def _matched(path: str, table: Any, expected: list[str]) -> np.ndarray:
    """The feature columns of ``table`` in the order the model was trained on."""
    names = table.feature_names
    if names is None:  # no header row: by position
        if table.x.shape[1] != len(expected):
            raise DataError(f"{path}: the file has no header row and {table.x.shape[1]} feature columns, but the model "
                            f"was trained on {len(expected)}: {', '.join(expected)}. Add a header row naming them.")
        return table.x
    missing = [name for name in expected if name not in names]
    unknown = [name for name in names if name not in expected]
    if missing or unknown:
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"unknown {', '.join(map(repr, unknown))}"] if unknown else [])
        raise DataError(f"{path}: the columns do not match the ones the model was trained on ({'; '.join(parts)}). "
                        f"The model expects the columns {', '.join(expected)} (in any order); pass --target to leave "
                        "a label column out.")
    return table.x[:, [names.index(name) for name in expected]]


def _targets_for(model: Any, y: np.ndarray, classes: list[Any] | None) -> np.ndarray:
    """Labels as the model's loss wants them, using the run's class names when there are any."""
    from nnkit.runs.data import encode_for_loss

    if not is_classifier(model):
        y = np.asarray(y, dtype=np.float32)
        return y[:, None] if y.ndim == 1 else y.reshape(len(y), -1)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    units = int(model.output_shape[-1])
    n_classes = len(classes) if classes is not None else max(units, 2)
    if classes is not None:
        lookup = {str(name): i for i, name in enumerate(classes)}
        unknown = sorted({str(v) for v in plain(y.tolist())} - set(lookup))
        if unknown:
            raise DataError(f"The data holds labels the model was not trained on: {unknown[:5]}. Its classes: "
                            f"{', '.join(map(str, classes))}.")
        ids = np.array([lookup[str(v)] for v in plain(y.tolist())], dtype=np.int64)
    else:
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
            raise DataError(f"Without classes.json next to the model, labels must be class ids 0..{n_classes - 1}; "
                            f"received {y.dtype} labels.")
        ids = y.astype(np.int64)
    return encode_for_loss(ids, n_classes, model.loss)


def evaluation_data(model_path: str, data: str | None = None, target: str | int | None = None,
                    options: dict[str, Any] | None = None,
                    header: bool | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, y_raw, description)``: a dataset name, a file, or (``data=None``) the test split of the run
    folder the model sits in, rebuilt from its ``config.yaml``.

    Raises:
        ConfigError: no data given and no ``config.yaml`` next to the model, or unknown data.
    """
    if data is None:
        config_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise ConfigError(f"No --data given and no {CONFIG_FILE} next to {model_path!r} to rebuild the test split "
                              "from. Pass --data with a dataset name or a .csv/.npy/.npz file.")
        from nnkit.runs.data import load_arrays, split_data
        from nnkit.runs.schema import load_config
        from nnkit.runs.specs import make_loss

        config = load_config(config_path)
        x, y, _ = load_arrays(config["data"], os.path.dirname(config_path))
        split = split_data(config, x, y, make_loss(config["compile"]["loss"]))
        labels = split.labels_test
        if split.classes is not None:
            labels = np.asarray(split.classes, dtype=object)[labels]
        return split.x_test, labels, f"the test split of {config_path}"
    if data.lower().endswith(DATA_SUFFIXES) or os.path.sep in data:
        x, y = read_inputs(data, target, header, read_columns(model_path))
        if y is None:
            raise ConfigError(f"{data}: evaluating needs targets; name the label column with --target.")
        return x, y, data
    from nnkit import datasets

    try:
        x, y = datasets.load(data, **(options or {}))
    except NnkitError as exc:
        raise type(exc)(f"--data: {exc}") from exc
    return x, y, f"dataset {data!r}"


def evaluate_model(model_path: str, data: str | None = None, target: str | int | None = None,
                   batch_size: int = 256, header: bool | None = None) -> tuple[dict[str, float], str, int]:
    """Loss and compiled metrics of a saved model; returns ``(metrics, description of the data, n_samples)``."""
    model = load_saved_model(model_path)
    if not model.compiled or model.loss is None:
        raise ConfigError(f"{model_path}: the model was saved without a loss, so it cannot be evaluated.")
    x, y, what = evaluation_data(model_path, data, target, header=header)
    targets = _targets_for(model, y, read_classes(model_path))
    try:
        return evaluate_split(model, x, targets, batch_size), what, len(x)
    except NnkitError as exc:
        raise type(exc)(f"{what}: {exc}") from exc


def predict_file(model_path: str, input_path: str, output_path: str, classes: bool = False,
                 target: str | int | None = None, batch_size: int = 256, header: bool | None = None) -> np.ndarray:
    """Predict every row of ``input_path`` and write the outputs (or, with ``classes``, the predicted
    class names: ``class_names.json`` of the run folder, else ``classes.json``) to ``output_path`` (.csv or .npy, written atomically). A .csv input is matched to the
    training file's columns by name (see :func:`read_inputs`); ``header`` says whether its first row names
    the columns (``None``: decided from the file).

    Returns:
        What was written.

    Raises:
        ConfigError: unsupported output suffix, or ``classes`` for a model that is not a classifier.
    """
    if not output_path.lower().endswith(OUTPUT_SUFFIXES):
        raise ConfigError(f"--output {output_path!r}: write predictions to a .csv or .npy file.")
    model = load_saved_model(model_path)
    x, _ = read_inputs(input_path, target, header, read_columns(model_path))
    try:
        outputs = model.predict(x, batch_size=batch_size, verbose=0)
    except NnkitError as exc:
        raise type(exc)(about(input_path, str(exc))) from exc
    names = read_class_names(model_path)  # iris's setosa, not 0, when the run recorded the names
    if classes:
        if not is_classifier(model):
            raise ConfigError("--classes needs a classifier (a model trained with a cross-entropy or hinge loss).")
        ids = class_ids(outputs, model.loss)
        result = np.asarray(names)[ids] if names is not None else ids
        header = ["class"]
    else:
        result = outputs.reshape(len(outputs), -1)
        units = result.shape[1]
        if names is not None and units == len(names):
            header = [str(n) for n in names]
        else:
            header = ["prediction"] if units == 1 else [f"output_{i}" for i in range(units)]
    if output_path.lower().endswith(".npy"):
        buffer = io.BytesIO()
        np.save(buffer, result if result.dtype != object else result.astype(str), allow_pickle=False)
        atomic_write(output_path, buffer.getvalue())
    else:
        rows = result.reshape(len(result), -1).tolist()
        write_table(output_path, header, rows)
    return result
