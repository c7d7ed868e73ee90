"""The Keras program of the Keras-style columns, written once against a Keras namespace: ``fw_keras`` runs it
with ``import keras`` and ``fw_nnkit`` with ``import nnkit as keras``, the port nnkit promises.

The model is written as a Keras user writes it (``Dense(..., activation="softmax")`` with
``loss="categorical_crossentropy"``, channels-last images) and gets the float64 arrays and one-hot targets
a Keras program has; conversion and input checks happen inside the timed ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import workloads
from workloads import Data, Workload


def build(keras: ModuleType, w: Workload):
    """The workload's network, Keras style (softmax outputs)."""
    layers = keras.layers
    stack: list = [layers.Input(shape=w.sample_shape)]
    if w.kind == "mlp":
        stack += [layers.Dense(units, activation="relu") for units in w.hidden]
    elif w.kind == "cnn":
        for filters in w.hidden:
            stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
        stack.append(layers.Flatten())
    else:
        stack.append(layers.LSTM(w.hidden[0]))
    return keras.models.Sequential([*stack, layers.Dense(w.classes, activation="softmax")])


def optimizer(keras: ModuleType, w: Workload):
    if w.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=workloads.SGD_LR)
    return keras.optimizers.Adam(learning_rate=workloads.ADAM_LR, epsilon=workloads.ADAM_EPS)


def fitter(keras: ModuleType, w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``model.fit(x, y, epochs, batch_size, verbose=0)``; returns the last epoch's loss."""
    model = build(keras, w)
    model.set_weights(workloads.keras_weights(w))
    model.compile(loss="categorical_crossentropy", optimizer=optimizer(keras, w))

    def fit() -> float:
        history = model.fit(data.x, data.y, epochs=w.epochs, batch_size=w.batch, verbose=0)
        return history.history["loss"][-1]

    return fit
