"""The functional API: a model of two inputs and two outputs on scikit-learn's 8x8 digits, written as in
Keras with only the imports changed.

The image goes through a small residual convnet; a second input carries a summary of the image (its row
and column ink totals). Two heads share the features: the digit (softmax, cross-entropy) and whether it is
odd (sigmoid, binary cross-entropy). Run: ``python examples/functional_api.py``; about 97% digit accuracy
in a few seconds on a CPU. No download: the data ships with scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nnkit as keras
from nnkit import layers


def build_model() -> keras.Model:
    image = keras.Input(shape=(8, 8, 1), name="image")
    profile = keras.Input(shape=(16,), name="profile")
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(image)
    x = layers.add([x, layers.Conv2D(16, 3, padding="same", activation="relu")(x)])  # a residual block
    x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    x = layers.concatenate([x, layers.Dense(16, activation="relu")(profile)])
    x = layers.Dropout(0.2)(layers.Dense(64, activation="relu")(x))
    digit = layers.Dense(10, activation="softmax", name="digit")(x)
    odd = layers.Dense(1, activation="sigmoid", name="odd")(x)
    return keras.Model(inputs=[image, profile], outputs={"digit": digit, "odd": odd}, name="digits_two_heads")


def main(epochs: int = 15, verbose: int = 2) -> float:
    """Train and return the test accuracy of the digit head."""
    keras.utils.set_random_seed(0)
    digits = load_digits()
    images = digits.images[..., None] / 16.0
    profiles = np.concatenate([images.sum(axis=1)[..., 0], images.sum(axis=2)[..., 0]], axis=1) / 8.0
    labels = digits.target
    split = train_test_split(images, profiles, labels, test_size=0.25, random_state=0, stratify=labels)
    img_train, img_test, prof_train, prof_test, y_train, y_test = split

    model = build_model()
    model.compile(optimizer="adam",
                  loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"},
                  loss_weights={"digit": 1.0, "odd": 0.5},
                  metrics={"digit": ["accuracy"], "odd": ["accuracy"]})
    if verbose:
        model.summary()
    model.fit({"image": img_train, "profile": prof_train}, {"digit": y_train, "odd": y_train % 2},
              epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose)
    results = model.evaluate({"image": img_test, "profile": prof_test}, {"digit": y_test, "odd": y_test % 2},
                             verbose=0, return_dict=True)
    predicted = model.predict({"image": img_test, "profile": prof_test}, verbose=0)
    accuracy = float((predicted["digit"].argmax(axis=1) == y_test).mean())
    print(f"test digit accuracy: {accuracy:.4f}, odd/even accuracy: {results['odd_accuracy']:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
