"""Pickling and copying fitted models and estimators, optimizer state included."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.wrappers import KerasClassifier, KerasRegressor
from tests.helpers import assert_close


def fitted_model(x: np.ndarray, y: np.ndarray) -> Sequential:
    model = Sequential([Dense(8, activation="relu", input_dim=x.shape[1]), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize("duplicate", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_a_fitted_sequential_copies_with_its_optimizer_state(regression, duplicate):
    """Training the copy further equals training the original further: Adam's moments came along."""
    x, y = regression
    original = fitted_model(x, y)
    duplicate_model = duplicate(original)
    for model in (original, duplicate_model):
        model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(original.get_weights(), duplicate_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert duplicate_model.optimizer.torch_optimizer is not original.optimizer.torch_optimizer
    trained = duplicate_model.optimizer.torch_optimizer.param_groups[0]["params"]
    assert trained[0] is duplicate_model.weights[0] is not original.weights[0]  # it trains its own weights
    assert original.optimizer.iterations == duplicate_model.optimizer.iterations


def test_an_unfitted_or_uncompiled_sequential_pickles():
    model = Sequential([Dense(4, input_dim=3)])
    assert pickle.loads(pickle.dumps(model)).get_config() == model.get_config()


def test_a_fitted_estimator_pickles_and_keeps_training_like_the_original(multiclass):
    x, y = multiclass
    labels = np.array(["a", "b", "c"])[y]
    clf = KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam", epochs=3, shuffle=False,
                          random_state=0).fit(x, labels)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.classes_, clf.classes_)
    assert_close(restored.predict_proba(x), clf.predict_proba(x), rtol=0, atol=0)
    assert restored.history_ == clf.history_
    for estimator in (clf, restored):
        estimator.partial_fit(x, labels)
    assert_close(restored.predict_proba(x), clf.predict_proba(x), rtol=0, atol=0)


def test_a_pickled_unfitted_estimator_fits_like_the_original(regression):
    x, y = regression
    reg = KerasRegressor(layers=[Dense(8)], epochs=2, random_state=3)
    assert_close(pickle.loads(pickle.dumps(reg)).fit(x, y).predict(x), reg.fit(x, y).predict(x), rtol=0, atol=0)
