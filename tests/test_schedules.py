"""Learning-rate schedules: Keras's closed forms, per-step use by every optimizer, config round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nnkit
import nnkit.optimizers as O
from nnkit.layers import Dense
from nnkit.optimizers import schedules as S
from tests.helpers import assert_close

CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [5, 12, 30], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20, "end_learning_rate": 0.01,
                         "power": 0.5, "cycle": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 25}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 25, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 25, "warmup_target": 0.2, "warmup_steps": 10}),
    ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 25, "alpha": 0.2, "warmup_target": 0.1,
                     "warmup_steps": 5}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 6}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 6, "t_mul": 1.0, "m_mul": 0.5,
                             "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 5, "t_mul": 1.5, "m_mul": 0.8}),
]
IDS = [f"{name}-{','.join(f'{k}={v}' for k, v in kwargs.items() if k != 'initial_learning_rate')}"
       for name, kwargs in CASES]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_every_step_matches_keras(keras, name, kwargs):
    ours = getattr(S, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    steps = range(0, 90)
    expected = [float(keras.ops.convert_to_numpy(theirs(step))) for step in steps]
    assert_close([ours(step) for step in steps], expected, rtol=2e-6, atol=1e-8)  # Keras computes in float32


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        (S.ExponentialDecay(0.1, 10, 0.5), 25, 0.1 * 0.5**2.5),
        (S.ExponentialDecay(0.1, 10, 0.5, staircase=True), 25, 0.1 * 0.5**2),
        (S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 10, 1.0),   # boundary belongs to the left
        (S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 11, 0.5),
        (S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 21, 0.1),
        (S.PolynomialDecay(0.1, 10, 0.01), 5, 0.01 + 0.09 * 0.5),
        (S.PolynomialDecay(0.1, 10, 0.01), 50, 0.01),                        # held at the end
        (S.PolynomialDecay(0.1, 10, 0.0, cycle=True), 15, 0.1 * (1 - 15 / 20)),
        (S.InverseTimeDecay(0.1, 2, 0.5), 4, 0.1 / (1 + 0.5 * 2)),
        (S.CosineDecay(0.1, 10, alpha=0.2), 5, 0.1 * (0.8 * 0.5 + 0.2)),
        (S.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=4), 2, 0.05),  # halfway up the warmup
        (S.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=4), 4, 0.1),   # decay starts at the target
        (S.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5), 10, 0.05),      # 2nd period, half the rate
        (S.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5), 20, 0.05 * 0.5 * (1 + math.cos(math.pi / 2))),
    ],
)
def test_closed_forms_by_hand(schedule, step, expected):
    assert schedule(step) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_each_update_uses_the_schedule_at_the_current_step():
    # SGD on f(w) = w (gradient 1): after t updates w = w0 - sum of schedule(0..t-1).
    schedule = S.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    p = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = O.SGD(learning_rate=schedule)
    torch_opt = opt.build([p])
    assert opt.needs_hooks and opt.learning_rate == pytest.approx(0.1)
    for _ in range(4):
        p.grad = torch.ones_like(p)
        opt.before_step()
        torch_opt.step()
        opt.iterations += 1
    assert p.item() == pytest.approx(1.0 - 0.1 * (1 + 0.5 + 0.25 + 0.125))
    assert opt.learning_rate == pytest.approx(0.1 * 0.5**4)  # the rate of the next update, as in Keras


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam"])
def test_scheduled_updates_follow_keras(keras, rng, name):
    # weight_decay is applied with the scheduled rate too (Keras: w -= lr_t * wd * w).
    kwargs = {"weight_decay": 0.05} if name in ("SGD", "Adam", "AdamW") else {}
    schedule = {"initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5}
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(5)]
    variable = keras.Variable(w0.copy())
    keras_opt = getattr(keras.optimizers, name)(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(**schedule), **kwargs)
    param = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = getattr(O, name)(learning_rate=S.ExponentialDecay(**schedule), **kwargs)
    torch_opt = opt.build([param])
    for step, g in enumerate(grads, 1):
        keras_opt.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        param.grad = torch.from_numpy(g.copy())
        opt.before_step()
        torch_opt.step()
        opt.iterations += 1
        np.testing.assert_allclose(param.detach().numpy(), keras.ops.convert_to_numpy(variable), rtol=1e-4,
                                   atol=1e-6, err_msg=f"{name} after step {step}")


def test_fit_steps_the_schedule_per_batch_like_keras(keras, rng):
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = rng.normal(size=(50, 1)).astype(np.float32)
    k_model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    n_model = nnkit.Sequential([nnkit.Input(shape=(3,)), Dense(1)])
    n_model.set_weights(k_model.get_weights())
    k_model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.PiecewiseConstantDecay([3, 8],
                                                                                                     [0.1, 0.01, 0.001])),
                    loss="mse")
    n_model.compile(optimizer=O.SGD(S.PiecewiseConstantDecay([3, 8], [0.1, 0.01, 0.001])), loss="mse")
    k_hist = k_model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    n_hist = n_model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    assert n_model.optimizer.iterations == int(keras.ops.convert_to_numpy(k_model.optimizer.iterations)) == 12
    assert n_model.optimizer.learning_rate == pytest.approx(float(keras.ops.convert_to_numpy(
        k_model.optimizer.learning_rate)))
    assert_close(n_hist["loss"], k_hist["loss"], rtol=1e-5)
    for ours, theirs in zip(n_model.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_scheduled_learning_rate_cannot_be_assigned():
    opt = O.Adam(learning_rate=S.CosineDecay(0.01, 100))
    with pytest.raises(ValueError, match=r"created with the schedule CosineDecay\(.*cannot be assigned"):
        opt.learning_rate = 0.1


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_config_round_trip_and_optimizer_config(name, kwargs):
    schedule = getattr(S, name)(**kwargs)
    clone = S.deserialize(S.serialize(schedule))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    opt = O.Adam(learning_rate=schedule)
    config = opt.get_config()
    assert config["learning_rate"] == {"module": "keras.optimizers.schedules", "class_name": name,
                                       "config": schedule.get_config(), "registered_name": None}
    rebuilt = O.get({"class_name": "Adam", "config": config})
    assert [rebuilt.schedule(s) for s in range(0, 60, 7)] == [schedule(s) for s in range(0, 60, 7)]


def test_keras_serialized_schedule_is_accepted(keras):
    theirs = keras.optimizers.schedules.serialize(keras.optimizers.schedules.InverseTimeDecay(0.1, 5, 0.3))
    ours = S.deserialize(theirs)
    assert isinstance(ours, S.InverseTimeDecay) and ours(10) == pytest.approx(0.1 / 1.6)
    short = S.deserialize({"class_name": "InverseTimeDecay", "config": theirs["config"]})
    assert short.get_config() == ours.get_config()


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_serialized_schedules_equal_keras(keras, name, kwargs):
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    ours = getattr(S, name)(**kwargs)
    assert S.serialize(ours) == keras.optimizers.schedules.serialize(theirs)
    assert O.Adam(learning_rate=ours).get_config()["learning_rate"] == \
        keras.optimizers.Adam(learning_rate=theirs).get_config()["learning_rate"]
    rebuilt = keras.optimizers.schedules.deserialize(S.serialize(ours))  # nnkit's form loads in Keras too
    assert type(rebuilt) is type(theirs) and rebuilt.get_config() == theirs.get_config()


class _Halving(S.LearningRateSchedule):
    def __init__(self, rate: float = 0.1) -> None:
        self.rate = rate

    def __call__(self, step: int) -> float:
        return self.rate / 2**step

    def get_config(self) -> dict:
        return {"rate": self.rate}


def test_a_users_schedule_serializes_as_in_keras_and_comes_back():
    config = S.serialize(_Halving(0.4))
    assert config == {"module": __name__, "class_name": "_Halving", "config": {"rate": 0.4},
                      "registered_name": "_Halving"}
    with pytest.raises(ValueError, match="Unknown learning rate schedule '_Halving'"):
        S.deserialize(config)
    assert S.deserialize(config, custom_objects={"_Halving": _Halving})(1) == pytest.approx(0.2)
    registered = nnkit.saving.register_keras_serializable(package="test_schedules")(
        type("Quartering", (_Halving,), {"__call__": lambda self, step: self.rate / 4**step}))
    config = S.serialize(registered(0.8))
    assert config["registered_name"] == "test_schedules>Quartering"
    assert type(S.deserialize(config)) is registered and S.deserialize(config)(1) == pytest.approx(0.2)


@settings(max_examples=60, deadline=None)
@given(initial=st.floats(1e-4, 1.0), decay_steps=st.integers(1, 1000), rate=st.floats(0.05, 0.99),
       step=st.integers(0, 10_000))
def test_decays_never_increase_nor_go_negative(initial, decay_steps, rate, step):
    for schedule in (S.ExponentialDecay(initial, decay_steps, rate), S.InverseTimeDecay(initial, decay_steps, rate),
                     S.PolynomialDecay(initial, decay_steps, end_learning_rate=initial * rate),
                     S.CosineDecay(initial, decay_steps, alpha=rate)):
        close = 1 + 1e-12  # (initial - end) * 1 + end may round one ulp above initial
        assert 0 <= schedule(step + 1) <= schedule(step) * close <= initial * close**2


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: S.ExponentialDecay(0.1, 0, 0.5), r"`decay_steps` to be a positive number.*decay_steps=0"),
        (lambda: S.PolynomialDecay(0.1, -3), r"decay_steps=-3"),
        (lambda: S.CosineDecayRestarts(0.1, 0), r"first_decay_steps=0"),
        (lambda: S.PiecewiseConstantDecay([1, 2], [1.0, 0.5]), r"one more value than boundaries"),
        (lambda: S.PiecewiseConstantDecay([5, 2], [1.0, 0.5, 0.1]), r"strictly increasing boundaries"),
        (lambda: S.CosineDecay(0.0, 10, warmup_target=0.1), r"`warmup_steps` to be a positive number"),
        (lambda: S.InverseTimeDecay("0.1", 10, 0.5), r"`initial_learning_rate`.*Received: initial_learning_rate='0.1'"),
        (lambda: S.deserialize({"class_name": "ExponentialDecy", "config": {}}), r"Did you mean 'ExponentialDecay'"),
    ],
)
def test_bad_schedule_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
