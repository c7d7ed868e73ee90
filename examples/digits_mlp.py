"""Train a small MLP on scikit-learn's bundled handwritten digits and report test metrics.

Run: ``python examples/digits_mlp.py`` (no download needed: the data ships with scikit-learn).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nnkit as keras
from nnkit.layers import Dense, Dropout, Input
from nnkit.models import Sequential


def main() -> None:
    keras.utils.set_random_seed(0)
    digits = load_digits()
    x = digits.data / 16.0  # pixel intensities 0..16 -> 0..1
    y = keras.utils.to_categorical(digits.target, num_classes=10)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0,
                                                        stratify=digits.target)

    model = Sequential([
        Input(shape=(64,)),
        Dense(128, activation="relu"),
        Dropout(0.2),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    history = model.fit(x_train, y_train, epochs=30, batch_size=32, validation_split=0.1, verbose=2)

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    print(f"\nbest val_accuracy: {max(history.history['val_accuracy']):.4f}")
    print(f"test loss: {loss:.4f}   test accuracy: {accuracy:.4f}")
    print(f"correct on the first 20 test digits: {int(np.sum(predicted[:20] == y_test[:20].argmax(1)))}/20")


if __name__ == "__main__":
    main()
