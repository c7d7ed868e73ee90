"""Your own layer, as Keras's "Making new layers via subclassing" guide writes it (only the imports changed):
weights made with ``add_weight`` in ``build``, the computation in ``call`` with ``nnkit.ops``, a config so the
model saves and loads by the layer's registered name. Run: ``python examples/custom_layer.py``.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from sklearn.datasets import load_iris

import nnkit as keras
from nnkit import layers, ops


@keras.saving.register_keras_serializable(package="examples")
class Linear(layers.Layer):
    """``inputs @ w + b`` with an optional L2 penalty on ``w``."""

    def __init__(self, units=32, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.l2 = l2

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 regularizer=keras.regularizers.L2(self.l2) if self.l2 else None, name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units, "l2": self.l2}


def main(epochs: int = 60, verbose: int = 0) -> float:
    """Train an MLP of custom layers on iris; returns the accuracy of the reloaded model."""
    keras.utils.set_random_seed(0)
    x, y = load_iris(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    model = keras.Sequential([keras.Input(shape=(4,)), Linear(16, l2=1e-3), layers.Activation("relu"), Linear(3),
                              layers.Activation("softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=verbose)
    model.summary()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "custom.keras")
        model.save(path)
        reloaded = keras.models.load_model(path)
    accuracy = float((reloaded.predict(x, verbose=0).argmax(axis=1) == y).mean())
    assert np.allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    print(f"accuracy of the reloaded model: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
