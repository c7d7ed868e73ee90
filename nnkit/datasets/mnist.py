"""MNIST handwritten digits with ``keras.datasets.mnist``'s ``load_data``, read from local files.

Unlike Keras, ``path`` names the data *folder* (see :func:`nnkit.datasets.images.data_folder`), holding
``MNIST/raw/train-images-idx3-ubyte`` and the three other idx files, as ``torchvision.datasets.MNIST`` lays
them out. Nothing is downloaded unless ``download=True``.
"""

from __future__ import annotations

import os

import numpy as np

from nnkit.datasets.images import load_arrays


def load_data(
    path: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as Keras does.

    Args:
        path: Data folder; ``$NNKIT_DATA`` or ``~/.nnkit/datasets`` when ``None``.
        download: Fetch the files (about 11 MB) with torchvision when they are missing.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 images of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)``, uint8 labels 0-9 of shape ``(60000,)`` and ``(10000,)``.

    Raises:
        FileNotFoundError: the files are not in the folder and ``download`` is false.
        OSError: the download failed (nothing half-written is left behind).
        DataError: the files are there but cannot be read.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(download=True)  # doctest: +SKIP
    """
    return load_arrays("mnist", path, download)
