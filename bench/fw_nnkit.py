"""nnkit: the Keras program (:mod:`keras_program`) run by ``Sequential.fit``; the seed grid search through
``KerasClassifier``."""

from __future__ import annotations

from collections.abc import Callable

import keras_program
import workloads
from workloads import Data, Workload

import nnkit
from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.regularizers import L2

nnkit.config.set_device("cpu")


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: :func:`keras_program.fitter` with ``nnkit`` as the Keras namespace."""
    return keras_program.fitter(nnkit, w, data)


def create_model(l2: float = 0.0) -> Sequential:
    """The seed program's ``create_model`` (examples/grid_search.py) without its ``accuracy`` metric, which
    the other frameworks do not compute while training."""
    model = Sequential()
    model.add(Dense(64, activation="relu", input_dim=20, kernel_regularizer=L2(l2)))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=nnkit.optimizers.Adam(learning_rate=workloads.SEARCH_LR))
    return model


def searcher(data: Data, grid: dict[str, list]) -> Callable[[], float]:
    """The timed call: the seed's ``GridSearchCV(KerasClassifier(build_fn=create_model, verbose=0), grid,
    cv=3)`` on float64 ``x`` and one-hot ``y``; returns ``best_score_``."""
    from sklearn.model_selection import GridSearchCV

    from nnkit.wrappers.scikit_learn import KerasClassifier

    def search() -> float:
        estimator = KerasClassifier(build_fn=create_model, verbose=0)
        return GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(data.x, data.y).best_score_

    return search
