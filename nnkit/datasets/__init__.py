"""Datasets that load offline: ``load(name)``, ``load_file(path)``, ``available()`` and Keras's modules.

``nnkit.datasets.mnist``, ``fashion_mnist`` and ``cifar10`` mirror ``keras.datasets``: ``load_data()``
returns ``((x_train, y_train), (x_test, y_test))`` with Keras's dtypes and shapes, read from local files.
scikit-learn and torchvision are imported only when a dataset that needs them is loaded.

Example:
    >>> from nnkit import datasets
    >>> X, y = datasets.load("iris")
    >>> X.shape, y.shape
    ((150, 4), (150,))
"""

from nnkit.datasets import boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters
from nnkit.datasets.catalog import DatasetInfo, available, class_names, load
from nnkit.datasets.files import CsvTable, load_csv, load_file
from nnkit.datasets.images import data_folder

__all__ = ["DatasetInfo", "available", "cifar10", "class_names", "data_folder", "fashion_mnist", "load", "load_file", "mnist"]
__all__ += ["boston_housing", "california_housing", "cifar100", "imdb", "reuters"]
__all__ += ["CsvTable", "load_csv"]
