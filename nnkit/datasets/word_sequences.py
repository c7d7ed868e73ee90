"""Keras's encoding of the IMDB and Reuters word-index sequences, shared by both loaders."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from nnkit.datasets import keras_files
from nnkit.errors import ConfigError, DataError


def check_options(num_words: Any, skip_top: Any, maxlen: Any) -> None:
    """Raise a clear error for option values Keras would choke on.

    Raises:
        ConfigError: ``num_words`` or ``maxlen`` is not a positive int or ``None``, or ``skip_top`` is negative.
    """
    for name, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ConfigError(f"`{name}` must be a positive int or None. Received: {name}={value!r}.")
    if isinstance(skip_top, bool) or not isinstance(skip_top, (int, np.integer)) or skip_top < 0:
        raise ConfigError(f"`skip_top` must be a non-negative int. Received: skip_top={skip_top!r}.")


def shuffled(rng: np.random.RandomState, *arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays in one random order drawn from ``rng`` (Keras's ``rng.shuffle(indices)``)."""
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [array[indices] for array in arrays]


def shift(xs: Any, start_char: int | None, index_from: int) -> list[list[int]]:
    """Word indices moved up by ``index_from``, each sequence led by ``start_char`` (when not ``None``)."""
    lead = [] if start_char is None else [start_char]
    return [lead + [int(w) + index_from for w in x] for x in xs]


def drop_long(maxlen: int | None, xs: list[list[int]], labels: Any) -> tuple[list[list[int]], list[Any]]:
    """Keras's ``remove_long_seq``: only sequences shorter than ``maxlen`` are kept (all when ``None``)."""
    if not maxlen:
        return xs, list(labels)
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs: list[list[int]], num_words: int | None, skip_top: int,
                     oov_char: int | None) -> list[list[int]]:
    """Indices outside ``[skip_top, num_words)`` become ``oov_char`` (or are dropped when it is ``None``)."""
    if not num_words:
        num_words = max(max(x) for x in xs if x)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def as_object_array(xs: list[list[int]]) -> np.ndarray:
    """Sequences as Keras returns them: a 1-D object array of lists."""
    array = np.empty(len(xs), dtype=object)
    array[:] = xs
    return array


def word_index(path: str | os.PathLike[str], origin: str, title: str) -> dict[str, int]:
    """A ``{word: index}`` JSON file, found or downloaded as the datasets are.

    Raises:
        OSError: the file is missing and cannot be downloaded.
        DataError: the file is not a JSON object.
    """
    file = keras_files.fetch(path, origin, None, f"The {title} word index")
    try:
        with open(file, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError) as err:
        raise DataError(f"Could not read the {title} word index {str(file)!r}: {err}. Delete it and load again.") from err
    if not isinstance(index, dict):
        raise DataError(f"{str(file)!r} is not a word index: it holds a {type(index).__name__}, not a JSON object.")
    return index
