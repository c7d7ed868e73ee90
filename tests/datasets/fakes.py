"""Tiny stand-ins for the MNIST and CIFAR-10 files, written in the formats torchvision reads."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

IDX_NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """The idx format: two zero bytes, a type code (0x08 = uint8), the rank, big-endian sizes, the data."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def fake_mnist_arrays(seed: int = 0, n_train: int = 5, n_test: int = 3) -> dict[tuple[str, str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        ("train", "images"): rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        ("train", "labels"): rng.integers(0, 10, n_train, dtype=np.uint8),
        ("test", "images"): rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        ("test", "labels"): rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_fake_mnist(root: Path, folder: str = "MNIST", seed: int = 0) -> dict[tuple[str, str], np.ndarray]:
    """Write uncompressed idx files to ``root/<folder>/raw`` as torchvision.datasets.MNIST expects them."""
    arrays = fake_mnist_arrays(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for key, array in arrays.items():
        (raw / IDX_NAMES[key]).write_bytes(idx_bytes(array))
    return arrays


def gzipped_idx(arrays: dict[tuple[str, str], np.ndarray], filename: str) -> bytes:
    """The bytes of ``<idx name>.gz``, as the MNIST mirrors serve them."""
    key = next(key for key, name in IDX_NAMES.items() if f"{name}.gz" == filename)
    return gzip.compress(idx_bytes(arrays[key]))


def write_fake_cifar10(root: Path, per_batch: int = 2, n_test: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the python-version CIFAR-10 batches (pickled dicts, rows of 3072 channel-first bytes)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rows = {"train": [], "test": []}
    labels = {"train": [], "test": []}
    for name, count, split in [
        *((f"data_batch_{i}", per_batch, "train") for i in range(1, 6)),
        ("test_batch", n_test, "test"),
    ]:
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        batch_labels = [int(v) for v in rng.integers(0, 10, count)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": batch_labels, "batch_label": name}, f, protocol=2)
        rows[split].append(data)
        labels[split].extend(batch_labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class_{i}" for i in range(10)]}, f, protocol=2)
    return {
        "x_train": np.concatenate(rows["train"]),
        "y_train": np.array(labels["train"]),
        "x_test": np.concatenate(rows["test"]),
        "y_test": np.array(labels["test"]),
    }


# -- keras.datasets files (Keras's own formats) -------------------------------------------------------------
def object_array(sequences: list[list[int]]) -> np.ndarray:
    array = np.empty(len(sequences), dtype=object)
    array[:] = [list(s) for s in sequences]
    return array


def write_fake_imdb(path: Path, train: list[list[int]], y_train: list[int], test: list[list[int]],
                    y_test: list[int]) -> None:
    """``imdb.npz``: ragged word-index sequences as pickled object arrays, int labels."""
    np.savez(path, x_train=object_array(train), y_train=np.array(y_train), x_test=object_array(test),
             y_test=np.array(y_test))


def write_fake_reuters(path: Path, sequences: list[list[int]], labels: list[int]) -> None:
    """``reuters.npz``: all newswires in ``x`` (object array) and their topics in ``y``."""
    np.savez(path, x=object_array(sequences), y=np.array(labels))


def write_fake_housing(path: Path, n: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``boston_housing.npz`` / ``california_housing.npz``: float features ``x`` and targets ``y``."""
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, features)), rng.random(n) * 50
    np.savez(path, x=x, y=y)
    return x, y


def write_fake_cifar100(folder: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """``cifar-100-python/{train,test,meta}``: pickled dicts with bytes keys, as the Python 2 release loads."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    out = {}
    for name, count in (("train", n_train), ("test", n_test)):
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        fine, coarse = [int(v) for v in rng.integers(0, 100, count)], [int(v) for v in rng.integers(0, 20, count)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"fine_labels": fine, b"coarse_labels": coarse, b"filenames": [b"x"] * count},
                        f, protocol=4)
        out.update({f"{name}_data": data, f"{name}_fine": np.array(fine), f"{name}_coarse": np.array(coarse)})
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"apple"] * 100}, f, protocol=4)
    return out
