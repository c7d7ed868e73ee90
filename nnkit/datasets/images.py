"""Image datasets (MNIST, Fashion-MNIST, CIFAR-10) read by ``torchvision.datasets`` from a local folder.

The folder is the ``path`` argument, else the ``NNKIT_DATA`` environment variable, else
``~/.nnkit/datasets``, laid out as torchvision expects: ``<folder>/MNIST/raw/train-images-idx3-ubyte``
(uncompressed), ``<folder>/FashionMNIST/raw/...``, ``<folder>/cifar-10-batches-py/data_batch_1``...
A download is staged in a temporary folder inside the data folder and only complete files are moved
into place, so a failed download never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnkit.errors import ConfigError, DataError
from nnkit.registry import closest
from nnkit.utils.atomic import ensure_folder

_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta")


@dataclass(frozen=True)
class ImageSet:
    """Where one image dataset lives on disk and how to fetch it by hand."""

    title: str
    torchvision_class: str
    files: tuple[str, ...]
    description: str
    manual: str


IMAGE_SETS = {
    "mnist": ImageSet(
        "MNIST",
        "MNIST",
        tuple(f"MNIST/raw/{name}" for name in _IDX),
        "MNIST handwritten digits: 60000 + 10000 grayscale 28x28 images, 10 classes (local files).",
        "download the four *-ubyte.gz files from https://ossci-datasets.s3.amazonaws.com/mnist/ "
        "and gunzip them into <folder>/MNIST/raw/",
    ),
    "fashion_mnist": ImageSet(
        "Fashion-MNIST",
        "FashionMNIST",
        tuple(f"FashionMNIST/raw/{name}" for name in _IDX),
        "Fashion-MNIST clothing: 60000 + 10000 grayscale 28x28 images, 10 classes (local files).",
        "download the four *-ubyte.gz files from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ "
        "and gunzip them into <folder>/FashionMNIST/raw/",
    ),
    "cifar10": ImageSet(
        "CIFAR-10",
        "CIFAR10",
        tuple(f"cifar-10-batches-py/{name}" for name in _CIFAR),
        "CIFAR-10 objects: 50000 + 10000 color 32x32 images, 10 classes (local files).",
        "download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and extract it into <folder> "
        "(it holds the cifar-10-batches-py folder)",
    ),
}

# torchvision raises these for unreadable files or failed downloads (URLError is an OSError).
_READ_ERRORS = (RuntimeError, ValueError, TypeError, AssertionError, OSError, EOFError, pickle.UnpicklingError)
_DOWNLOAD_ERRORS = (OSError, RuntimeError, EOFError, tarfile.TarError)


def data_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder image datasets are read from: ``path``, else ``$NNKIT_DATA``, else ``~/.nnkit/datasets``.

    Raises:
        ConfigError: ``path`` is neither a string nor a path.
    """
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigError(f"Expected path to be a folder path (str or PathLike). Received: {path!r}.")
        return Path(path).expanduser()
    if os.environ.get("NNKIT_DATA"):
        return Path(os.environ["NNKIT_DATA"]).expanduser()
    return Path.home() / ".nnkit" / "datasets"


def _where(path: str | os.PathLike[str] | None) -> str:
    if path is not None:
        return "given as path="
    return "from the NNKIT_DATA environment variable" if os.environ.get("NNKIT_DATA") else "the default data folder"


def _missing(spec: ImageSet, folder: Path) -> list[str]:
    return [name for name in spec.files if not (folder / name).is_file()]


def files_present(name: str, path: str | os.PathLike[str] | None = None) -> bool:
    """Whether every file of image dataset ``name`` is in the data folder (see :func:`data_folder`)."""
    return not _missing(IMAGE_SETS[name], data_folder(path))


def load_arrays(
    name: str, path: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Both splits in Keras's layout: uint8 images (channels-last for color), uint8 labels.

    Args:
        name: A key of :data:`IMAGE_SETS`.
        path: Data folder; see :func:`data_folder`.
        download: Fetch missing files with torchvision first.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        FileNotFoundError: files are missing and ``download`` is false.
        OSError: the download failed.
        DataError: the files are there but cannot be read.
    """
    folder = _ensure_files(name, path, download)
    return _read(name, folder, train=True), _read(name, folder, train=False)


def load_split(
    name: str, path: str | os.PathLike[str] | None = None, download: bool = False, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """One split ready to train on: float32 images in [0, 1], channels-last, and int64 labels of shape ``(n,)``.

    Args:
        name: A key of :data:`IMAGE_SETS`.
        path: Data folder; see :func:`data_folder`.
        download: Fetch missing files with torchvision first.
        split: ``"train"`` or ``"test"``.

    Raises:
        ConfigError: ``split`` is not ``"train"`` or ``"test"``.
    """
    if split not in ("train", "test"):
        close = closest(str(split), ["train", "test"])
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(f"load({name!r}) expects split='train' or split='test'. Received: split={split!r}.{hint}")
    folder = _ensure_files(name, path, download)
    x, y = _read(name, folder, train=split == "train")
    if x.ndim == 3:  # grayscale: add the channel axis
        x = x[..., None]
    return x.astype(np.float32) / np.float32(255), y.reshape(-1).astype(np.int64)


def _ensure_files(name: str, path: str | os.PathLike[str] | None, download: bool) -> Path:
    spec, folder = IMAGE_SETS[name], data_folder(path)
    missing = _missing(spec, folder)
    if missing and download:
        _download(spec, folder)
    elif missing:
        raise FileNotFoundError(
            f"{spec.title} files not found in {str(folder)!r} ({_where(path)}); missing: "
            f"{', '.join(missing)}. To fix: pass download=True to fetch them, set NNKIT_DATA or path= to a "
            f"folder that holds them, or {spec.manual.replace('<folder>', str(folder))}."
        )
    return folder


def _download(spec: ImageSet, folder: Path) -> None:
    created = not folder.exists()
    ensure_folder(folder, what="path", is_folder=True)
    staging = Path(tempfile.mkdtemp(prefix=".nnkit-download-", dir=folder))
    try:
        try:
            _torchvision_class(spec)(root=str(staging), train=True, download=True)
        except _DOWNLOAD_ERRORS as err:
            raise OSError(
                f"Downloading {spec.title} into {str(folder)!r} failed: {type(err).__name__}: {err} "
                f"Nothing was written to that folder. Check the network connection (and proxy settings) and "
                f"try again, or get the files by hand: {spec.manual.replace('<folder>', str(folder))}; "
                "then load with download=False."
            ) from err
        for name in spec.files:  # whole files only: a rename within one file system is atomic
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):  # only removes the folder if it is still empty
                folder.rmdir()


def _torchvision_class(spec: ImageSet) -> type:
    import torchvision.datasets  # torchvision loads only when an image dataset is asked for

    return getattr(torchvision.datasets, spec.torchvision_class)


def _read(name: str, folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    spec = IMAGE_SETS[name]
    try:
        # CIFAR-10 batches are Python pickles: torchvision unpickles them, after checking each file's MD5
        # against the official release, so only the genuine files are ever unpickled.
        dataset = _torchvision_class(spec)(root=str(folder), train=train, download=False)
    except _READ_ERRORS as err:
        raise DataError(
            f"Could not read the {spec.title} files in {str(folder)!r}: {type(err).__name__}: {err} "
            f"The files may be truncated or corrupted: delete them and load with download=True, "
            f"or {spec.manual.replace('<folder>', str(folder))}."
        ) from err
    if name == "cifar10":  # Keras gives CIFAR labels as a column
        return np.asarray(dataset.data, dtype=np.uint8), np.asarray(dataset.targets, dtype=np.uint8).reshape(-1, 1)
    return dataset.data.numpy().astype(np.uint8), dataset.targets.numpy().astype(np.uint8)
