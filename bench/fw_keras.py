"""Keras 3 on the torch backend: the same Keras program as nnkit's (:mod:`keras_program`), and
``keras.wrappers.SKLearnClassifier``.

``KERAS_BACKEND=torch`` is set before Keras is imported. Keras's ``jit_compile="auto"`` means eager
execution on the torch backend, which is what runs here.
"""

from __future__ import annotations

import os
from collections.abc import Callable

os.environ["KERAS_BACKEND"] = "torch"

import keras
import keras_program
import workloads
from keras import layers
from workloads import Data, Workload


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: :func:`keras_program.fitter` with ``keras`` as the Keras namespace."""
    return keras_program.fitter(keras, w, data)


def create_model(X, y, l2: float = 0.0) -> keras.Sequential:
    """The seed network for ``SKLearnClassifier`` (which calls it with ``X`` and one-hot ``y``)."""
    model = keras.Sequential([
        keras.Input(shape=(X.shape[1],)),
        layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(l2)),
        layers.Dense(y.shape[1], activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=workloads.SEARCH_LR))
    return model


def keras_grid(grid: dict[str, list]) -> dict[str, list]:
    """The seed grid in ``SKLearnClassifier``'s terms: ``l2`` goes to ``model_kwargs``, the rest to
    ``fit_kwargs`` (Keras's ``clone`` drops ``fit_kwargs``, so they must be grid values, not defaults)."""
    fit_kwargs = [{"batch_size": b, "epochs": e, "verbose": 0} for b in grid["batch_size"] for e in grid["epochs"]]
    return {"model_kwargs": [{"l2": v} for v in grid["l2"]], "fit_kwargs": fit_kwargs}


def searcher(data: Data, grid: dict[str, list]) -> Callable[[], float]:
    """The timed call: ``GridSearchCV(SKLearnClassifier(create_model), grid, cv=3)`` on float64 ``x`` and
    integer labels (the wrapper one-hot encodes them); returns ``best_score_``."""
    from keras.wrappers import SKLearnClassifier
    from sklearn.model_selection import GridSearchCV

    def search() -> float:
        estimator = SKLearnClassifier(model=create_model)
        return GridSearchCV(estimator, keras_grid(grid), cv=3, n_jobs=1).fit(data.x, data.labels).best_score_

    return search
