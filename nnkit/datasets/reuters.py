"""Reuters newswires with ``keras.datasets.reuters``'s ``load_data``, ``get_word_index`` and ``get_label_names``.

11228 newswires as sequences of word indices (words ranked by frequency), labelled with one of 46
topics. The data is Keras's ``reuters.npz``, found in nnkit's data folder or Keras's cache, else
downloaded (see :mod:`nnkit.datasets.keras_files`).
"""

from __future__ import annotations

import os

import numpy as np

from nnkit.datasets import keras_files, word_sequences

_SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_LABELS = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog",
    "lead",
)


def load_data(path: str | os.PathLike[str] = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Reuters as Keras does.

    The newswires are shuffled with ``RandomState(seed)``; every word index ``w`` becomes
    ``w + index_from`` and each newswire starts with ``start_char``; those of ``maxlen`` words or more are
    dropped; indices below ``skip_top`` or from ``num_words`` on become ``oov_char``; the last
    ``test_split`` fraction is the test set.

    Args:
        path: File name looked up in nnkit's data folder and Keras's cache, or the file's path.
        num_words: Keep the ``num_words`` most frequent words (indices below it); ``None`` keeps all.
        skip_top: Also replace the ``skip_top`` most frequent indices by ``oov_char``.
        maxlen: Drop newswires whose encoded length is ``maxlen`` or more.
        test_split: Fraction of the newswires kept for testing, in [0, 1).
        seed: Seed of the shuffling.
        start_char: Index marking the start of a newswire (``None``: no marker).
        oov_char: Index replacing cut words (``None``: cut words are removed).
        index_from: Offset added to the word indices.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: object arrays of lists of ints, and int topic labels
        (names in :func:`get_label_names`).

    Raises:
        OSError: the file is missing and the download failed.
        DataError: the file is unreadable.
        ConfigError: bad option values.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(num_words=10000, test_split=0.2)  # doctest: +SKIP
    """
    word_sequences.check_options(num_words, skip_top, maxlen)
    keras_files.check_test_split(test_split)
    file = keras_files.fetch(path, keras_files.ORIGIN + "reuters.npz", _SHA256, "Reuters")
    arrays = keras_files.load_npz(file, "Reuters", ("x", "y"))
    xs, labels = word_sequences.shuffled(np.random.RandomState(seed), arrays["x"], arrays["y"])
    xs = word_sequences.shift(xs, start_char, index_from)
    xs, labels = word_sequences.drop_long(maxlen, xs, labels)
    xs = word_sequences.limit_vocabulary(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return ((word_sequences.as_object_array(xs[:cut]), np.array(labels[:cut])),
            (word_sequences.as_object_array(xs[cut:]), np.array(labels[cut:])))


def get_word_index(path: str | os.PathLike[str] = "reuters_word_index.json") -> dict[str, int]:
    """The ``{word: index}`` dict of Reuters (before ``index_from`` is added), as Keras gives it.

    Raises:
        OSError: the file is missing and the download failed.
        DataError: the file is not a JSON object.
    """
    return word_sequences.word_index(path, keras_files.ORIGIN + "reuters_word_index.json", "Reuters")


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names, label ``i`` being ``get_label_names()[i]`` (Keras's tuple)."""
    return _LABELS
