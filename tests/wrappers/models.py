"""Build functions shared by the wrapper tests (module level, so worker processes can import them)."""

from __future__ import annotations

from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.optimizers import Adam
from nnkit.regularizers import Regularizer


def softmax_mlp(units: int = 8, l2: float = 0.0, learning_rate: float = 0.01, n_features: int = 6,
                n_classes: int = 3) -> Sequential:
    """A compiled classifier in the style of the seed program (categorical cross-entropy, one-hot y)."""
    model = Sequential()
    model.add(Dense(units, activation="relu", input_dim=n_features, kernel_regularizer=Regularizer("l2", l2)))
    model.add(Dense(n_classes, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=Adam(lr=learning_rate), metrics=["accuracy"])
    return model


def uncompiled_mlp(units: int = 8, meta: dict | None = None) -> Sequential:
    """An uncompiled model sized from ``meta``; the estimator compiles it."""
    n_outputs = meta["n_classes_"] if "n_classes_" in meta else meta["n_outputs_"]
    return Sequential([Dense(units, activation="relu"), Dense(n_outputs, activation="softmax")])


def linear_regressor(units: int = 8) -> Sequential:
    model = Sequential([Dense(units, activation="relu"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model
