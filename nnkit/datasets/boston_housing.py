"""Boston housing prices with ``keras.datasets.boston_housing``'s ``load_data``.

506 census tracts with 13 features each and the median home value in k$. The data is Keras's
``boston_housing.npz``, found in nnkit's data folder or Keras's cache, else downloaded (see
:mod:`nnkit.datasets.keras_files`).
"""

from __future__ import annotations

import os

import numpy as np

from nnkit.datasets import keras_files

_SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str | os.PathLike[str] = "boston_housing.npz", test_split: float = 0.2, seed: int = 113
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Boston housing as Keras does: shuffled with ``RandomState(seed)``, the last ``test_split`` tests.

    Args:
        path: File name looked up in nnkit's data folder and Keras's cache, or the file's path.
        test_split: Fraction of the samples kept for testing, in [0, 1).
        seed: Seed of the shuffling.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: float64 features ``(n, 13)`` and prices ``(n,)``.

    Raises:
        ConfigError: ``test_split`` is not in [0, 1).
        OSError: the file is missing and the download failed.
        DataError: the file is unreadable.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    """
    keras_files.check_test_split(test_split)
    file = keras_files.fetch(path, keras_files.ORIGIN + "boston_housing.npz", _SHA256, "Boston housing")
    arrays = keras_files.load_npz(file, "Boston housing", ("x", "y"))
    return keras_files.split_shuffled(arrays["x"], arrays["y"], test_split, seed)
