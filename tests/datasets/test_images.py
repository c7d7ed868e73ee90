"""MNIST, Fashion-MNIST and CIFAR-10 from a local folder, fully offline (tiny fake files in tmp_path)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import numpy as np
import pytest

import nnkit
from nnkit.datasets import available, cifar10, data_folder, fashion_mnist, load, mnist
from nnkit.errors import DataError
from tests.datasets.fakes import IDX_NAMES, gzipped_idx, idx_bytes, write_fake_cifar10, write_fake_mnist


@pytest.fixture(autouse=True)
def _no_user_data_folder(monkeypatch, tmp_path):
    """No test reads the real ~/.nnkit or $NNKIT_DATA."""
    monkeypatch.delenv("NNKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def md5_unchecked(monkeypatch):
    """torchvision only accepts the genuine CIFAR-10 files (MD5); the fakes need that check off."""
    import torchvision.datasets.cifar

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


@pytest.mark.parametrize(("module", "folder"), [(mnist, "MNIST"), (fashion_mnist, "FashionMNIST")])
def test_mnist_style_load_data_returns_the_files_pixels_with_keras_dtypes(tmp_path, module, folder):
    arrays = write_fake_mnist(tmp_path, folder)
    (x_train, y_train), (x_test, y_test) = module.load_data(path=tmp_path)

    assert (x_train.dtype, x_train.shape, y_train.dtype, y_train.shape) == (np.uint8, (5, 28, 28), np.uint8, (5,))
    assert (x_test.dtype, x_test.shape, y_test.dtype, y_test.shape) == (np.uint8, (3, 28, 28), np.uint8, (3,))
    np.testing.assert_array_equal(x_train, arrays["train", "images"])
    np.testing.assert_array_equal(y_train, arrays["train", "labels"])
    np.testing.assert_array_equal(x_test, arrays["test", "images"])
    np.testing.assert_array_equal(y_test, arrays["test", "labels"])


def test_cifar10_load_data_is_channels_last_with_column_labels(tmp_path, md5_unchecked):
    ref = write_fake_cifar10(tmp_path)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(str(tmp_path))

    assert (x_train.dtype, x_train.shape, y_train.dtype, y_train.shape) == (
        np.uint8,
        (10, 32, 32, 3),
        np.uint8,
        (10, 1),
    )
    assert (x_test.shape, y_test.shape) == ((3, 32, 32, 3), (3, 1))
    # A CIFAR row stores the red plane, then green, then blue, each 32x32 row-major.
    for image, row, col, channel in [(0, 0, 0, 0), (1, 5, 7, 2), (9, 31, 30, 1)]:
        assert x_train[image, row, col, channel] == ref["x_train"][image, channel * 1024 + row * 32 + col]
    np.testing.assert_array_equal(x_test, ref["x_test"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_train[:, 0], ref["y_train"])
    np.testing.assert_array_equal(y_test[:, 0], ref["y_test"])


def test_cifar10_files_that_are_not_the_official_release_are_refused(tmp_path):
    write_fake_cifar10(tmp_path)  # right layout, wrong checksums
    with pytest.raises(DataError, match="Could not read the CIFAR-10 files"):
        cifar10.load_data(tmp_path)


def test_load_by_name_gives_float_images_in_unit_range_and_int64_labels(tmp_path, md5_unchecked):
    arrays = write_fake_mnist(tmp_path)
    ref = write_fake_cifar10(tmp_path)

    X, y = load("mnist", path=tmp_path, split="test")
    assert (X.dtype, X.shape, y.dtype) == (np.float32, (3, 28, 28, 1), np.int64)
    np.testing.assert_allclose(X[..., 0], arrays["test", "images"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, arrays["test", "labels"])

    X, y = load("cifar10", path=tmp_path)  # split="train" by default
    assert (X.shape, y.shape, y.dtype) == ((10, 32, 32, 3), (10,), np.int64)
    np.testing.assert_allclose(X[1, 5, 7, 2], ref["x_train"][1, 2 * 1024 + 5 * 32 + 7] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, ref["y_train"])


def test_data_folder_comes_from_path_then_nnkit_data_then_home(tmp_path, monkeypatch):
    assert data_folder() == tmp_path / "home" / ".nnkit" / "datasets"
    arrays = write_fake_mnist(tmp_path / "shared")
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path / "shared"))
    assert data_folder() == tmp_path / "shared"
    assert data_folder(tmp_path / "other") == tmp_path / "other"
    (x_train, _), _ = nnkit.datasets.mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train", "images"])


def test_available_reports_whether_image_files_are_present(tmp_path):
    write_fake_mnist(tmp_path)
    offline = {info.name: info.offline for info in available(tmp_path)}
    assert offline["mnist"] is True
    assert offline["fashion_mnist"] is False and offline["cifar10"] is False
    assert offline["iris"] is True and offline["sine"] is True
    assert {info.name: info.offline for info in available()}["mnist"] is False  # empty default folder


def test_missing_files_name_the_folder_and_the_fixes(tmp_path):
    folder = tmp_path / "nothing here"
    with pytest.raises(FileNotFoundError) as caught:
        mnist.load_data(path=folder)
    message = str(caught.value)
    assert str(folder) in message and "MNIST/raw/train-images-idx3-ubyte" in message
    assert "download=True" in message and "NNKIT_DATA" in message
    assert not folder.exists()  # looking does not create anything


def test_unreadable_idx_file_is_a_data_error(tmp_path):
    write_fake_mnist(tmp_path)
    images = np.zeros((5, 28, 28), dtype=np.int32)  # idx type 0x0C: int32 pixels, not MNIST's uint8
    (tmp_path / "MNIST" / "raw" / IDX_NAMES["train", "images"]).write_bytes(idx_bytes(images, type_code=0x0C))
    with pytest.raises(DataError, match="Could not read the MNIST files"):
        mnist.load_data(tmp_path)


def test_download_with_the_network_down_fails_clearly_and_writes_nothing(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    folder = tmp_path / "data"
    with pytest.raises(OSError, match=r"Downloading MNIST into .* failed") as caught:
        mnist.load_data(path=folder, download=True)
    assert "by hand" in str(caught.value) and "ossci-datasets" in str(caught.value)
    assert not folder.exists()


def test_a_download_that_dies_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    import torchvision.datasets.utils

    def half_written(url, root, filename=None, md5=None, **kwargs):
        with open(os.path.join(root, filename), "wb") as f:
            f.write(b"\x1f\x8b partial")
        raise urllib.error.URLError("connection reset by peer")

    monkeypatch.setattr(torchvision.datasets.utils, "download_url", half_written)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match=r"Downloading CIFAR-10 .* failed.*connection reset by peer"):
        cifar10.load_data(path=tmp_path, download=True)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_successful_download_puts_complete_files_in_place(tmp_path, monkeypatch):
    import torchvision.datasets.utils

    arrays = write_fake_mnist(tmp_path / "source")

    def serve(url, root, filename=None, md5=None, **kwargs):
        with open(os.path.join(root, filename), "wb") as f:
            f.write(gzipped_idx(arrays, filename))

    monkeypatch.setattr(torchvision.datasets.utils, "download_url", serve)
    folder = tmp_path / "data"
    (x_train, y_train), (x_test, _) = mnist.load_data(path=folder, download=True)
    np.testing.assert_array_equal(y_train, arrays["train", "labels"])
    np.testing.assert_array_equal(x_train, arrays["train", "images"])
    np.testing.assert_array_equal(x_test, arrays["test", "images"])
    assert sorted(os.listdir(folder)) == ["MNIST"]  # the staging folder is gone
    assert sorted(os.listdir(folder / "MNIST" / "raw")) == sorted(IDX_NAMES.values())
