"""CIFAR-100 color images with ``keras.datasets.cifar100``'s ``load_data``.

50000 training and 10000 test images of 32x32 pixels in 100 fine classes grouped in 20 coarse ones.
The data is the official "python version" release: the folder ``cifar-100-python`` (``train``, ``test``)
in nnkit's data folder (where torchvision also puts it) or in Keras's cache
(``cifar-100-python-target/cifar-100-python``), else the archive ``cifar-100-python.tar.gz`` there,
else downloaded (see :mod:`nnkit.datasets.keras_files`). The batches are pickles, read by an unpickler
that only rebuilds NumPy arrays.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from nnkit.datasets import keras_files
from nnkit.datasets.images import data_folder
from nnkit.errors import ConfigError, DataError

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
_FOLDER, _ARCHIVE = "cifar-100-python", "cifar-100-python.tar.gz"


def load_data(label_mode: str = "fine", path: str | os.PathLike[str] | None = None
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load CIFAR-100 as Keras does.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
        path: nnkit's data folder (not in Keras); ``$NNKIT_DATA`` or ``~/.nnkit/datasets`` when ``None``.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 channels-last images ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)``, labels of shape ``(50000, 1)`` and ``(10000, 1)``.

    Raises:
        ConfigError: ``label_mode`` is neither ``"fine"`` nor ``"coarse"``.
        OSError: the files are missing and the download failed.
        DataError: the files are unreadable.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data(label_mode="coarse")  # doctest: +SKIP
    """
    if label_mode not in ("fine", "coarse"):
        raise ConfigError(f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode={label_mode!r}.')
    folder = _batches_folder(path)
    (x_train, y_train), (x_test, y_test) = (_batch(folder / name, f"{label_mode}_labels") for name in ("train", "test"))
    return (x_train, y_train), (x_test, y_test)


def _batch(file: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = keras_files.load_pickle(file, "CIFAR-100")
    if "data" not in batch or label_key not in batch:
        raise DataError(f"{str(file)!r} is not a CIFAR-100 batch: it has no 'data' or {label_key!r} entry.")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key])
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{str(file)!r} is not a CIFAR-100 batch: data of shape {data.shape} with {len(labels)} "
                        "labels, where rows of 3072 bytes and one label per row are expected.")
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)  # channels-last, as Keras returns them
    return images, labels.reshape(len(labels), 1)


def _batches_folder(path: str | os.PathLike[str] | None) -> Path:
    """The ``cifar-100-python`` folder: found, extracted from a local archive, or downloaded and extracted."""
    home = data_folder(path)
    for folder in (home / _FOLDER, keras_files.keras_cache() / "cifar-100-python-target" / _FOLDER):
        if (folder / "train").is_file() and (folder / "test").is_file():
            return folder
    archive = next((a for a in (home / _ARCHIVE, keras_files.keras_cache() / "cifar-100-python-target_archive")
                    if a.is_file()), None)
    if archive is None:
        archive = keras_files.fetch(home / _ARCHIVE, ORIGIN, _SHA256, "CIFAR-100")
    _extract(archive, home)
    return home / _FOLDER


def _extract(archive: Path, home: Path) -> None:
    """Unpack the archive's ``cifar-100-python`` folder into ``home``, whole or not at all."""
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".nnkit-extract-", dir=home))
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")  # no absolute paths, links out or devices
        except (OSError, tarfile.TarError, EOFError) as err:
            raise DataError(f"Could not extract CIFAR-100 from {str(archive)!r}: {type(err).__name__}: {err}. "
                            "The archive may be truncated: delete it and load again.") from err
        if not (staging / _FOLDER / "train").is_file():
            raise DataError(f"{str(archive)!r} is not the CIFAR-100 archive: it holds no {_FOLDER}/train file.")
        shutil.rmtree(home / _FOLDER, ignore_errors=True)  # an incomplete earlier folder
        os.replace(staging / _FOLDER, home / _FOLDER)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
