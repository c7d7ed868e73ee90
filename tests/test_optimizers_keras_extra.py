"""Adafactor, Ftrl, Lamb and Lion: Keras's arguments and defaults, Keras's updates on the same weights and
gradients, training through ``compile``/``fit`` and optimizer state surviving a save/load mid-training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnkit
import nnkit.optimizers as O
from nnkit import layers
from nnkit.models import Sequential
from nnkit.saving import load_model
from tests.helpers import assert_close

NAMES = ["Adafactor", "Ftrl", "Lamb", "Lion"]
KERAS_ONLY = {"name", "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
              "gradient_accumulation_steps"}
# A vector, a matrix, a rank-3 tensor (Adafactor factors the last two axes) and an all-zero bias
# (Lamb's trust ratio and Adafactor's RMS floor take their special branch on zero weights).
SHAPES = [(4,), (3, 5), (2, 3, 4), (3,)]


def _schedule(lib):
    return lib.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)


TRAJECTORIES = [
    ("Adafactor", {}),
    # learning_rate above 1/sqrt(t) makes the cap bind from step 2 on
    ("Adafactor", {"learning_rate": 0.8, "beta_2_decay": -0.5, "epsilon_2": 1e-2, "clip_threshold": 0.5,
                   "weight_decay": 0.1}),
    ("Adafactor", {"learning_rate": 0.8, "relative_step": False, "global_clipnorm": 1.0}),  # Keras still caps
    ("Adafactor", {"learning_rate": _schedule}),
    ("Ftrl", {}),
    ("Ftrl", {"learning_rate": 0.1, "learning_rate_power": -0.7, "initial_accumulator_value": 0.5,
              "l1_regularization_strength": 0.05, "l2_regularization_strength": 0.02,
              "l2_shrinkage_regularization_strength": 0.03, "beta": 0.5, "weight_decay": 0.05}),
    ("Ftrl", {"learning_rate": 0.1, "learning_rate_power": 0.0, "clipvalue": 0.5}),
    ("Ftrl", {"learning_rate": 0.5, "l1_regularization_strength": 1.0}),  # sets weights with |z| <= l1 to 0
    ("Lamb", {}),
    ("Lamb", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5, "weight_decay": 0.1}),
    ("Lamb", {"learning_rate": 0.01, "clipnorm": 0.5}),
    ("Lion", {}),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9, "weight_decay": 0.1}),
    ("Lion", {"beta_1": 1.0, "learning_rate": _schedule}),
]


def _kwargs(lib, kwargs: dict) -> dict:
    return {k: v(lib) if callable(v) else v for k, v in kwargs.items()}


def _case_id(name: str, kwargs: dict) -> str:
    shown = ",".join(f"{k}={'schedule' if callable(v) else v}" for k, v in kwargs.items())
    return f"{name}-{shown}" if shown else name


def _run_both(keras, rng, name: str, kwargs: dict, steps: int = 5):
    """The same weights and gradients through Keras's and nnkit's optimizer, compared after every step."""
    w0 = [rng.normal(size=s).astype(np.float32) for s in SHAPES[:-1]] + [np.zeros(SHAPES[-1], np.float32)]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    variables = [keras.Variable(w.copy()) for w in w0]
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
    keras_opt = getattr(keras.optimizers, name)(**_kwargs(keras, kwargs))
    opt = getattr(O, name)(**_kwargs(nnkit, kwargs))
    for step, g in enumerate(grads, 1):
        keras_opt.apply_gradients(zip([keras.ops.convert_to_tensor(x) for x in g], variables))
        opt.apply_gradients(zip([torch.from_numpy(x.copy()) for x in g], params))
        for i, (param, variable) in enumerate(zip(params, variables)):
            np.testing.assert_allclose(param.detach().numpy(), keras.ops.convert_to_numpy(variable), rtol=1e-5,
                                       atol=1e-6, err_msg=f"{name}{kwargs} tensor {i} after step {step}")
    assert opt.iterations == int(keras_opt.iterations) == steps
    return keras_opt, opt, params


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_defaults_equal_keras(keras, name):
    ours = getattr(O, name)().get_config()
    theirs = getattr(keras.optimizers, name)().get_config()
    assert set(theirs) - KERAS_ONLY == set(ours) - {"name"}
    for key in sorted(set(theirs) - KERAS_ONLY):
        if key == "learning_rate":  # Keras stores it as a float32 variable
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6)
        else:
            assert ours[key] == theirs[key], key


@pytest.mark.parametrize("name", ["adafactor", "ftrl", "lamb", "lion", "Lion", "Adafactor"])
def test_get_by_keras_name(name):
    assert type(O.get(name)).__name__.lower() == name.lower()
    assert name.lower() in O.OPTIMIZERS.names()


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("Lion", {"beta_1": 0.0}), ("Lion", {"beta_1": 1.5}), ("Ftrl", {"learning_rate_power": 0.5}),
     ("Ftrl", {"initial_accumulator_value": -0.1}), ("Ftrl", {"l1_regularization_strength": -1.0}),
     ("Ftrl", {"l2_regularization_strength": -1.0}), ("Ftrl", {"l2_shrinkage_regularization_strength": -1.0})],
)
def test_bad_values_raise_value_error_like_keras(keras, name, kwargs):
    with pytest.raises(ValueError):
        getattr(keras.optimizers, name)(**kwargs)
    ((key, value),) = kwargs.items()
    with pytest.raises(ValueError, match=rf"{name}.*`{key}`.*Received: {key}={value}"):
        getattr(O, name)(**kwargs)


@pytest.mark.parametrize(
    "opt",
    [O.Adafactor(beta_2_decay=-0.6, epsilon_2=1e-2, clip_threshold=2.0, relative_step=False, clipnorm=1.0),
     O.Ftrl(learning_rate_power=-0.3, l1_regularization_strength=0.1, beta=0.2, weight_decay=0.01),
     O.Lamb(beta_1=0.8, epsilon=1e-6, global_clipnorm=1.0),
     O.Lion(learning_rate=O.schedules.ExponentialDecay(0.1, 1, 0.5), beta_2=0.95)],
    ids=repr,
)
def test_config_round_trip_through_get(opt):
    clone = O.get({"class_name": type(opt).__name__, "config": opt.get_config()})
    assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
    a, b = opt.build([torch.nn.Parameter(torch.ones(2))]), clone.build([torch.nn.Parameter(torch.ones(2))])
    strip = lambda group: {k: v for k, v in group.items() if k != "params"}  # noqa: E731
    assert strip(a.param_groups[0]) == strip(b.param_groups[0])


# --- same updates as Keras ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), TRAJECTORIES, ids=[_case_id(n, k) for n, k in TRAJECTORIES])
def test_updates_follow_keras_step_by_step(keras, rng, name, kwargs):
    _run_both(keras, rng, name, kwargs)


def test_adafactor_factors_the_last_two_axes_like_keras(keras, rng):
    keras_opt, opt, params = _run_both(keras, rng, "Adafactor", {"learning_rate": 0.1}, steps=3)
    for i, param in enumerate(params):
        state = opt.torch_optimizer.state[param]
        if param.dim() >= 2:  # only row and column statistics are kept, as Keras's _r and _c
            assert set(state) == {"step", "exp_avg_sq_row", "exp_avg_sq_col"}
            assert_close(state["exp_avg_sq_row"], keras.ops.convert_to_numpy(keras_opt._r[i]), rtol=1e-5)
            assert_close(state["exp_avg_sq_col"], keras.ops.convert_to_numpy(keras_opt._c[i]), rtol=1e-5)
        else:
            assert_close(state["exp_avg_sq"], keras.ops.convert_to_numpy(keras_opt._v[i]), rtol=1e-5)


def test_lion_steps_every_coordinate_by_the_learning_rate():
    param = torch.nn.Parameter(torch.zeros(4))
    opt = O.Lion(learning_rate=0.1)
    opt.apply_gradients([(torch.tensor([3.0, -1e-6, 0.0, -20.0]), param)])
    assert_close(param, [-0.1, 0.1, 0.0, 0.1])


# --- training and checkpoints -------------------------------------------------------------------


def _data(rng):
    x = rng.normal(size=(24, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)


def _model(lib):
    return lib.Sequential([lib.Input(shape=(3,)), lib.layers.Dense(4, activation="tanh"), lib.layers.Dense(1)])


def test_compile_with_lion_trains_like_keras(keras, rng):
    x, y = _data(rng)
    k_model, n_model = _model(keras), _model(nnkit)
    n_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer="lion", loss="mse")
    n_model.compile(optimizer="lion", loss="mse")
    fit = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    k_history, n_history = k_model.fit(x, y, **fit).history, n_model.fit(x, y, **fit).history
    assert isinstance(n_model.optimizer, O.Lion) and n_model.optimizer.iterations == 9
    assert_close(n_history["loss"], k_history["loss"], rtol=1e-4)
    assert n_history["loss"][-1] < n_history["loss"][0]
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["adafactor", "ftrl", "lamb", "lion"])
def test_reloaded_model_continues_training_identically(tmp_path, rng, name):
    x, y = _data(rng)
    model = Sequential([layers.Input(shape=(3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=O.get({"class_name": name, "config": {"learning_rate": 0.05}}), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")

    assert type(loaded.optimizer) is type(model.optimizer) and loaded.optimizer.iterations == 3
    saved, restored = (m.optimizer.state_dict()["torch"]["state"] for m in (model, loaded))
    assert saved.keys() == restored.keys() and len(saved) == 4
    for key, tensors in saved.items():
        assert restored[key].keys() == tensors.keys()
        for moment, value in tensors.items():
            np.testing.assert_array_equal(restored[key][moment].cpu().numpy(), value.cpu().numpy())

    history = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    assert loaded.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history == history
    for ours, theirs in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", NAMES)
def test_a_fresh_optimizer_state_would_train_differently(rng, name):
    """The round trip above is meaningful: each optimizer's next steps depend on the state it carries."""
    # large positive gradients, then small negative ones: momentum keeps the old direction, a fresh state flips
    grads = [torch.from_numpy(sign * (np.abs(rng.normal(size=(2, 3))) + 1).astype(np.float32))
             for sign in (5.0, 5.0, -0.1, -0.1)]
    continued, restarted = (torch.nn.Parameter(torch.ones(2, 3)) for _ in range(2))
    opt = getattr(O, name)(learning_rate=0.05)
    for g in grads[:2]:
        opt.apply_gradients([(g.clone(), continued)])
    restarted.data.copy_(continued.detach())
    fresh = getattr(O, name)(learning_rate=0.05)
    for g in grads[2:]:
        opt.apply_gradients([(g.clone(), continued)])
        fresh.apply_gradients([(g.clone(), restarted)])
    assert not torch.equal(continued, restarted)
