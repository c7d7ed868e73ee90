"""A member trained in a stack ends with the weights that training it alone gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from nnkit.callbacks import EarlyStopping
from nnkit.layers import Dense, Dropout
from nnkit.model_selection.members import Unsupported, finish, prepare
from nnkit.model_selection.stacked import shared_runs, train_runs
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
    train_runs(shared_runs(members))
    histories = [member.losses["loss"] for member in members]
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
        np.testing.assert_allclose(finish(member).predict(x), reference.predict(x), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(history, reference.history_["loss"], rtol=1e-5)


@pytest.mark.parametrize("params, reason", [
    ({"layers": [Dense(4), Dropout(0.5)], "random_state": None, "warm_start": True}, "warm_start"),
    ({"optimizer": "rmsprop"}, "optimizer RMSprop"),
    ({"shuffle": "batch"}, "shuffle='batch'"),
    ({"optimizer": "adam", "optimizer__clipnorm": 1.0}, "weight_decay or gradient clipping"),
    ({"callbacks": [EarlyStopping]}, "EarlyStopping on val_loss without a validation_split"),
])
def test_what_cannot_be_stacked_is_refused_with_its_reason(seed_like, params, reason):
    x, y = seed_like
    base = KerasClassifier(layers=[Dense(4)], optimizer="adam", random_state=0)
    with pytest.raises(Unsupported, match=reason):
        prepare(base, params, x, y, np.arange(100))


def test_dropout_members_draw_their_own_masks(seed_like):
    """Members at rates 0, 0.2 and 0.5 on two dropouts end with the weights their own fits give, bit for bit."""
    x, y = seed_like
    base = KerasClassifier(layers=[Dense(24, activation="relu"), Dropout(0.1), Dense(12, activation="tanh"),
                                   Dropout(0.1)], optimizer="adam", epochs=3, batch_size=20, random_state=4)
    candidates = [{"layers__1__rate": a, "layers__3__rate": b} for a, b in ((0.0, 0.0), (0.2, 0.5), (0.5, 0.0))]
    members, histories, alone = stacked_and_alone(base, candidates, x, y)
    for member, history, reference in zip(members, histories, alone):
        for ours, theirs in zip(weights(member.model), weights(reference.model_)):
            np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_allclose(history, reference.history_["loss"], rtol=1e-5)


def test_members_differing_only_in_epochs_share_a_run(seed_like):
    """Seeded members equal but for epochs train once; each is saved at its own epoch count."""
    x, y = seed_like
    base = KerasClassifier(layers=[Dense(16, activation="relu")], optimizer="adam", batch_size=16, random_state=0)
    candidates = [{"epochs": epochs} for epochs in (1, 4, 2)]
    train, _ = next(KFold(3, shuffle=True, random_state=0).split(x))
    members = [prepare(base, params, x, y, train) for params in candidates]
    runs = shared_runs(members)
    assert len(runs) == 1 and runs[0].epochs == 4
    train_runs(runs)
    for member, params in zip(members, candidates):
        reference = base.__class__(**{**base.get_params(), **params}).fit(x[train], y[train])
        assert len(member.losses["loss"]) == params["epochs"]
        for ours, theirs in zip(weights(member.model), weights(reference.model_)):
            np.testing.assert_array_equal(ours, theirs)


def test_validation_losses_and_early_stopping_match_training_alone(seed_like):
    x, y = seed_like
    stop = EarlyStopping(monitor="val_loss", patience=0, restore_best_weights=True)
    base = KerasClassifier(layers=[Dense(16, activation="relu", kernel_regularizer="l2")], optimizer="adam",
                           batch_size=16, epochs=12, validation_split=0.2, callbacks=[stop], random_state=1)
    candidates = [{"optimizer__learning_rate": lr} for lr in (0.003, 0.1)]
    members, _, alone = stacked_and_alone(base, candidates, x, y)
    for member, reference in zip(members, alone):
        for name in ("loss", "val_loss"):
            np.testing.assert_allclose(member.losses[name], reference.history_[name], rtol=1e-5)
        for ours, theirs in zip(weights(member.model), weights(reference.model_)):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("optimizer, candidates", [
    ("adam", [{"optimizer__beta_1": b1, "optimizer__beta_2": b2, "optimizer__epsilon": eps}
              for b1, b2, eps in ((0.9, 0.999, 1e-7), (0.8, 0.99, 1e-4), (0.5, 0.9, 1e-7))]),
    ("sgd", [{"optimizer__momentum": momentum, "optimizer__learning_rate": lr}
             for momentum, lr in ((0.9, 0.01), (0.5, 0.05), (0.99, 0.002))]),
])
def test_optimizer_settings_are_per_member(seed_like, optimizer, candidates):
    """Adam's betas and epsilon, SGD's momentum (Nesterov's too) differ per member and stay bit for bit."""
    x, y = seed_like
    base = KerasClassifier(layers=[Dense(16, activation="relu")], optimizer=optimizer, epochs=2, batch_size=16,
                           random_state=5, **({"optimizer__nesterov": True} if optimizer == "sgd" else {}))
    members, histories, alone = stacked_and_alone(base, candidates, x, y)
    for member, history, reference in zip(members, histories, alone):
        for ours, theirs in zip(weights(member.model), weights(reference.model_)):
            np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_allclose(history, reference.history_["loss"], rtol=1e-5)
