"""L-BFGS: ``fit`` drives ``torch.optim.LBFGS`` exactly as a hand-written closure loop does, and its
curvature history survives save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import nnkit
from nnkit.errors import ConfigError
from nnkit.layers import Dense
from nnkit.optimizers import LBFGS

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=50):
    x = np.linspace(-1.0, 1.0, n, dtype="float32").reshape(-1, 1)
    return x, np.sin(np.pi * x)


def _model(units=6):
    return nnkit.Sequential([nnkit.Input((1,)), Dense(units, activation="tanh"), Dense(1)])


def _by_hand(model, x, y, steps, activity_l2=0.0, **options):
    """The same network in plain torch, trained with torch.optim.LBFGS and a hand-written closure (with
    Keras's activity penalty ``l2 * sum(h ** 2) / batch_size`` on the hidden layer)."""
    (w1, b1, w2, b2) = (torch.tensor(w.T if w.ndim == 2 else w) for w in model.get_weights())
    net = torch.nn.Sequential(torch.nn.Linear(1, w1.shape[0]), torch.nn.Tanh(), torch.nn.Linear(w1.shape[0], 1))
    with torch.no_grad():
        for param, value in zip(net.parameters(), (w1, b1, w2, b2)):
            param.copy_(value)
    optimizer = torch.optim.LBFGS(net.parameters(), **options)
    inputs, targets = torch.tensor(x), torch.tensor(y)

    def closure():
        optimizer.zero_grad()
        hidden = net[1](net[0](inputs))
        loss = F.mse_loss(net[2](hidden), targets) + activity_l2 * hidden.square().sum() / len(inputs)
        loss.backward()
        return loss

    losses = [float(optimizer.step(closure).detach()) for _ in range(steps)]
    return [p.detach().numpy() for p in net.parameters()], losses


@pytest.mark.parametrize(("options", "torch_options"), [
    ({}, {"line_search_fn": "strong_wolfe"}),
    ({"learning_rate": 0.5, "max_iter": 5, "history_size": 3, "line_search": None},
     {"lr": 0.5, "max_iter": 5, "history_size": 3}),
])
def test_fit_equals_torch_lbfgs_with_a_hand_written_closure(options, torch_options):
    x, y = _data()
    model = _model()
    model.compile(optimizer=LBFGS(**options), loss="mse")
    model.build((None, 1))
    expected, losses = _by_hand(model, x, y, steps=4, **torch_options)
    history = model.fit(x, y, epochs=4, verbose=0).history["loss"]
    for param, value in zip(model.module.parameters(), expected):
        np.testing.assert_allclose(param.detach().numpy(), value, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(history, losses, rtol=1e-6)  # each epoch logs the loss its step started from
    assert losses[-1] < 0.5 * losses[0]  # the runs compared did train


def test_save_and_load_mid_training_resumes_identically(tmp_path):
    x, y = _data()
    model = _model()
    model.compile(optimizer=LBFGS(max_iter=4), loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "mid.nnkit")
    model.fit(x, y, epochs=2, verbose=0)
    resumed = nnkit.models.load_model(tmp_path / "mid.nnkit")
    state = resumed.optimizer.state_dict()["torch"]["state"]
    assert len(state[0]["old_dirs"]) > 0  # the curvature history came back with the weights
    resumed.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_minibatches_when_fit_gets_a_batch_size():
    x, y = _data(50)
    model = _model()
    model.compile(optimizer="lbfgs", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    assert model.optimizer.iterations == 2
    model.fit(x, y, epochs=1, batch_size=20, verbose=0)
    assert model.optimizer.iterations == 5


def test_activity_penalties_join_the_objective_and_the_estimators_take_the_name():
    """What Levenberg-Marquardt refuses (an activity penalty) L-BFGS minimizes, as a hand-written closure does."""
    from nnkit.wrappers import KerasRegressor

    x, y = _data()
    model = nnkit.Sequential([nnkit.Input((1,)), Dense(6, activation="tanh", activity_regularizer="l2"), Dense(1)])
    model.compile(optimizer="lbfgs", loss="mse")
    model.build((None, 1))
    expected, losses = _by_hand(model, x, y, steps=3, activity_l2=0.01, line_search_fn="strong_wolfe")
    history = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    for param, value in zip(model.module.parameters(), expected):
        np.testing.assert_allclose(param.detach().numpy(), value, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(history, losses, rtol=1e-6)
    estimator = KerasRegressor(layers=[Dense(8, activation="tanh")], optimizer="lbfgs", loss="mse", epochs=10,
                               verbose=0).fit(x, y.ravel())
    assert estimator.score(x, y.ravel()) > 0.99


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"line_search": "armijo"}, "`line_search` to be 'strong_wolfe' or None"),
    ({"max_iter": 0}, "`max_iter` to be a positive int"),
    ({"weight_decay": 0.01}, "LBFGS does not support `weight_decay`"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LBFGS(**kwargs)


def test_names_and_config():
    assert isinstance(nnkit.optimizers.get("lbfgs"), LBFGS)
    config = LBFGS(max_iter=7, line_search=None).get_config()
    assert LBFGS.from_config(config).get_config() == config
    assert nnkit.optimizers.deserialize(nnkit.optimizers.serialize(LBFGS(history_size=5))).history_size == 5


def test_terminate_on_nan_takes_no_step_from_a_nan_loss():
    x, y = _data()
    model = _model()
    model.compile(optimizer="lbfgs", loss="mse")
    model.build((None, 1))
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[nnkit.callbacks.TerminateOnNaN()]).history["loss"]
    assert len(history) == 1 and np.isnan(history[0])
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("name", ["lbfgs", "levenberg_marquardt"])
def test_a_custom_train_step_applying_gradients_is_told_why_not(name):
    optimizer = nnkit.optimizers.get(name)
    weight = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ConfigError, match=r"cannot apply given gradients .* custom train_step"):
        optimizer.apply_gradients([(torch.ones(2), weight)])
