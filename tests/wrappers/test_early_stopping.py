"""Early stopping inside cross-validation: each fit validates on the end of its own training fold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

import nnkit.callbacks
from nnkit.layers import Dense
from nnkit.wrappers import KerasClassifier
from tests.helpers import assert_close

pytestmark = pytest.mark.skipif(not hasattr(nnkit.callbacks, "EarlyStopping"), reason="EarlyStopping not built yet")


def stopping_classifier(**params) -> KerasClassifier:
    defaults = {"layers": [Dense(16, activation="relu")], "optimizer": "adam", "optimizer__learning_rate": 0.05,
                "epochs": 300, "batch_size": 16, "validation_split": 0.25, "random_state": 0,
                "callbacks": [nnkit.callbacks.EarlyStopping], "callbacks__0__patience": 2}
    return KerasClassifier(**{**defaults, **params})


def test_validation_comes_from_the_end_of_each_training_fold(multiclass):
    x, y = multiclass
    folds = KFold(3)
    fitted = cross_validate(stopping_classifier(), x, y, cv=folds, return_estimator=True)["estimator"]
    for estimator, (train, _) in zip(fitted, folds.split(x)):
        epochs = len(estimator.history_["val_loss"])
        assert 2 < epochs < 300  # stopped early
        held_out = train[int(len(train) * 0.75):]  # Keras's split: the last quarter of what fit received
        reference = estimator.model_.evaluate(x[held_out], y[held_out], verbose=0, batch_size=1000)
        assert_close(estimator.history_["val_loss"][-1], reference, rtol=1e-5)


def test_patience_is_searchable_and_the_refit_stops_too(multiclass):
    x, y = multiclass
    search = GridSearchCV(stopping_classifier(), {"callbacks__0__patience": [1, 4]}, cv=3).fit(x, y)
    best = search.best_estimator_
    assert len(best.history_["loss"]) < 300 and best.score(x, y) > 0.8
    restored = stopping_classifier(callbacks__0__restore_best_weights=True).fit(x, y)
    best_epoch = int(np.argmin(restored.history_["val_loss"]))
    val = x[int(len(x) * 0.75):], y[int(len(y) * 0.75):]
    assert_close(restored.model_.evaluate(*val, verbose=0, batch_size=1000),
                 restored.history_["val_loss"][best_epoch], rtol=1e-5)
