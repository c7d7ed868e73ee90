"""A member trained in a stack ends with the weights that training it alone gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from nnkit.callbacks import EarlyStopping
from nnkit.layers import Dense, Dropout
from nnkit.model_selection.members import Unsupported, finish, prepare
from nnkit.model_selection.stacked import train_group
from nnkit.regularizers import L1L2
from nnkit.utils import to_categorical
from nnkit.wrappers import KerasClassifier, KerasRegressor
from tests.wrappers.models import softmax_mlp


def weights(model) -> list[np.ndarray]:
    return [w.detach().numpy().copy() for w in model.module.parameters()]


def stacked_and_alone(base, candidates, x, y):
    """Each candidate trained in one stack (on one fold's rows, as a search does) and trained alone."""
    train, _ = next(KFold(3, shuffle=True, random_state=0).split(x))
    members = [prepare(base, params, x, y, train) for params in candidates]
    assert len({member.key for member in members}) == 1  # one group
    histories = train_group(members)
    alone = [base.__class__(**{**base.get_params(), **params}).fit(x[train], y[train]) for params in candidates]
    return members, histories, alone


@pytest.mark.parametrize("shuffle", [True, False])
def test_adam_members_match_training_alone(seed_like, shuffle):
    x, y = seed_like
    base = KerasClassifier(softmax_mlp, units=16, n_features=20, n_classes=4, batch_size=16,
                           shuffle=shuffle, random_state=3)
    candidates = [{"l2": l2, "learning_rate": lr, "epochs": epochs}
                  for l2, lr, epochs in ((0.0, 0.002, 3), (0.0, 0.05, 1), (0.05, 0.002, 2), (0.05, 0.05, 3))]
    members, histories, alone = stacked_and_alone(base, candidates, x, to_categorical(y, 4))
    for member, history, reference in zip(members, histories, alone):
        for ours, theirs in zip(weights(member.model), weights(reference.model_)):
            np.testing.assert_array_equal(ours, theirs)  # bit for bit
        np.testing.assert_allclose(history, reference.history_["loss"], rtol=1e-5)


def test_regressor_with_sgd_and_l1_l2_matches_training_alone(seed_like):
    x, _ = seed_like
    target = x[:, :3].sum(axis=1)
    base = KerasRegressor(layers=[Dense(10, activation="relu", bias_regularizer="l1"), Dense(6, activation="sigmoid")],
                          optimizer="sgd", optimizer__momentum=0.5, epochs=3, batch_size=24, random_state=7)
    candidates = [{"layers__0__kernel_regularizer": L1L2(l1, l2), "optimizer__learning_rate": lr}
                  for l1, l2, lr in ((0.0, 0.0, 0.01), (0.01, 0.0, 0.02), (0.001, 0.1, 0.005))]
    members, histories, alone = stacked_and_alone(base, candidates, x, target)
    for member, history, reference in zip(members, histories, alone):
        for ours, theirs in zip(weights(member.model), weights(reference.model_)):
            np.testing.assert_array_equal(ours, theirs)  # bit for bit
        np.testing.assert_allclose(finish(member, history).predict(x), reference.predict(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("params, reason", [
    ({"layers": [Dense(4), Dropout(0.5)]}, "layer Dropout"),
    ({"optimizer": "rmsprop"}, "optimizer RMSprop"),
    ({"validation_split": 0.2}, "validation_split=0.2"),
    ({"class_weight": "balanced"}, "class_weight"),
    ({"optimizer": "adam", "optimizer__clipnorm": 1.0}, "weight_decay or gradient clipping"),
    ({"callbacks": [EarlyStopping]}, "callbacks"),
])
def test_what_cannot_be_stacked_is_refused_with_its_reason(seed_like, params, reason):
    x, y = seed_like
    base = KerasClassifier(layers=[Dense(4)], optimizer="adam", random_state=0)
    with pytest.raises(Unsupported, match=reason):
        prepare(base, params, x, y, np.arange(100))
