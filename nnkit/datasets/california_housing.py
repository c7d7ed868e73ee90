"""California housing prices with ``keras.datasets.california_housing``'s ``load_data``.

20640 districts with 8 features each and the median house value in dollars; ``version="small"``
keeps the first 600. The data is Keras's ``california_housing.npz``, found in nnkit's data folder or
Keras's cache, else downloaded (see :mod:`nnkit.datasets.keras_files`).
"""

from __future__ import annotations

import os

import numpy as np

from nnkit.datasets import keras_files
from nnkit.errors import ConfigError

_SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version: str = "large", path: str | os.PathLike[str] = "california_housing.npz",
              test_split: float = 0.2, seed: int = 113
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load California housing as Keras does: shuffled with ``RandomState(seed)``, the last ``test_split`` tests.

    Args:
        version: ``"large"`` (all 20640 samples) or ``"small"`` (the first 600).
        path: File name looked up in nnkit's data folder and Keras's cache, or the file's path.
        test_split: Fraction of the samples kept for testing, in [0, 1).
        seed: Seed of the shuffling.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: float features ``(n, 8)`` and values ``(n,)``.

    Raises:
        ConfigError: ``version`` or ``test_split`` is invalid.
        OSError: the file is missing and the download failed.
        DataError: the file is unreadable.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(version="small")  # doctest: +SKIP
    """
    if version not in ("small", "large"):
        raise ConfigError(f"Argument `version` must be one of 'small', 'large'. Received: version={version!r}.")
    keras_files.check_test_split(test_split)
    file = keras_files.fetch(path, keras_files.ORIGIN + "california_housing.npz", _SHA256, "California housing")
    arrays = keras_files.load_npz(file, "California housing", ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return keras_files.split_shuffled(x, y, test_split, seed)
