"""The stacked searches give scikit-learn's results: same cv_results_ keys, order and scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import loguniform, uniform
from sklearn import model_selection as sk
from sklearn.exceptions import FitFailedWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nnkit.callbacks import EarlyStopping
from nnkit.layers import Dense, Dropout
from nnkit.model_selection import GridSearchCV, RandomizedSearchCV
from nnkit.models import Sequential
from nnkit.optimizers import Adam
from nnkit.regularizers import L2
from nnkit.utils import to_categorical
from nnkit.wrappers import KerasClassifier, KerasRegressor
from tests.wrappers.models import softmax_mlp

SEED_GRID = {"l2": [0.0, 0.01, 0.1], "learning_rate": [0.001, 0.01, 0.05]}


def dropout_mlp(l2: float = 0.0, learning_rate: float = 0.01, dropout: float = 0.0) -> Sequential:
    """The seed program's model with a dropout after its hidden layer."""
    model = Sequential([Dense(16, activation="relu", input_dim=20, kernel_regularizer=L2(l2)), Dropout(dropout),
                        Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(learning_rate=learning_rate))
    return model


def seed_estimator(**params) -> KerasClassifier:
    """The seed program's model (Dense relu with an L2 kernel penalty, softmax, Adam), smaller."""
    defaults = {"units": 16, "n_features": 20, "n_classes": 4, "epochs": 4, "batch_size": 16, "random_state": 0}
    return KerasClassifier(softmax_mlp, **{**defaults, **params})


def same_results(ours: dict, theirs: dict, exact: bool = False) -> None:
    """The same keys in the same order, equal parameters and the same scores: to float rounding (a stacked
    member's batched kernels may round differently from its lone ones), or bit for bit with ``exact``."""
    assert list(ours) == list(theirs)
    for key, expected in theirs.items():
        if key.endswith("_time"):
            continue
        if key == "params" or key.startswith("param_"):
            assert [repr(value) for value in ours[key]] == [repr(value) for value in expected], key
        elif exact or key.startswith("rank_"):
            np.testing.assert_array_equal(ours[key], expected, err_msg=key)
        else:
            np.testing.assert_allclose(ours[key], expected, rtol=1e-6, atol=1e-9, err_msg=key)


def test_seed_grid_equals_scikit_learns_search(seed_like, capsys):
    x, y = seed_like
    onehot = to_categorical(y, 4)
    scoring = {"accuracy": "accuracy", "log_loss": "neg_log_loss"}
    ours = GridSearchCV(seed_estimator(), SEED_GRID, cv=3, scoring=scoring, refit="log_loss",
                        return_train_score=True, verbose=1).fit(x, onehot)
    said = capsys.readouterr().out
    theirs = sk.GridSearchCV(seed_estimator(), SEED_GRID, cv=3, scoring=scoring, refit="log_loss",
                             return_train_score=True).fit(x, onehot)
    same_results(ours.cv_results_, theirs.cv_results_, exact=True)  # the seed grid's shapes: bit for bit
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-6)
    np.testing.assert_array_equal(ours.best_estimator_.predict(x), theirs.best_estimator_.predict(x))
    # 200 rows in 3 folds train on 133 or 134 rows: one stack (the shorter folds take their last batch apart)
    assert "Stacked training: 27 of 27 fits in 1 stack (27 fits in 27 runs)" in said and "one by one" not in said
    assert ours.stacking_ == "Stacked training: 27 of 27 fits in 1 stack (27 fits in 27 runs)"


def test_sgd_with_momentum_and_several_batch_sizes(seed_like, capsys):
    """Integer labels (sparse cross-entropy), SGD with Nesterov momentum, groups per batch size."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(12, activation="tanh", kernel_regularizer="l2")], optimizer="sgd",
                                optimizer__momentum=0.9, optimizer__nesterov=True, epochs=3, random_state=1)
    grid = {"optimizer__learning_rate": [0.003, 0.03], "batch_size": [16, 50]}
    ours = GridSearchCV(estimator, grid, cv=3, verbose=1).fit(x, y)
    assert "12 of 12 fits in 2 stacks (6 fits in 6 runs, 6 fits in 6 runs)" in capsys.readouterr().out  # per batch size
    theirs = sk.GridSearchCV(estimator, grid, cv=3).fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_randomized_search_over_learning_rate_l2_and_dropout_equals_scikit_learns(seed_like, capsys):
    x, y = seed_like
    estimator = KerasClassifier(dropout_mlp, epochs=3, batch_size=16, random_state=0)
    distributions = {"l2": loguniform(1e-4, 1e-1), "learning_rate": loguniform(1e-3, 1e-1),
                     "dropout": uniform(0, 0.5)}
    ours = RandomizedSearchCV(estimator, distributions, n_iter=6, cv=3, random_state=0, verbose=1)
    theirs = sk.RandomizedSearchCV(estimator, distributions, n_iter=6, cv=3, random_state=0)
    same_results(ours.fit(x, y).cv_results_, theirs.fit(x, y).cv_results_)
    assert "Stacked training: 18 of 18 fits in 1 stack (18 fits in 18 runs)" in capsys.readouterr().out
    assert ours.best_params_ == theirs.best_params_


def test_dropout_rates_are_per_member(seed_like, capsys):
    """Each member draws the dropout masks its own fit would draw, at its own rate (0 draws nothing)."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu"), Dropout(0.2)], optimizer="adam", epochs=2,
                                batch_size=32, random_state=0)
    grid = {"layers__1__rate": [0.0, 0.3], "optimizer__learning_rate": [0.01, 0.03]}
    ours = GridSearchCV(estimator, grid, cv=2, verbose=1).fit(x, y)
    said = capsys.readouterr().out
    theirs = sk.GridSearchCV(estimator, grid, cv=2).fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert "Stacked training: 8 of 8 fits in 1 stack (8 fits in 8 runs)" in said


def test_a_pipeline_ending_in_an_nnkit_estimator_is_stacked(seed_like, capsys):
    """The scaler is fitted on each fold's training rows, as Pipeline.fit fits it; the network is stacked."""
    x, y = seed_like
    pipe = make_pipeline(StandardScaler(), KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam",
                                                           epochs=2, random_state=0))
    grid = {"kerasclassifier__optimizer__learning_rate": [0.01, 0.03]}
    ours = GridSearchCV(pipe, grid, cv=2, verbose=1).fit(x, y)
    assert "Stacked training: 4 of 4 fits in 1 stack (4 fits in 4 runs)" in capsys.readouterr().out
    same_results(ours.cv_results_, sk.GridSearchCV(pipe, grid, cv=2).fit(x, y).cv_results_)


def test_sample_weights_are_stacked_and_other_fit_parameters_fall_back(seed_like, capsys):
    """sample_weight given to the search's fit weighs each fold's rows (times any class weights), as the
    estimator's own fit weighs them; other fit parameters send the search down scikit-learn's path."""
    x, y = seed_like
    weights = np.linspace(0.5, 1.5, len(y))
    grid = {"learning_rate": [0.01, 0.03], "class_weight": [None, "balanced"]}
    estimator = KerasClassifier(dropout_mlp, epochs=2, batch_size=16, random_state=0)
    ours = GridSearchCV(estimator, grid, cv=2, verbose=1).fit(x, y, sample_weight=weights)
    assert "Stacked training: 8 of 8 fits in 1 stack" in capsys.readouterr().out
    theirs = sk.GridSearchCV(estimator, grid, cv=2).fit(x, y, sample_weight=weights)
    same_results(ours.cv_results_, theirs.cv_results_)
    GridSearchCV(estimator, {"learning_rate": [0.01]}, cv=2, verbose=1).fit(x, y, epochs=1)
    assert "one by one: 2 x fit parameters (epochs)" in capsys.readouterr().out


def test_without_random_state_the_same_global_seed_gives_scikit_learns_results(seed_like):
    """Stacked members are built and shuffled in scikit-learn's fit order, drawing from the global generators
    as the one-by-one fits would."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam", epochs=2, batch_size=32)
    grid = {"optimizer__learning_rate": [0.01, 0.03]}
    torch.manual_seed(5)
    ours = GridSearchCV(estimator, grid, cv=2).fit(x, y)
    torch.manual_seed(5)
    theirs = sk.GridSearchCV(estimator, grid, cv=2).fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)


def test_the_seed_programs_grid_shares_runs_across_epochs(seed_like, capsys):
    """batch_size x epochs x l2, as in the seed program: fits that differ in epochs share one stacked run."""
    x, y = seed_like
    onehot = to_categorical(y, 4)
    grid = {"batch_size": [16, 32], "epochs": [1, 3], "l2": [0.0, 0.1]}
    ours = GridSearchCV(seed_estimator(learning_rate=0.01), grid, cv=3, verbose=1).fit(x, onehot)
    # the fits of epochs 1 and 3 share a run: 12 runs for 24 fits, one stack per batch size
    assert "Stacked training: 24 of 24 fits in 2 stacks (12 fits in 6 runs, 12 fits in 6 runs)" in capsys.readouterr().out
    theirs = sk.GridSearchCV(seed_estimator(learning_rate=0.01), grid, cv=3).fit(x, onehot)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_folds_that_change_from_call_to_call_fall_back(seed_like, capsys, n_jobs):
    """A splitter on NumPy's global generator gives other folds each time it splits: nothing is stacked, and
    the probes leave the generator as they found it, so scikit-learn's own split draws the same folds."""
    x, y = seed_like
    onehot, grid = to_categorical(y, 4), {"learning_rate": [0.01, 0.03]}
    np.random.seed(0)
    ours = GridSearchCV(seed_estimator(epochs=1), grid, cv=sk.KFold(2, shuffle=True), n_jobs=n_jobs, verbose=1)
    ours.fit(x, onehot)
    assert "0 of 4 fits in 0 stacks; one by one: 4 x the cv splits change from call to call" in capsys.readouterr().out
    np.random.seed(0)
    theirs = sk.GridSearchCV(seed_estimator(epochs=1), grid, cv=sk.KFold(2, shuffle=True), n_jobs=n_jobs)
    same_results(ours.cv_results_, theirs.fit(x, onehot).cv_results_)


def test_class_weights_are_per_member(seed_like, capsys):
    """Class weights scale each member's loss as its own fit does; members of different weights share a stack."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam", epochs=2, batch_size=32,
                                random_state=0)
    grid = {"class_weight": [{0: 1.0, 1: 3.0, 2: 1.0, 3: 0.5}, {0: 2.0, 1: 1.0, 2: 1.0, 3: 1.0}, "balanced"]}
    ours = GridSearchCV(estimator, grid, cv=2, verbose=1, scoring="neg_log_loss").fit(x, y)
    assert "Stacked training: 6 of 6 fits in 1 stack (6 fits in 6 runs)" in capsys.readouterr().out
    same_results(ours.cv_results_, sk.GridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss").fit(x, y).cv_results_)


def test_early_stopping_stops_each_member_on_its_own(seed_like, capsys):
    """EarlyStopping on val_loss (validation_split, restore_best_weights) per member: each stops when its own
    fit would, keeps the weights its own fit would restore, and the stack ends when all have stopped."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(16, activation="relu")], optimizer="adam", epochs=30, batch_size=16,
                                validation_split=0.25, random_state=2,
                                callbacks=[EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)])
    grid = {"optimizer__learning_rate": [0.002, 0.05, 0.3]}
    ours = GridSearchCV(estimator, grid, cv=2, verbose=1, scoring="neg_log_loss").fit(x, y)
    assert "Stacked training: 6 of 6 fits in 1 stack" in capsys.readouterr().out
    theirs = sk.GridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss").fit(x, y)
    same_results(ours.cv_results_, theirs.cv_results_)
    # the members stopped at different epochs (else this test would not test stopping on one's own)
    train, _ = next(sk.StratifiedKFold(2).split(x, y))
    epochs = {len(estimator.set_params(optimizer__learning_rate=lr).fit(x[train], y[train]).history_["loss"])
              for lr in grid["optimizer__learning_rate"]}
    assert len(epochs) > 1 and min(epochs) < 30


def test_a_diverging_member_does_not_disturb_its_stack(seed_like):
    """A learning rate that sends one member's loss to NaN gives what its own fit gives (NaN weights, the
    error_score where scoring fails); the other members of its stack train as they would alone."""
    x, _ = seed_like
    target = x[:, :3].sum(axis=1)
    estimator = KerasRegressor(layers=[Dense(8, activation="relu")], optimizer="sgd", epochs=3, batch_size=20,
                               random_state=0)
    grid = {"optimizer__learning_rate": [0.001, 1e6, 0.01]}
    with pytest.warns(UserWarning):
        ours = GridSearchCV(estimator, grid, cv=2, error_score=-1.0).fit(x, target)
    with pytest.warns(UserWarning):
        theirs = sk.GridSearchCV(estimator, grid, cv=2, error_score=-1.0).fit(x, target)
    same_results(ours.cv_results_, theirs.cv_results_)
    assert np.isfinite(ours.cv_results_["mean_test_score"][[0, 2]]).all()


def test_a_build_that_raises_follows_error_score(seed_like, capsys):
    """A candidate whose build function raises is fitted one by one, where error_score applies to it alone."""
    x, y = seed_like
    grid = {"units": [8, -1]}
    ours = GridSearchCV(seed_estimator(epochs=1), grid, cv=2, verbose=1, error_score=np.nan)
    with pytest.warns(FitFailedWarning), pytest.warns(UserWarning, match="non-finite"):
        ours.fit(x, to_categorical(y, 4))
    said = capsys.readouterr().out
    assert "Stacked training: 2 of 4 fits in 1 stack" in said and "2 x ConfigError while building" in said
    with pytest.warns(FitFailedWarning), pytest.warns(UserWarning, match="non-finite"):
        theirs = sk.GridSearchCV(seed_estimator(epochs=1), grid, cv=2, error_score=np.nan).fit(x, to_categorical(y, 4))
    same_results(ours.cv_results_, theirs.cv_results_)


def test_stack_size_splits_a_group_with_the_same_results(seed_like, capsys):
    x, y = seed_like
    onehot = to_categorical(y, 4)
    ours = GridSearchCV(seed_estimator(), SEED_GRID, cv=3, stack_size=4, verbose=1).fit(x, onehot)
    assert "27 of 27 fits in 7 stacks" in capsys.readouterr().out  # 27 runs in stacks of at most 4
    same_results(ours.cv_results_, sk.GridSearchCV(seed_estimator(), SEED_GRID, cv=3).fit(x, onehot).cv_results_)
    assert GridSearchCV(seed_estimator(), SEED_GRID, stack_size=2).get_params()["stack_size"] == 2


def test_a_tiny_memory_budget_stacks_one_run_at_a_time(seed_like, capsys):
    x, y = seed_like
    grid = {"learning_rate": [0.01, 0.03]}
    onehot = to_categorical(y, 4)
    ours = GridSearchCV(seed_estimator(epochs=2), grid, cv=2, stack_memory=1, verbose=1).fit(x, onehot)
    assert "4 of 4 fits in 4 stacks (1 fits in 1 runs" in capsys.readouterr().out
    same_results(ours.cv_results_, sk.GridSearchCV(seed_estimator(epochs=2), grid, cv=2).fit(x, onehot).cv_results_)
    with pytest.raises(ValueError, match="stack_memory"):
        GridSearchCV(seed_estimator(), grid, stack_memory=0).fit(x, onehot)


def test_dropout_without_random_state_follows_the_global_generator(seed_like):
    """Unseeded members draw their masks and orders from the global generator in scikit-learn's fit order."""
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu"), Dropout(0.3)], optimizer="adam", epochs=2,
                                batch_size=32)
    grid = {"layers__1__rate": [0.1, 0.4]}
    torch.manual_seed(11)
    ours = GridSearchCV(estimator, grid, cv=2).fit(x, y)
    torch.manual_seed(11)
    same_results(ours.cv_results_, sk.GridSearchCV(estimator, grid, cv=2).fit(x, y).cv_results_)


@pytest.mark.parametrize("case", ["binary", "one-output regressor", "odd width, sigmoid", "multi-output regressor"])
def test_other_outputs_and_shapes_match_to_float_rounding(seed_like, case):
    """Sigmoid outputs (binary cross-entropy), Dense(1) regressors, odd widths with vectorized activations:
    their batched kernels may round differently from a lone fit's, so scores agree to float rounding."""
    x, y = seed_like
    hidden = [Dense(5 if case.startswith("odd") else 8, activation="sigmoid" if case.startswith("odd") else "relu")]
    if case == "binary":
        estimator, target, scoring = KerasClassifier(layers=hidden, optimizer="adam"), y % 2, "neg_log_loss"
    elif case.endswith("regressor"):
        target = x[:, :3].sum(axis=1) if case.startswith("one") else x[:, :2]
        estimator, scoring = KerasRegressor(layers=hidden, optimizer="adam"), "neg_mean_squared_error"
    else:
        estimator, target, scoring = KerasClassifier(layers=hidden, optimizer="adam"), y, "neg_log_loss"
    estimator.set_params(epochs=4, batch_size=33 if case.startswith("odd") else 64, random_state=0)
    grid = {"optimizer__learning_rate": [0.01, 0.05]}
    ours = GridSearchCV(estimator, grid, cv=3, scoring=scoring).fit(x, target)
    same_results(ours.cv_results_, sk.GridSearchCV(estimator, grid, cv=3, scoring=scoring).fit(x, target).cv_results_)


def test_grid_values_that_are_pipeline_steps(seed_like, capsys):
    """Scoring a stacked Pipeline does not set its parameters again (that would put unfitted clones of the
    grid's transformers in place of the fitted ones)."""
    from sklearn.preprocessing import MinMaxScaler

    x, y = seed_like
    pipe = make_pipeline(StandardScaler(), KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam",
                                                           epochs=2, random_state=0))
    grid = {"standardscaler": [StandardScaler(), MinMaxScaler(), "passthrough"]}
    ours = GridSearchCV(pipe, grid, cv=2, verbose=1, error_score="raise").fit(x, y)
    assert "Stacked training: 6 of 6 fits in 1 stack" in capsys.readouterr().out
    same_results(ours.cv_results_, sk.GridSearchCV(pipe, grid, cv=2, error_score="raise").fit(x, y).cv_results_)


def test_zero_epochs_keep_the_initial_weights(seed_like):
    x, y = seed_like
    estimator = KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="adam", batch_size=16, random_state=0)
    grid = {"epochs": [0, 2]}
    ours = GridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss").fit(x, y)
    same_results(ours.cv_results_, sk.GridSearchCV(estimator, grid, cv=2, scoring="neg_log_loss").fit(x, y).cv_results_)


def test_group_folds_are_stacked(seed_like, capsys):
    """``groups`` only choose the folds: a GroupKFold search is stacked like any other."""
    x, y = seed_like
    groups = np.arange(len(y)) % 7
    grid = {"learning_rate": [0.01, 0.03]}
    onehot = to_categorical(y, 4)
    ours = GridSearchCV(seed_estimator(epochs=2), grid, cv=sk.GroupKFold(3), verbose=1).fit(x, onehot, groups=groups)
    assert "Stacked training: 6 of 6 fits in 1 stack" in capsys.readouterr().out
    theirs = sk.GridSearchCV(seed_estimator(epochs=2), grid, cv=sk.GroupKFold(3)).fit(x, onehot, groups=groups)
    same_results(ours.cv_results_, theirs.cv_results_)


def test_dropout_and_activation_before_the_first_dense(seed_like, capsys):
    x, y = seed_like
    from nnkit.layers import Activation

    estimator = KerasClassifier(layers=[Dropout(0.2), Activation("tanh"), Dense(8, activation="relu")],
                                optimizer="adam", epochs=2, batch_size=32, random_state=0)
    grid = {"optimizer__learning_rate": [0.01, 0.03]}
    ours = GridSearchCV(estimator, grid, cv=2, verbose=1).fit(x, y)
    assert "Stacked training: 4 of 4 fits in 1 stack" in capsys.readouterr().out
    same_results(ours.cv_results_, sk.GridSearchCV(estimator, grid, cv=2).fit(x, y).cv_results_)


def test_n_jobs_runs_a_stackable_search_in_this_process(seed_like, capsys):
    """n_jobs=2 with a stackable estimator: stacked here (worker processes would fit one by one), with the
    results of scikit-learn's parallel search; an estimator that cannot be stacked still uses the workers."""
    x, y = seed_like
    onehot = to_categorical(y, 4)
    ours = GridSearchCV(seed_estimator(epochs=2), SEED_GRID, cv=3, n_jobs=2, verbose=1).fit(x, onehot)
    assert "Stacked training: 27 of 27 fits in 1 stack" in capsys.readouterr().out
    theirs = sk.GridSearchCV(seed_estimator(epochs=2), SEED_GRID, cv=3, n_jobs=2).fit(x, onehot)
    same_results(ours.cv_results_, theirs.cv_results_)
    estimator = KerasClassifier(layers=[Dense(8, activation="relu")], optimizer="rmsprop", epochs=1)
    GridSearchCV(estimator, {"batch_size": [16, 32]}, cv=2, n_jobs=2, verbose=1).fit(x, y)
    assert "one by one: 4 x optimizer RMSprop (with n_jobs=2 the fits run in worker processes)" in (
        capsys.readouterr().out)
