"""SKLearnClassifier / SKLearnRegressor: Keras 3's signature and semantics, without its clone bug."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.wrappers import SKLearnClassifier, SKLearnRegressor

RECEIVED: dict = {}


def build(X, y, hidden=8):
    RECEIVED.update(X=X, y=y, hidden=hidden)
    model = Sequential([Dense(hidden, activation="relu"), Dense(y.shape[1], activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def build_regressor(X, y):
    model = Sequential([Dense(8, activation="relu"), Dense(y.shape[1])])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_the_build_function_gets_one_hot_y_and_model_kwargs(multiclass):
    x, y = multiclass
    names = np.array(["a", "b", "c"])[y]
    clf = SKLearnClassifier(build, model_kwargs={"hidden": 5}, fit_kwargs={"epochs": 2}).fit(x, names)
    assert RECEIVED["hidden"] == 5 and RECEIVED["X"].shape == x.shape
    np.testing.assert_array_equal(RECEIVED["y"], np.eye(3)[y])
    assert set(clf.predict(x)) <= {"a", "b", "c"} and len(clf.history_["loss"]) == 2
    assert clf.predict_proba(x).shape == (len(x), 3)


def test_clone_keeps_fit_kwargs_so_every_candidate_trains_its_epochs(multiclass):
    """Keras 3 drops fit_kwargs when cloning: inside GridSearchCV every candidate trains one epoch."""
    x, y = multiclass
    clf = SKLearnClassifier(build, fit_kwargs={"epochs": 3, "batch_size": 16})
    assert clone(clf).get_params()["fit_kwargs"] == {"epochs": 3, "batch_size": 16}
    search = GridSearchCV(clf, {"model_kwargs__hidden": [4, 6], "fit_kwargs__epochs": [2, 3]}, cv=2).fit(x, y)
    best = search.best_estimator_
    assert len(best.history_["loss"]) == search.best_params_["fit_kwargs__epochs"]
    assert best.model_.layers[0].units == search.best_params_["model_kwargs__hidden"]
    assert best.fit_kwargs["batch_size"] == 16
    assert clf.fit_kwargs == {"epochs": 3, "batch_size": 16}  # never mutated


def test_fit_keyword_arguments_take_precedence_without_mutating_fit_kwargs(multiclass):
    x, y = multiclass
    fit_kwargs = {"epochs": 4}
    clf = SKLearnClassifier(build, fit_kwargs=fit_kwargs).fit(x, y, epochs=1)
    assert len(clf.history_["loss"]) == 1 and fit_kwargs == {"epochs": 4}


def test_a_given_model_must_be_compiled_and_is_copied(multiclass):
    x, y = multiclass
    model = Sequential([Dense(3, activation="softmax", input_dim=6)])
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        SKLearnClassifier(model).fit(x, y)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    weights = [w.copy() for w in model.get_weights()]
    clf = SKLearnClassifier(model, fit_kwargs={"epochs": 2}).fit(x, y)
    assert clf.model_ is not model
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])
    warm = SKLearnClassifier(model, warm_start=True, fit_kwargs={"epochs": 1}).fit(x, y)
    assert warm.model_ is not model and not np.array_equal(warm.model_.get_weights()[0], weights[0])


def test_multilabel_targets_are_refused_as_in_keras(multiclass):
    x, y = multiclass
    with pytest.raises(ValueError, match="Only binary and multiclass target types are supported"):
        SKLearnClassifier(build).fit(x, np.stack([y == 0, y == 1, y == 1], axis=1).astype(int))


def test_regressor_gets_two_dimensional_y_and_predicts_its_shape(regression):
    x, y = regression
    reg = SKLearnRegressor(build_regressor, fit_kwargs={"epochs": 2}).fit(x, y)
    assert reg.predict(x).shape == y.shape
    both = SKLearnRegressor(build_regressor, fit_kwargs={"epochs": 2}).fit(x, np.stack([y, y], axis=1))
    assert both.predict(x).shape == (len(x), 2)


def test_unknown_parameters_name_the_valid_ones():
    with pytest.raises(ValueError, match="Did you mean 'fit_kwargs'"):
        SKLearnClassifier(build).set_params(fit_kwarg={"epochs": 1})
