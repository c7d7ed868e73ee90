"""KerasRegressor: shapes, R², models given as instances, warm starts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score

from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.wrappers import KerasRegressor
from tests.helpers import assert_close
from tests.wrappers.models import linear_regressor


def small(**params) -> KerasRegressor:
    defaults = {"layers": [Dense(16, activation="relu")], "optimizer": "adam", "optimizer__learning_rate": 0.02,
                "epochs": 40, "batch_size": 16, "random_state": 0}
    return KerasRegressor(**{**defaults, **params})


def test_score_is_r2_and_predictions_match_the_model(regression):
    x, y = regression
    reg = small().fit(x, y)
    predicted = reg.predict(x)
    assert predicted.shape == y.shape and predicted.dtype == np.float64
    assert reg.score(x, y) == pytest.approx(r2_score(y, predicted)) and reg.score(x, y) > 0.9
    assert_close(predicted, reg.model_.predict(x, verbose=0)[:, 0], rtol=1e-4, atol=1e-5)
    assert reg.model_.loss.name == "mean_squared_error" and reg.n_outputs_ == 1


def test_several_outputs_and_column_targets_keep_their_shape(regression):
    x, y = regression
    both = np.stack([y, -2 * y], axis=1)
    reg = small().fit(x, both)
    assert reg.predict(x).shape == (len(x), 2) and reg.n_outputs_ == 2
    assert reg.score(x, both) == pytest.approx(r2_score(both, reg.predict(x)))
    column = small().fit(x, y[:, None])
    assert column.predict(x).shape == (len(x), 1)
    assert_close(column.predict(x)[:, 0], small().fit(x, y).predict(x), rtol=0, atol=0)


def test_integer_targets_are_numbers(regression):
    x, y = regression
    rounded = np.round(y * 3).astype(np.int64)
    assert_close(small().fit(x, rounded).predict(x), small().fit(x, rounded.astype(float)).predict(x), rtol=0, atol=0)


def test_a_model_instance_is_copied_with_new_weights_for_every_fit(regression):
    x, y = regression
    model = Sequential([Dense(8, activation="relu", input_dim=5), Dense(1)])
    model.compile(optimizer="adam", loss="mae")
    before = [w.copy() for w in model.get_weights()]
    reg = KerasRegressor(model, epochs=2, random_state=0).fit(x, y)
    for original, after in zip(before, model.get_weights()):
        np.testing.assert_array_equal(original, after)  # the parameter is never trained
    assert reg.model_ is not model and reg.model_.loss.name == "mean_absolute_error"
    assert not np.allclose(reg.model_.get_weights()[0], before[0])


def test_warm_start_continues_from_the_fitted_model(regression):
    x, y = regression
    reg = KerasRegressor(linear_regressor, epochs=3, warm_start=True, random_state=0, shuffle=False).fit(x, y)
    reg.fit(x, y)
    once = KerasRegressor(linear_regressor, epochs=6, random_state=0, shuffle=False).fit(x, y)
    assert len(reg.history_["loss"]) == 6
    assert_close(reg.predict(x), once.predict(x), rtol=1e-6, atol=1e-6)


def test_partial_fit_equals_epochs_of_one_fit(regression):
    """One epoch per call, optimizer state (Adam's moments) carried over between calls."""
    x, y = regression
    stepped = small(shuffle=False)
    for _ in range(3):
        stepped.partial_fit(x, y)
    whole = small(shuffle=False, epochs=3).fit(x, y)
    assert_close(stepped.predict(x), whole.predict(x), rtol=1e-6, atol=1e-6)
    assert_close(stepped.history_["loss"], whole.history_["loss"], rtol=1e-6)
    with pytest.raises(ValueError, match="X has 4 features"):
        stepped.partial_fit(x[:, :4], y)
