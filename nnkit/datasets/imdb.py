"""IMDB movie reviews with ``keras.datasets.imdb``'s ``load_data`` and ``get_word_index``.

The reviews (25000 for training, 25000 for testing) are sequences of word indices, words ranked by
frequency, each labelled 1 (positive) or 0 (negative). The data is Keras's ``imdb.npz``, found in nnkit's
data folder or Keras's cache, else downloaded (see :mod:`nnkit.datasets.keras_files`).
"""

from __future__ import annotations

import os

import numpy as np

from nnkit.datasets import keras_files, word_sequences
from nnkit.errors import DataError

_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"


def load_data(path: str | os.PathLike[str] = "imdb.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2,
              index_from: int = 3, **kwargs: object
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load IMDB as Keras does.

    Each split is shuffled with ``RandomState(seed)``; every word index ``w`` becomes ``w + index_from``
    and each review starts with ``start_char``; reviews of ``maxlen`` words or more are dropped; indices
    below ``skip_top`` or from ``num_words`` on (ranked over both splits) become ``oov_char``.

    Args:
        path: File name looked up in nnkit's data folder and Keras's cache, or the file's path.
        num_words: Keep the ``num_words`` most frequent words (indices below it); ``None`` keeps all.
        skip_top: Also replace the ``skip_top`` most frequent indices by ``oov_char``.
        maxlen: Drop reviews whose encoded length is ``maxlen`` or more.
        seed: Seed of the shuffling.
        start_char: Index marking the start of a review (``None``: no marker).
        oov_char: Index replacing cut words (``None``: cut words are removed).
        index_from: Offset added to the word indices.
        **kwargs: Accepted and ignored, as in Keras 3.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: object arrays of lists of ints, and int labels.

    Raises:
        OSError: the file is missing and the download failed.
        DataError: the file is unreadable, or ``maxlen`` keeps no review.
        ConfigError: bad option values.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)  # doctest: +SKIP
    """
    word_sequences.check_options(num_words, skip_top, maxlen)
    file = keras_files.fetch(path, keras_files.ORIGIN + "imdb.npz", _SHA256, "IMDB")
    arrays = keras_files.load_npz(file, "IMDB", ("x_train", "y_train", "x_test", "y_test"))
    rng = np.random.RandomState(seed)
    x_train, labels_train = word_sequences.shuffled(rng, arrays["x_train"], arrays["y_train"])
    x_test, labels_test = word_sequences.shuffled(rng, arrays["x_test"], arrays["y_test"])
    x_train = word_sequences.shift(x_train, start_char, index_from)
    x_test = word_sequences.shift(x_test, start_char, index_from)
    x_train, labels_train = word_sequences.drop_long(maxlen, x_train, labels_train)
    x_test, labels_test = word_sequences.drop_long(maxlen, x_test, labels_test)
    if not x_train or not x_test:
        raise DataError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                        "Increase maxlen.")
    xs = word_sequences.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([np.asarray(labels_train), np.asarray(labels_test)])
    cut = len(x_train)
    return ((word_sequences.as_object_array(xs[:cut]), labels[:cut]),
            (word_sequences.as_object_array(xs[cut:]), labels[cut:]))


def get_word_index(path: str | os.PathLike[str] = "imdb_word_index.json") -> dict[str, int]:
    """The ``{word: index}`` dict of IMDB (before ``index_from`` is added), as Keras gives it.

    Raises:
        OSError: the file is missing and the download failed.
        DataError: the file is not a JSON object.
    """
    return word_sequences.word_index(path, keras_files.ORIGIN + "imdb_word_index.json", "IMDB")
