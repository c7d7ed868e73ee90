"""CIFAR-10 color images with ``keras.datasets.cifar10``'s ``load_data``, read from local files.

Unlike Keras, ``path`` names the data *folder* (see :func:`nnkit.datasets.images.data_folder`), holding
the ``cifar-10-batches-py`` folder of the official "python version" release, as
``torchvision.datasets.CIFAR10`` expects. Those batch files are Python pickles, which torchvision unpickles:
only use a folder you trust. torchvision checks each file's MD5 against the official release first, so
files that are not the genuine CIFAR-10 batches are rejected before they are unpickled.
"""

from __future__ import annotations

import os

import numpy as np

from nnkit.datasets.images import load_arrays


def load_data(
    path: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load CIFAR-10 as Keras does.

    Args:
        path: Data folder; ``$NNKIT_DATA`` or ``~/.nnkit/datasets`` when ``None``.
        download: Fetch the archive (about 170 MB) with torchvision when files are missing.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 channels-last images of shape
        ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)``, uint8 labels 0-9 of shape ``(50000, 1)`` and
        ``(10000, 1)``.

    Raises:
        FileNotFoundError: the files are not in the folder and ``download`` is false.
        OSError: the download failed (nothing half-written is left behind).
        DataError: the files are there but cannot be read or are not the official release.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(download=True)  # doctest: +SKIP
    """
    return load_arrays("cifar10", path, download)
