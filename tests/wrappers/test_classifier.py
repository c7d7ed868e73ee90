"""KerasClassifier: labels of every kind, probabilities, scores and bad input, against references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.metrics import accuracy_score
from sklearn.utils.class_weight import compute_sample_weight

import nnkit
from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.utils import to_categorical
from nnkit.wrappers import KerasClassifier
from tests.helpers import assert_close
from tests.wrappers.models import softmax_mlp


def small(**params) -> KerasClassifier:
    defaults = {"layers": [Dense(8, activation="relu")], "optimizer": "adam", "optimizer__learning_rate": 0.02,
                "epochs": 15, "batch_size": 16, "random_state": 0}
    return KerasClassifier(**{**defaults, **params})


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array(["cat", "dog", "emu"], dtype=object),
                                    np.array([-5, 0, 7]), np.array([1.0, 2.0, 4.0])])
def test_labels_of_any_type_come_back_unchanged(multiclass, labels):
    x, y = multiclass
    named = labels[y]
    clf = small().fit(x, named)
    np.testing.assert_array_equal(clf.classes_, np.unique(named))
    assert clf.n_classes_ == 3
    predicted = clf.predict(x)
    assert set(predicted.tolist()) <= set(named.tolist())
    assert predicted.dtype == clf.classes_.dtype
    assert clf.score(x, named) == accuracy_score(named, predicted) > 0.9


def test_boolean_binary_labels_give_two_probability_columns(multiclass):
    x, y = multiclass
    target = y == 0
    clf = small().fit(x, target)
    proba = clf.predict_proba(x)
    assert proba.shape == (len(x), 2)
    assert_close(proba.sum(axis=1), np.ones(len(x)), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[(clf.decision_function(x) > 0).astype(int)])
    assert clf.model_.output_shape == (None, 1)  # one sigmoid unit, binary cross-entropy
    assert clf.model_.loss.name == "binary_crossentropy"


def test_probabilities_are_the_softmax_of_the_decision_function_and_match_the_model(multiclass):
    x, y = multiclass
    clf = small().fit(x, y)
    decision = clf.decision_function(x)
    assert decision.shape == (len(x), 3)
    assert_close(clf.predict_proba(x), softmax(decision, axis=1), rtol=1e-12, atol=1e-15)
    # Reference: the fitted nnkit model's own float32 predict.
    assert_close(clf.predict_proba(x), clf.model_.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(x), decision.argmax(axis=1))


def test_one_hot_targets_are_multiclass_and_predicted_one_hot(multiclass):
    x, y = multiclass
    one_hot = to_categorical(y, 3)
    clf = KerasClassifier(softmax_mlp, epochs=15, batch_size=16, random_state=0).fit(x, one_hot)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    predicted = clf.predict(x)
    assert predicted.shape == one_hot.shape and predicted.dtype == one_hot.dtype
    assert (predicted.sum(axis=1) == 1).all()
    assert clf.score(x, one_hot) == accuracy_score(y, predicted.argmax(axis=1)) > 0.9


def test_integer_labels_reach_a_categorical_model_as_one_hot_rows(multiclass):
    x, y = multiclass
    clf = KerasClassifier(softmax_mlp, epochs=10, random_state=0).fit(x, y + 10)
    np.testing.assert_array_equal(clf.classes_, [10, 11, 12])
    assert clf.score(x, y + 10) > 0.9


def test_multilabel_indicator_targets(multiclass):
    x, y = multiclass
    targets = np.stack([y == 0, y != 1, x[:, 0] > 0], axis=1).astype(np.int64)
    clf = small(epochs=30).fit(x, targets)
    predicted = clf.predict(x)
    assert predicted.shape == targets.shape and predicted.dtype == targets.dtype
    proba = clf.predict_proba(x)
    assert proba.shape == targets.shape and ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(predicted, (clf.decision_function(x) > 0).astype(np.int64))
    assert (predicted == targets).mean() > 0.9


def test_class_weight_balanced_is_scikit_learn_sample_weighting(multiclass):
    x, y = multiclass
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y != 0)[::3]]  # imbalanced
    x, y = x[keep], y[keep]
    balanced = small(class_weight="balanced").fit(x, y)
    weighted = small().fit(x, y, sample_weight=compute_sample_weight("balanced", y))
    assert_close(balanced.predict_proba(x), weighted.predict_proba(x), rtol=0, atol=0)


def test_class_weight_dict_uses_labels(multiclass):
    x, y = multiclass
    names = np.array(["a", "b", "c"])[y]
    table = {"a": 5.0, "b": 0.5, "c": 1.0}
    by_label = small(class_weight=table).fit(x, names)
    by_hand = small().fit(x, names, sample_weight=[table[name] for name in names])
    assert_close(by_label.predict_proba(x), by_hand.predict_proba(x), rtol=0, atol=0)


def test_unit_sample_weights_equal_no_weights_and_zero_weights_count_for_nothing(multiclass):
    x, y = multiclass
    plain = small().fit(x, y)
    ones = small().fit(x, y, sample_weight=np.ones(len(y)))
    assert_close(plain.predict_proba(x), ones.predict_proba(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="at least one non-zero"):
        small().fit(x, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match=r"shape \(120,\)"):
        small().fit(x, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="only one class"):
        small().fit(x, y, sample_weight=(y == 1).astype(float))


def test_dataframes_record_feature_names(multiclass):
    x, y = multiclass
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    clf = small().fit(frame, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    assert clf.n_features_in_ == 6
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = clf.predict(x)
    np.testing.assert_array_equal(clf.predict(frame), from_array)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame.set_axis([f"g{i}" for i in range(6)], axis=1))


def test_bad_input_gets_scikit_learn_errors(multiclass):
    x, y = multiclass
    clf = small(epochs=1).fit(x, y)
    with pytest.raises(ValueError, match="X has 5 features, but KerasClassifier is expecting 6"):
        clf.predict(x[:, :5])
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small().fit(bad, y)
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="only one class"):
        small().fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="Unknown label type"):
        small().fit(x, x[:, 0])


def test_partial_fit_needs_every_class_up_front_and_never_invents_labels(multiclass):
    x, y = multiclass
    clf = small()
    clf.partial_fit(x[y != 2], y[y != 2], classes=[0, 1, 2])
    clf.partial_fit(x, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert len(clf.history_["loss"]) == 2
    with pytest.raises(ValueError, match=r"not fitted with: \[7\]"):
        clf.partial_fit(x, np.where(y == 2, 7, y))


def test_a_build_function_must_return_a_model(multiclass):
    x, y = multiclass
    with pytest.raises(TypeError, match=r"must return an nnkit model \(Sequential or Model\), but it returned dict"):
        KerasClassifier(lambda: {"not": "a model"}).fit(x, y)


def test_a_build_function_may_return_a_functional_model(multiclass):
    x, y = multiclass
    classes = len(np.unique(y))

    def wide_and_deep():
        inputs = nnkit.Input(shape=(x.shape[1],))
        deep = Dense(8, activation="relu")(inputs)
        model = nnkit.Model(inputs, Dense(classes, activation="softmax")(nnkit.layers.concatenate([inputs, deep])))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    clf = KerasClassifier(wide_and_deep, epochs=3, verbose=0, random_state=0).fit(x, y)
    assert isinstance(clf.model_, nnkit.models.Functional)
    probabilities = clf.predict_proba(x)
    np.testing.assert_allclose(probabilities, clf.model_.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(x), clf.classes_[probabilities.argmax(axis=1)])
    a, b = nnkit.Input(shape=(2,)), nnkit.Input(shape=(x.shape[1] - 2,))
    two = nnkit.Model([a, b], Dense(classes)(nnkit.layers.concatenate([a, b])))
    with pytest.raises(TypeError, match="2 inputs and 1 outputs"):
        KerasClassifier(lambda: two).fit(x, y)


def test_model_outputs_must_match_the_classes(multiclass):
    x, y = multiclass

    def four_outputs():
        model = Sequential([Dense(4, activation="softmax", input_dim=6)])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    with pytest.raises(ValueError, match="4 outputs but y has 3 classes"):
        KerasClassifier(four_outputs).fit(x, y)


@pytest.mark.parametrize("weight", [float("nan"), -1.0])
def test_a_bad_class_weight_is_refused_naming_the_class_not_sample_weight(weight):
    x, y = np.random.default_rng(0).normal(size=(12, 3)).astype("float32"), np.array(["a", "b", "c"] * 4)
    with pytest.raises(ValueError, match="class_weight for class 'b' is") as error:
        small(class_weight={"a": 1.0, "b": weight}).fit(x, y)
    assert "sample_weight" not in str(error.value)
