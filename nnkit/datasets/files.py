"""``load_file``: a user's own data from a .csv, .npy or .npz file, with numpy and the csv module only.

NumPy files are always read with ``allow_pickle=False``: a pickled object array could run arbitrary code
when loaded, so it is refused with a :class:`~nnkit.errors.DataError` instead.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nnkit.errors import ConfigError, DataError
from nnkit.registry import closest

SUPPORTED_SUFFIXES = (".csv", ".npy", ".npz")
_NUMPY_READ_ERRORS = (ValueError, EOFError, zipfile.BadZipFile)


def load_file(
    path: str | os.PathLike[str],
    target: str | int | None = None,
    *,
    x_key: str | None = None,
    y_key: str | None = None,
    header: bool | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load features and (optionally) targets from a file.

    - ``.csv``: one row per sample, after a header row of column names if the file has one (see ``header``).
      ``target`` picks the label column by name or index (negative counts from the end); every other column must be numeric and becomes float32 ``X``. The
      target comes back as int64 (whole numbers), float32 (other numbers) or a str array (class names).
    - ``.npy``: one array, returned unchanged as ``X``; ``y`` is ``None``.
    - ``.npz``: ``X`` from the array ``x`` (or ``X``, or ``x_key``), ``y`` from ``y`` (or ``Y``, or ``y_key``);
      ``y`` is ``None`` when the archive has no such array and ``y_key`` is not given.

    Args:
        path: The file; its suffix picks the format.
        target: The .csv label column: a header name or a column index. ``None``: no labels.
        x_key: Name of the features array in a .npz file.
        y_key: Name of the targets array in a .npz file.
        header: Whether a .csv file's first row names its columns; ``None`` decides from the file (see
            :func:`load_csv`).

    Returns:
        ``(X, y)``, ``y`` being ``None`` when the file holds no targets.

    Raises:
        ConfigError: unsupported suffix, unknown ``target`` column, or an option that does not fit the format.
        FileNotFoundError: no file at ``path``.
        DataError: the file cannot be read, a feature is not a number, or it holds pickled objects.

    Example:
        >>> X, y = load_file("iris.csv", target="species")  # doctest: +SKIP
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"load_file expects a file path (str or PathLike). Received: {path!r}.")
    file = Path(path).expanduser()
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ConfigError(
            f"load_file cannot read {str(file)!r}: unsupported suffix {suffix or '(none)'!r}. "
            f"Supported: {', '.join(SUPPORTED_SUFFIXES)}. Save the data in one of those formats."
        )
    if not file.is_file():
        what = "is a folder, not a file" if file.exists() else "does not exist"
        raise FileNotFoundError(
            f"load_file: {str(file)!r} {what} (resolved to {str(file.resolve())!r}, working directory "
            f"{os.getcwd()!r}). Check the path."
        )
    if suffix == ".csv":
        if x_key is not None or y_key is not None:
            raise ConfigError(
                f"x_key and y_key name arrays in a .npz file; {file.name!r} is a .csv file. "
                "Use target= to pick its label column."
            )
        return load_csv(file, target, header)[:2]
    if target is not None:
        fix = "pass y_key= to name the targets array" if suffix == ".npz" else "a .npy file holds one array (X)"
        raise ConfigError(f"target= picks a column of a .csv file, but {file.name!r} is a {suffix} file: {fix}.")
    if suffix == ".npy":
        if x_key is not None or y_key is not None:
            raise ConfigError(
                f"x_key and y_key name arrays in a .npz file; {file.name!r} is a .npy file holding a single array."
            )
        return _load_npy(file), None
    return _load_npz(file, x_key, y_key)


def _numpy_error(file: Path, err: Exception, what: str) -> DataError:
    if "allow_pickle" in str(err):
        return DataError(
            f"{str(file)!r} holds pickled Python objects{what}, which nnkit does not load: unpickling can run "
            "arbitrary code. Save plain numeric arrays instead, e.g. np.save(path, np.asarray(x, dtype=float))."
        )
    return DataError(
        f"Could not read {str(file)!r}{what}: {err}. The file may be truncated or not written by "
        "numpy.save / numpy.savez."
    )


def _load_npy(file: Path) -> np.ndarray:
    try:
        loaded = np.load(file, allow_pickle=False)
    except _NUMPY_READ_ERRORS as err:
        raise _numpy_error(file, err, "") from err
    if not isinstance(loaded, np.ndarray):  # np.load reads a .npz archive whatever the suffix
        loaded.close()
        raise DataError(f"{str(file)!r} is a .npz archive, not a .npy array. Rename it to .npz.")
    return loaded


def _load_npz(file: Path, x_key: str | None, y_key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        archive = np.load(file, allow_pickle=False)
    except _NUMPY_READ_ERRORS as err:
        raise _numpy_error(file, err, "") from err
    if isinstance(archive, np.ndarray):
        raise DataError(f"{str(file)!r} holds a single .npy array, not a .npz archive. Rename it to .npy.")
    with archive:
        found = list(archive.files)

        def pick(key: str | None, defaults: tuple[str, str], option: str) -> str | None:
            if key is None:
                key = next((name for name in defaults if name in found), None)
                if key is None:
                    return None
            elif key not in found:
                close = closest(key, found)
                hint = f" Did you mean {close!r}?" if close else ""
                raise DataError(
                    f"{str(file)!r} has no array {key!r} ({option}={key!r}).{hint} "
                    f"Arrays found: {', '.join(found) or '(none)'}."
                )
            return key

        x_name, y_name = pick(x_key, ("x", "X"), "x_key"), pick(y_key, ("y", "Y"), "y_key")
        if x_name is None:
            raise DataError(
                f"{str(file)!r} has no features array named 'x' or 'X'. Arrays found: {', '.join(found) or '(none)'}. "
                "Pass x_key= (and y_key=) to name the arrays to load."
            )
        arrays = []
        for name in (x_name, y_name):
            try:
                arrays.append(None if name is None else archive[name])
            except _NUMPY_READ_ERRORS as err:
                raise _numpy_error(file, err, f" (array {name!r})") from err
    return arrays[0], arrays[1]


class CsvTable(NamedTuple):
    """A .csv file read by :func:`load_csv`: features, targets and the column names.

    Attributes:
        x: The feature columns as float32, ``(n_rows, n_features)``.
        y: The target column, or ``None`` without ``target``.
        feature_names: The header names of the feature columns, or ``None`` for a file without a header row.
        target_name: The header name of the target column (``None`` without a header or a target).
    """

    x: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None
    target_name: str | None


def load_csv(path: str | os.PathLike[str], target: str | int | None = None,
             header: bool | None = None) -> CsvTable:
    """Read a .csv file as :func:`load_file` does, keeping the column names.

    Args:
        path: The file.
        target: The label column: a header name or a column index. ``None``: no labels.
        header: Whether the first row names the columns. ``None`` (default) decides from the file: a first
            row that holds only numbers is data, unless it reads ``0, 1, 2, ...`` (the names pandas gives
            unnamed columns), which is a header. No row is ever dropped without a header being meant.

    Raises:
        ConfigError: unknown ``target`` column, or a column name for a file without a header row.
        DataError: the file cannot be read or a feature is not a number.
    """
    file = Path(path).expanduser()
    rows: list[tuple[int, list[str]]] = []  # (line number in the file, values)
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:  # -sig: drops the BOM Excel writes
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"Could not read {str(file)!r} as UTF-8 CSV text: {err}.") from err
    named = _has_header(rows[0][1]) if header is None and rows else bool(header)
    if len(rows) < 1 + named:
        raise DataError(f"{str(file)!r} needs {'a header row and ' if named else ''}at least one data row; it has "
                        f"{len(rows)} row(s).")
    width = len(rows[0][1])
    names = [name.strip() for name in rows[0][1]] if named else [str(i) for i in range(width)]
    data = rows[1:] if named else rows
    for line, row in data:
        if len(row) != width:
            raise DataError(
                f"{str(file)!r}: line {line} has {len(row)} values, but "
                + (f"the header has {width} columns ({', '.join(names)})" if named else f"line {rows[0][0]} has "
                   f"{width}") + ". Every row needs one value per column."
            )
    if isinstance(target, str) and not named:
        raise ConfigError(f"{str(file)!r} has no header row (its first row holds only numbers), so target={target!r} "
                          "cannot name a column. Pass the column's index, or add a header row.")
    column = None if target is None else _target_column(file, names, target)
    features = [index for index in range(width) if index != column]
    X = _numeric_features(file, names, features, data)
    y = None if column is None else _target_values(file, names[column], [(line, row[column]) for line, row in data])
    if not named:
        return CsvTable(X, y, None, None)
    return CsvTable(X, y, [names[i] for i in features], None if column is None else names[column])


def _has_header(first: list[str]) -> bool:
    """Whether a first row names columns: some cell is not a number, or the cells are pandas's ``0, 1, ...``."""
    cells = [cell.strip() for cell in first]
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return True
    return cells == [str(i) for i in range(len(cells))]


def _target_column(file: Path, header: list[str], target: str | int) -> int:
    if isinstance(target, str):
        if header.count(target) > 1:
            raise ConfigError(
                f"Column {target!r} appears {header.count(target)} times in {str(file)!r}; "
                "pass its index as target= instead."
            )
        if target not in header:
            close = closest(target, header)
            hint = f" Did you mean {close!r}?" if close else ""
            raise ConfigError(
                f"{str(file)!r} has no column {target!r} (target={target!r}).{hint} Columns: {', '.join(header)}."
            )
        return header.index(target)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -len(header) <= target < len(header):
            raise ConfigError(
                f"target={target} is out of range for {str(file)!r}, which has {len(header)} "
                f"columns ({', '.join(header)}). Use an index from {-len(header)} to {len(header) - 1}."
            )
        return int(target) % len(header)
    raise ConfigError(f"target must be a column name (str) or index (int). Received: {target!r}.")


def _numeric_features(
    file: Path, header: list[str], columns: list[int], rows: list[tuple[int, list[str]]]
) -> np.ndarray:
    text = np.array([[row[index] for index in columns] for _, row in rows], dtype=str).reshape(len(rows), len(columns))
    try:
        return text.astype(np.float64).astype(np.float32)
    except ValueError as err:
        for number, (line, row) in enumerate(rows, 1):
            for index in columns:
                try:
                    float(row[index])
                except ValueError:
                    raise DataError(
                        f"{str(file)!r}: feature column {header[index]!r} (index {index}) must hold numbers, but row "
                        f"{number} (line {line}) holds {row[index]!r}. Fix or remove that value, or pass "
                        f"target={header[index]!r} if it is the label column."
                    ) from err
        raise DataError(f"{str(file)!r}: the feature columns must hold numbers: {err}.") from err


def _target_values(file: Path, name: str, cells: list[tuple[int, str]]) -> np.ndarray:
    values = [cell.strip() for _, cell in cells]
    for (line, _), value in zip(cells, values):
        if not value:
            raise DataError(
                f"{str(file)!r}: the target column {name!r} is empty at line {line}. "
                "Fill in that label or remove the row."
            )
    for kind, dtype in ((int, np.int64), (float, np.float32)):
        try:
            return np.array([kind(value) for value in values], dtype=dtype)
        except (ValueError, OverflowError):
            continue
    return np.array(values, dtype=str)
