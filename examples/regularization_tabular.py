"""Dropout + L2 + BatchNormalization against overfitting on a small tabular set.

200 training samples with 12 features, 15% of the labels re-drawn at random: a wide MLP memorizes them,
wrong labels included (100% training accuracy, far less on held-out data). The same network with dropout, an L2
weight penalty and batch normalization cannot memorize the noise, so its train/validation gap is
smaller. (On data seeds 0-5 the gap shrank every time; validation accuracy moved a few points either
way.)

Run: ``python examples/regularization_tabular.py`` (no download needed; a few seconds on a CPU).
Prints the train/validation accuracy of each model and the gap between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import nnkit as keras
from nnkit.layers import BatchNormalization, Dense, Dropout, Input, Normalization
from nnkit.models import Sequential
from nnkit.regularizers import L2

EPOCHS = 60
FEATURES = 12


@dataclass
class Result:
    """Final training and validation accuracy of one model."""

    name: str
    train_accuracy: float
    val_accuracy: float

    @property
    def gap(self) -> float:
        """How much better the model does on the data it was trained on."""
        return self.train_accuracy - self.val_accuracy


def plain_mlp(norm: Normalization) -> Sequential:
    """Two wide hidden layers, nothing against overfitting."""
    return Sequential([
        Input(shape=(FEATURES,)), norm,
        Dense(256, activation="relu"),
        Dense(256, activation="relu"),
        Dense(1, activation="sigmoid"),
    ], name="plain")


def regularized_mlp(norm: Normalization) -> Sequential:
    """The same widths with Dropout (inputs and hidden units), an L2 penalty and BatchNormalization."""
    l2 = {"kernel_regularizer": L2(1e-2)}
    return Sequential([
        Input(shape=(FEATURES,)), norm, Dropout(0.2),
        Dense(256, activation="relu", **l2), BatchNormalization(), Dropout(0.5),
        Dense(256, activation="relu", **l2), BatchNormalization(), Dropout(0.5),
        Dense(1, activation="sigmoid", **l2),
    ], name="regularized")


def train(model: Sequential, data: tuple, epochs: int) -> Result:
    """Fit ``model`` and measure both accuracies in inference mode (dropout off, moving statistics)."""
    x_train, x_val, y_train, y_val = data
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    _, train_accuracy = model.evaluate(x_train, y_train, verbose=0)
    _, val_accuracy = model.evaluate(x_val, y_val, verbose=0)
    return Result(model.name, train_accuracy, val_accuracy)


def main(epochs: int = EPOCHS) -> list[Result]:
    """Train the plain and the regularized MLP, print their accuracies and gaps, return the results."""
    keras.utils.set_random_seed(0)
    # A small, noisy set: few samples for 70k weights, and flip_y re-draws 15% of the labels at random.
    x, y = make_classification(n_samples=600, n_features=FEATURES, n_informative=6, n_redundant=2, flip_y=0.15,
                               random_state=1)
    data = train_test_split(x, y, train_size=200, random_state=0, stratify=y)

    results = []
    for build in (plain_mlp, regularized_mlp):
        norm = Normalization()
        norm.adapt(data[0])  # standardize features with training-set statistics, inside the model
        results.append(train(build(norm), data, epochs))

    print(f"{'model':<12}{'train acc':>10}{'val acc':>10}{'gap':>8}")
    for r in results:
        print(f"{r.name:<12}{r.train_accuracy:>10.4f}{r.val_accuracy:>10.4f}{r.gap:>8.4f}")
    plain, regularized = results
    print(f"\nregularization shrinks the train/val gap from {plain.gap:.4f} to {regularized.gap:.4f}")
    return results


if __name__ == "__main__":
    main()
