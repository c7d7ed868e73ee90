"""A random search over learning rate, L2 and dropout, its candidates trained together.

``nnkit.model_selection.RandomizedSearchCV`` is scikit-learn's ``RandomizedSearchCV``: here it tunes a
``Pipeline`` (scaler, then an nnkit classifier with early stopping) on scikit-learn's digits. The scaler is
fitted per fold as usual; the networks of all candidates x folds are trained as one stacked model, each
exactly as it would train alone. With ``--compare`` the same search also runs one by one through
scikit-learn's own class, to show the same ``cv_results_`` and the time saved.

Run: ``python examples/stacked_search.py [--candidates 24] [--epochs 20] [--compare]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import loguniform, uniform
from sklearn import model_selection as sklearn_search
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnkit.callbacks import EarlyStopping
from nnkit.layers import Dense, Dropout
from nnkit.model_selection import RandomizedSearchCV
from nnkit.models import Sequential
from nnkit.optimizers import Adam
from nnkit.regularizers import L2
from nnkit.wrappers import KerasClassifier

DISTRIBUTIONS = {"kerasclassifier__learning_rate": loguniform(1e-4, 3e-2),
                 "kerasclassifier__l2": loguniform(1e-6, 1e-2),
                 "kerasclassifier__dropout": uniform(0.0, 0.5)}


def build(learning_rate: float = 1e-3, l2: float = 0.0, dropout: float = 0.0) -> Sequential:
    model = Sequential([Dense(64, activation="relu", input_dim=64, kernel_regularizer=L2(l2)), Dropout(dropout),
                        Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(learning_rate=learning_rate),
                  metrics=["accuracy"])
    return model


def pipeline(epochs: int) -> object:
    stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    classifier = KerasClassifier(build, epochs=epochs, batch_size=32, validation_split=0.1, callbacks=[stop],
                                 random_state=0)
    return make_pipeline(StandardScaler(), classifier)


def main(candidates: int = 24, epochs: int = 20, compare: bool = False) -> dict[str, float]:
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    search = RandomizedSearchCV(pipeline(epochs), DISTRIBUTIONS, n_iter=candidates, cv=3, random_state=0, verbose=1)
    start = time.perf_counter()
    search.fit(x_train, y_train)
    seconds = {"stacked": time.perf_counter() - start}
    print(f"Best cross-validated accuracy {search.best_score_:.3f} with "
          + ", ".join(f"{name.split('__')[1]}={value:.3g}" for name, value in search.best_params_.items()))
    print(f"Held-out accuracy of the refitted best pipeline: {search.score(x_test, y_test):.3f}")
    if compare:
        one_by_one = sklearn_search.RandomizedSearchCV(pipeline(epochs), DISTRIBUTIONS, n_iter=candidates, cv=3,
                                                       random_state=0)
        start = time.perf_counter()
        one_by_one.fit(x_train, y_train)
        seconds["one by one"] = time.perf_counter() - start
        same = np.array_equal(search.cv_results_["mean_test_score"], one_by_one.cv_results_["mean_test_score"])
        print(f"scikit-learn's search one by one: {seconds['one by one']:.1f} s, the stacked one "
              f"{seconds['stacked']:.1f} s ({seconds['one by one'] / seconds['stacked']:.1f}x); "
              f"same scores: {same}")
    return seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--compare", action="store_true", help="also run scikit-learn's search one by one")
    arguments = parser.parse_args()
    main(arguments.candidates, arguments.epochs, arguments.compare)
