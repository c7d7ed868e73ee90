"""``load(name)``, ``available()`` and the import paths of ``nnkit.datasets``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sklearn.datasets

import nnkit
from nnkit.datasets import DatasetInfo, available, load
from nnkit.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "y_dtype"),
    [
        ("digits", np.int64),
        ("iris", np.int64),
        ("wine", np.int64),
        ("breast_cancer", np.int64),
        ("diabetes", np.float32),
    ],
)
def test_bundled_sets_hold_scikit_learns_numbers(name, y_dtype):
    X_ref, y_ref = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    X, y = load(name)
    assert (X.dtype, y.dtype) == (np.float32, y_dtype)
    assert X.shape == X_ref.shape and y.shape == y_ref.shape
    np.testing.assert_allclose(X, X_ref, rtol=1e-6)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)


def test_names_are_forgiving_about_spelling():
    X, _ = load("breast-cancer")
    assert X.shape == (569, 30)
    assert load("Iris")[0].shape == (150, 4)


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(ConfigError, match=r"Unknown dataset 'mnst'\. Did you mean 'mnist'\?") as caught:
        load("mnst")
    assert "breast_cancer" in str(caught.value) and "sine" in str(caught.value)


def test_unknown_option_suggests_the_closest_and_lists_the_allowed_ones():
    with pytest.raises(ConfigError, match="Did you mean 'noise'") as caught:
        load("moons", nosie=0.1)
    assert "n_samples, noise, random_state" in str(caught.value)
    with pytest.raises(ValueError, match=r"takes no options\. Received: n_samples=10"):
        load("iris", n_samples=10)
    with pytest.raises(ConfigError, match=r"split='train' or split='test'.*Did you mean 'test'"):
        load("mnist", split="tset")


def test_available_lists_every_dataset_with_a_known_task():
    infos = available()
    names = [info.name for info in infos]
    assert names == sorted(names)
    expected = {
        "breast_cancer",
        "cifar10",
        "classification",
        "diabetes",
        "digits",
        "fashion_mnist",
        "iris",
        "mnist",
        "moons",
        "regression",
        "sine",
        "wine",
    }
    assert set(names) == expected
    tasks = {info.name: info.task for info in infos}
    assert tasks["diabetes"] == "regression" and tasks["sine"] == "forecasting" and tasks["mnist"] == "images"
    assert all(isinstance(info, DatasetInfo) and info.description and "\n" not in info.description for info in infos)
    with pytest.raises(AttributeError):
        infos[0].name = "other"  # frozen


def test_keras_import_paths():
    from nnkit.datasets import mnist

    assert nnkit.datasets.mnist is mnist
    assert callable(nnkit.datasets.cifar10.load_data) and callable(nnkit.datasets.fashion_mnist.load_data)


def test_import_nnkit_does_not_load_datasets_and_datasets_do_not_load_sklearn_or_torchvision():
    code = (
        "import sys, nnkit; print('nnkit.datasets' in sys.modules); import nnkit.datasets; "
        "print('sklearn' in sys.modules, 'torchvision' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False", "False"]


def test_class_names_are_scikit_learns_target_names():
    import sklearn.datasets

    from nnkit.datasets import class_names

    for name in ("iris", "wine", "breast_cancer", "digits"):
        assert class_names(name) == list(map(str, getattr(sklearn.datasets, f"load_{name}")().target_names))
    assert class_names("breast-cancer")[0] == "malignant"
    assert class_names("diabetes") is None and class_names("moons") is None
    assert class_names("cifar10")[3] == "cat" and len(class_names("fashion_mnist")) == 10
