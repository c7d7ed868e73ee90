"""Keras 3 on the torch backend: the same Keras program as nnkit's, and ``keras.wrappers.SKLearnClassifier``.

``KERAS_BACKEND=torch`` is set before Keras is imported. Keras's ``jit_compile="auto"`` means eager
execution on the torch backend, which is what runs here.
"""

from __future__ import annotations

import os
from collections.abc import Callable

os.environ["KERAS_BACKEND"] = "torch"

import keras
import workloads
from keras import layers
from workloads import Data, Workload


def build(w: Workload) -> keras.Sequential:
    """The workload's network, Keras style (softmax outputs)."""
    stack: list = [keras.Input(shape=w.sample_shape)]
    if w.kind == "mlp":
        stack += [layers.Dense(units, activation="relu") for units in w.hidden]
    elif w.kind == "cnn":
        for filters in w.hidden:
            stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
        stack.append(layers.Flatten())
    else:
        stack.append(layers.LSTM(w.hidden[0]))
    return keras.Sequential([*stack, layers.Dense(w.classes, activation="softmax")])


def optimizer(w: Workload):
    if w.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=workloads.SGD_LR)
    return keras.optimizers.Adam(learning_rate=workloads.ADAM_LR, epsilon=workloads.ADAM_EPS)


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``model.fit(x, y, epochs, batch_size, verbose=0)``; returns the last epoch's loss."""
    model = build(w)
    model.set_weights(workloads.keras_weights(w))
    model.compile(loss="categorical_crossentropy", optimizer=optimizer(w))

    def fit() -> float:
        history = model.fit(data.x, data.y, epochs=w.epochs, batch_size=w.batch, verbose=0)
        return history.history["loss"][-1]

    return fit


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
