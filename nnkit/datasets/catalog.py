"""The dataset catalogue: ``load(name, **options)`` and ``available()`` over one registry of names."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnkit.datasets import bundled, images, synthetic
from nnkit.errors import ConfigError
from nnkit.registry import Registry, closest


@dataclass(frozen=True)
class DatasetInfo:
    """One line of ``nnkit datasets``: what a dataset is and whether it loads without a network.

    Attributes:
        name: The name :func:`load` accepts.
        task: ``"classification"``, ``"regression"``, ``"forecasting"`` or ``"images"``.
        description: One line for people.
        offline: ``True`` when :func:`load` works without downloading anything (always for the
            scikit-learn and synthetic sets; for image sets, whether their files are in the data folder).
    """

    name: str
    task: str
    description: str
    offline: bool


@dataclass(frozen=True)
class _Entry:
    name: str
    task: str
    description: str
    loader: Callable[..., tuple[np.ndarray, np.ndarray]]

    @property
    def options(self) -> list[str]:
        return list(inspect.signature(self.loader).parameters)


DATASETS: Registry[_Entry] = Registry("dataset")


def _add(name: str, task: str, description: str, loader: Callable) -> None:
    hyphenated = name.replace("_", "-")  # "breast-cancer", "fashion-mnist"
    DATASETS.add(name, _Entry(name, task, description, loader), (hyphenated,) if hyphenated != name else ())


for _name, _description in bundled.DESCRIPTIONS.items():
    _task = "regression" if _name in bundled.REGRESSION else "classification"
    _add(_name, _task, _description, functools.partial(bundled.load_bundled, _name))
_add(
    "classification",
    "classification",
    "Random n-class problem (sklearn make_classification).",
    synthetic.classification,
)
_add("regression", "regression", "Random linear regression problem (sklearn make_regression).", synthetic.regression)
_add("moons", "classification", "Two interleaving half circles, 2 features (sklearn make_moons).", synthetic.moons)
_add("sine", "forecasting", "Noisy sine wave cut into windows; predict the next value.", synthetic.sine)
for _name, _spec in images.IMAGE_SETS.items():
    _add(_name, "images", _spec.description, functools.partial(images.load_split, _name))


def load(name: str, **options: object) -> tuple[np.ndarray, np.ndarray]:
    """Load a dataset by name as ``(X, y)`` NumPy arrays, ready to train on.

    Args:
        name: One of :func:`available`'s names: ``digits``, ``iris``, ``wine``, ``breast_cancer``,
            ``diabetes`` (scikit-learn's bundled sets, same numbers as ``load_*(return_X_y=True)``);
            ``classification``, ``regression``, ``moons``, ``sine`` (synthetic, ``random_state=0`` by
            default); ``mnist``, ``fashion_mnist``, ``cifar10`` (local image files, see
            :mod:`nnkit.datasets.mnist`).
        **options: The named dataset's options, e.g. ``n_samples=500, noise=0.2`` for ``moons`` or
            ``split="test", path="data/"`` for ``mnist``.

    Returns:
        ``(X, y)``: ``X`` float32; ``y`` int64 class labels, or float32 targets for regression and
        forecasting. Images come channels-last, scaled to [0, 1]: ``(n, 28, 28, 1)`` or ``(n, 32, 32, 3)``.

    Raises:
        ConfigError: unknown name or option, or an option value the dataset cannot use.
        FileNotFoundError: an image set's files are not in the data folder and ``download=False``.

    Example:
        >>> X, y = load("moons", n_samples=200, noise=0.1)
        >>> X.shape, y.dtype
        ((200, 2), dtype('int64'))
    """
    entry = DATASETS.get(name)
    allowed = entry.options
    for option in options:
        if option not in allowed:
            raise ConfigError(_unknown_option_message(entry.name, option, options[option], allowed))
    return entry.loader(**options)


def _unknown_option_message(name: str, option: str, value: object, allowed: list[str]) -> str:
    if not allowed:
        return f"load({name!r}) takes no options. Received: {option}={value!r}. Call load({name!r}) alone."
    close = closest(option, allowed)
    hint = f" Did you mean {close!r}?" if close else ""
    return f"load({name!r}) has no option {option!r}.{hint} Options of {name!r}: {', '.join(allowed)}."


_IMAGE_CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}


def class_names(name: str) -> list[str] | None:
    """The names of a classification dataset's classes, label ``i`` being ``class_names(name)[i]``
    (``None`` where classes have no names: regression, forecasting, synthetic sets).

    Example:
        >>> class_names("iris")
        ['setosa', 'versicolor', 'virginica']
    """
    entry = DATASETS.get(name)
    if entry.name in bundled.DESCRIPTIONS:
        return bundled.class_names(entry.name)
    names = _IMAGE_CLASSES.get(entry.name)
    return list(names) if names is not None else None


def available(path: str | os.PathLike[str] | None = None) -> list[DatasetInfo]:
    """Every dataset :func:`load` knows, sorted by name.

    Args:
        path: Folder to look in for image files; ``NNKIT_DATA`` or ``~/.nnkit/datasets`` by default.

    Returns:
        One :class:`DatasetInfo` per dataset.
    """
    infos = []
    for name in DATASETS.names():
        entry = DATASETS.get(name)
        offline = images.files_present(name, path) if entry.task == "images" else True
        infos.append(DatasetInfo(name, entry.task, entry.description, offline))
    return infos
