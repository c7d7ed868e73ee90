"""nnkit: the Keras program, run by ``Sequential.fit``; the seed grid search through ``KerasClassifier``.

The model is written as a Keras user writes it (``Dense(..., activation="softmax")`` with
``loss="categorical_crossentropy"``, channels-last images) and gets the float64 arrays and one-hot targets
a Keras program has; conversion and input checks happen inside the timed ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable

import workloads
from workloads import Data, Workload

import nnkit
from nnkit.layers import LSTM, Conv2D, Dense, Flatten, Input, MaxPooling2D
from nnkit.models import Sequential
from nnkit.regularizers import L2

nnkit.config.set_device("cpu")


def build(w: Workload) -> Sequential:
    """The workload's network, Keras style (softmax outputs)."""
    layers: list = [Input(shape=w.sample_shape)]
    if w.kind == "mlp":
        layers += [Dense(units, activation="relu") for units in w.hidden]
    elif w.kind == "cnn":
        for filters in w.hidden:
            layers += [Conv2D(filters, 3, activation="relu"), MaxPooling2D(2)]
        layers.append(Flatten())
    else:
        layers.append(LSTM(w.hidden[0]))
    return Sequential([*layers, Dense(w.classes, activation="softmax")])


def optimizer(w: Workload):
    if w.optimizer == "sgd":
        return nnkit.optimizers.SGD(learning_rate=workloads.SGD_LR)
    return nnkit.optimizers.Adam(learning_rate=workloads.ADAM_LR, epsilon=workloads.ADAM_EPS)


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``model.fit(x, y, epochs, batch_size, verbose=0)``; returns the last epoch's loss."""
    model = build(w)
    model.set_weights(workloads.keras_weights(w))
    model.compile(loss="categorical_crossentropy", optimizer=optimizer(w))

    def fit() -> float:
        history = model.fit(data.x, data.y, epochs=w.epochs, batch_size=w.batch, verbose=0)
        return history.history["loss"][-1]

    return fit


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
