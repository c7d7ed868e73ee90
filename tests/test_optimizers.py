"""nnkit.optimizers: Keras defaults, the torch optimizer they build, and Keras's update trajectories."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nnkit.optimizers as O
from tests.helpers import assert_close

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"]
# Keras config entries that are not hyperparameters of the update rule.
KERAS_ONLY = {
    "name",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
}


def _param(values) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float32))


# --- defaults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_defaults_equal_keras(keras, name):
    ours = getattr(O, name)().get_config()
    theirs = getattr(keras.optimizers, name)().get_config()
    hyperparameters = set(theirs) - KERAS_ONLY
    assert hyperparameters <= set(ours), f"missing Keras arguments: {hyperparameters - set(ours)}"
    for key in sorted(hyperparameters):
        if key == "learning_rate":  # Keras stores it as a float32 variable
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6)
        else:
            assert ours[key] == theirs[key], key


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SGD", {"lr": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}),
        ("Adam", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "amsgrad": False, "weight_decay": 0.0}),
        ("AdamW", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004}),
        ("RMSprop", {"lr": 0.001, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0, "centered": False}),
        ("Adagrad", {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7}),
        ("Adadelta", {"lr": 0.001, "rho": 0.95, "eps": 1e-7}),
        ("Adamax", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
        ("Nadam", {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
    ],
)
def test_torch_optimizer_receives_keras_defaults(name, expected):
    opt = getattr(O, name)()
    params = [_param([1.0, 2.0]), _param([[3.0]])]
    built = opt.build(params)
    assert built is opt.torch_optimizer
    assert isinstance(built, opt.torch_class)
    (group,) = built.param_groups
    assert group["params"] == params
    assert {k: group[k] for k in expected} == expected


# --- same trajectory as Keras -------------------------------------------------------------------

TRAJECTORIES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"weight_decay": 0.1}),
    ("SGD", {"clipvalue": 0.5}),
    ("SGD", {"clipnorm": 0.5}),
    ("SGD", {"global_clipnorm": 0.5}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"weight_decay": 0.1}),
    ("Adamax", {}),
    ("Adagrad", {}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Nadam", {}),
    ("AdamW", {}),
    ("AdamW", {"weight_decay": 0.05, "global_clipnorm": 1.0}),
    ("Adadelta", {"learning_rate": 1.0}),
]


def _assert_same_trajectory(keras, name: str, kwargs: dict, w0: np.ndarray, grads: list[np.ndarray]) -> None:
    """Apply ``grads`` with Keras and with nnkit's torch optimizer; weights must agree after every step."""
    variable = keras.Variable(w0.copy())
    keras_opt = getattr(keras.optimizers, name)(**kwargs)
    param = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = getattr(O, name)(**kwargs)
    torch_opt = opt.build([param])
    for step, g in enumerate(grads, 1):
        keras_opt.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        param.grad = torch.from_numpy(g.copy())
        if opt.needs_hooks:  # what nnkit's training loop does between backward() and the next batch
            opt.before_step()
        torch_opt.step()
        opt.iterations += 1
        expected = np.asarray(keras.ops.convert_to_numpy(variable))
        np.testing.assert_allclose(
            param.detach().numpy(), expected, rtol=1e-4, atol=1e-6, err_msg=f"{name}{kwargs} after step {step}"
        )


@pytest.mark.parametrize(
    ("name", "kwargs"),
    TRAJECTORIES,
    ids=[f"{n}-{','.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in TRAJECTORIES],
)
def test_updates_follow_keras_step_by_step(keras, rng, name, kwargs):
    # lr 0.01 keeps steps visible (Adam-like steps are ~lr) while Keras's float32 bias corrections
    # (1 - 0.999 ** t carries ~1e-5 relative rounding) stay below atol.
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(5)]
    _assert_same_trajectory(keras, name, {"learning_rate": 0.01, **kwargs}, w0, grads)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad"])
def test_near_zero_gradients_follow_keras(keras, rng, name):
    # Gradients of 1e-5 are where epsilon's placement (inside or outside the bias correction or the
    # square root) changes the step by tens of percent.
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [1e-5 * rng.normal(size=(5, 3)).astype(np.float32) for _ in range(5)]
    _assert_same_trajectory(keras, name, {"learning_rate": 0.01}, w0, grads)


# --- learning rate ------------------------------------------------------------------------------


def test_legacy_lr_spelling_sets_learning_rate():
    opt = O.SGD(lr=0.5)
    assert opt.learning_rate == 0.5
    assert opt.get_config()["learning_rate"] == 0.5
    assert opt.build([_param([1.0])]).param_groups[0]["lr"] == 0.5
    assert O.Adam(lr=0.02).get_config()["learning_rate"] == 0.02


def test_learning_rate_setter_updates_the_running_torch_optimizer():
    opt = O.SGD(learning_rate=0.1)
    opt.learning_rate = 0.2  # before build: used by build
    p = _param([1.0, 2.0])
    torch_opt = opt.build([p])
    assert torch_opt.param_groups[0]["lr"] == 0.2
    opt.learning_rate = 0.05  # after build: the next step uses it
    assert [g["lr"] for g in torch_opt.param_groups] == [0.05]
    assert opt.get_config()["learning_rate"] == 0.05
    p.grad = torch.tensor([1.0, -2.0])
    torch_opt.step()
    assert_close(p, [1.0 - 0.05, 2.0 + 0.1])


def test_learning_rate_reads_changes_made_on_the_torch_optimizer():
    opt = O.Adam()
    torch_opt = opt.build([_param([1.0])])
    torch_opt.param_groups[0]["lr"] = 0.123  # e.g. a torch LR scheduler
    assert opt.learning_rate == pytest.approx(0.123)


# --- clipping and weight decay, by hand ---------------------------------------------------------


def test_clipnorm_clips_each_gradient_to_its_own_norm():
    big, small = _param([0.0, 0.0, 0.0]), _param([0.0, 0.0])
    opt = O.SGD(learning_rate=1.0, clipnorm=1.0)
    opt.build([big, small])
    assert opt.needs_hooks
    big.grad, small.grad = torch.tensor([3.0, 4.0, 0.0]), torch.tensor([0.3, 0.4])
    opt.before_step()
    assert_close(big.grad, [0.6, 0.8, 0.0])  # norm 5 -> 1
    assert_close(small.grad, [0.3, 0.4])  # norm 0.5 is under the limit


def test_global_clipnorm_scales_all_gradients_together():
    a, b = _param([0.0, 0.0]), _param([0.0, 0.0, 0.0])
    opt = O.SGD(learning_rate=1.0, global_clipnorm=1.0)
    opt.build([a, b])
    a.grad, b.grad = torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.0, 12.0])  # global norm 13
    opt.before_step()
    assert_close(a.grad, [3 / 13, 4 / 13])
    assert_close(b.grad, [0.0, 0.0, 12 / 13])


def test_clipvalue_clips_each_element():
    p = _param([0.0, 0.0, 0.0, 0.0])
    opt = O.Adam(clipvalue=1.0)
    opt.build([p])
    p.grad = torch.tensor([-3.0, 0.2, 4.0, -1.0])
    opt.before_step()
    assert_close(p.grad, [-1.0, 0.2, 1.0, -1.0])


def test_sgd_weight_decay_is_decoupled():
    lr, wd = 0.1, 0.2
    w0, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, -0.5])
    p = _param(w0.tolist())
    opt = O.SGD(learning_rate=lr, weight_decay=wd)
    torch_opt = opt.build([p])
    assert torch_opt.param_groups[0]["weight_decay"] == 0.0  # not also coupled into the gradient
    expected = w0
    for _ in range(2):
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.before_step()
        torch_opt.step()
        expected = expected - lr * wd * expected - lr * g
        assert_close(p, expected)


def test_weight_decay_uses_the_current_learning_rate():
    p = _param([1.0])
    opt = O.SGD(learning_rate=0.1, weight_decay=0.5)
    torch_opt = opt.build([p])
    opt.learning_rate = 0.2
    p.grad = torch.tensor([0.0])
    opt.before_step()
    torch_opt.step()
    assert_close(p, [1.0 - 0.2 * 0.5])


# --- bad values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: O.SGD(learning_rate=-0.1), r"`learning_rate`.*non-negative.*learning_rate=-0\.1"),
        (lambda: O.Adam(lr=-1), r"learning_rate=-1"),
        (lambda: O.Adam(beta_1=1.5), r"`beta_1` in \[0, 1\).*beta_1=1\.5"),
        (lambda: O.Nadam(beta_2=-0.1), r"`beta_2` in \[0, 1\)"),
        (lambda: O.Adam(epsilon=-1e-7), r"`epsilon`"),
        (lambda: O.SGD(clipnorm=1.0, global_clipnorm=1.0), r"at most one of `clipnorm` and `global_clipnorm`"),
        (lambda: O.SGD(clipnorm=-1.0), r"`clipnorm`.*positive.*clipnorm=-1\.0"),
        (lambda: O.RMSprop(clipvalue=0), r"`clipvalue`.*positive"),
        (lambda: O.SGD(nesterov=True), r"nesterov=True needs a positive `momentum`"),
        (lambda: O.SGD(momentum=-0.5), r"`momentum`"),
        (lambda: O.get("adma"), r"Unknown optimizer 'adma'\. Did you mean 'adam'\? Known optimizers: adadelta"),
        (lambda: O.get("rmsporp"), r"Did you mean 'rmsprop'\?"),
        (lambda: O.get(42), r"optimizer name"),
    ],
)
def test_bad_values_raise_value_error_with_clear_message(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_negative_learning_rate_assignment_raises():
    opt = O.SGD()
    opt.build([_param([1.0])])
    with pytest.raises(ValueError, match="learning_rate=-1"):
        opt.learning_rate = -1
    assert opt.learning_rate == pytest.approx(0.01)


def test_unknown_argument_raises_type_error():
    with pytest.raises(TypeError, match="momentun"):
        O.SGD(momentun=0.9)


# --- get() --------------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["adam", "Adam", "ADAM"])
def test_get_by_name(identifier):
    assert type(O.get(identifier)) is O.Adam


@pytest.mark.parametrize("name", NAMES)
def test_get_every_lowercase_name(name):
    assert type(O.get(name.lower())) is getattr(O, name)


def test_get_dict_and_instance():
    opt = O.get({"class_name": "RMSprop", "config": {"learning_rate": 0.01, "rho": 0.8}})
    assert isinstance(opt, O.RMSprop)
    assert (opt.learning_rate, opt.rho) == (0.01, 0.8)
    assert O.get(opt) is opt


def test_get_torch_optimizer_class_builds_it_with_torch_defaults():
    opt = O.get(torch.optim.Adam)
    params = [_param([1.0, 2.0])]
    built = opt.build(params)
    assert type(built) is torch.optim.Adam
    assert built.param_groups[0]["params"] == params
    assert opt.learning_rate == pytest.approx(1e-3)  # torch's own default


def test_get_torch_optimizer_instance_for_the_model_is_used_as_is():
    model = torch.nn.Linear(3, 2)
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.3)
    opt = O.get(torch_opt)
    assert opt.build(model.parameters()) is torch_opt
    assert opt.learning_rate == pytest.approx(0.3)


def test_torch_optimizer_instance_for_other_parameters_raises():
    model, other = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    opt = O.get(torch.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"does not hold 2 of the model's 2 trainable tensors.*model\.module"):
        opt.build(model.parameters())


# --- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opt",
    [
        O.SGD(learning_rate=0.2, momentum=0.8, nesterov=True, clipvalue=1.0),
        O.Adam(learning_rate=0.01, beta_1=0.8, amsgrad=True, global_clipnorm=2.0),
        O.AdamW(weight_decay=0.01, clipnorm=1.0),
        O.RMSprop(rho=0.7, centered=True, momentum=0.3),
        O.Adagrad(initial_accumulator_value=0.2, epsilon=1e-6),
        O.Adadelta(learning_rate=1.0, rho=0.9),
        O.Adamax(beta_2=0.99),
        O.Nadam(epsilon=1e-8, weight_decay=0.001),
    ],
    ids=repr,
)
def test_config_round_trip(opt):
    config = opt.get_config()
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    a, b = opt.build([_param([1.0])]), clone.build([_param([1.0])])
    strip = lambda group: {k: v for k, v in group.items() if k != "params"}  # noqa: E731
    assert strip(a.param_groups[0]) == strip(b.param_groups[0])


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    learning_rate=st.floats(0, 10, allow_nan=False),
    clip=st.sampled_from(["clipnorm", "clipvalue", "global_clipnorm", None]),
    clip_value=st.floats(1e-3, 100),
)
def test_any_valid_config_survives_a_round_trip_through_get(name, learning_rate, clip, clip_value):
    kwargs = {"learning_rate": learning_rate, **({clip: clip_value} if clip else {})}
    opt = getattr(O, name)(**kwargs)
    clone = O.get({"class_name": name, "config": opt.get_config()})
    assert type(clone) is type(opt)
    assert clone.get_config() == opt.get_config()
    assert clone.get_config()[clip or "learning_rate"] == kwargs[clip or "learning_rate"]


# --- state (checkpoints) ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*NAMES, "Adafactor", "Ftrl", "Lamb", "Lion"])
def test_state_dict_restores_the_update_trajectory(rng, name):
    grads = [torch.from_numpy(rng.normal(size=3).astype(np.float32)) for _ in range(6)]

    def run(opt, param, steps):
        torch_opt = opt.torch_optimizer or opt.build([param])
        for g in steps:
            param.grad = g.clone()
            if opt.needs_hooks:
                opt.before_step()
            torch_opt.step()
            opt.iterations += 1

    kwargs = {"learning_rate": 0.05, "clipnorm": 1.0}
    a, param_a = getattr(O, name)(**kwargs), torch.nn.Parameter(torch.ones(3))
    run(a, param_a, grads[:3])
    a.learning_rate = 0.02  # e.g. lowered by ReduceLROnPlateau
    b, param_b = getattr(O, name)(**kwargs), torch.nn.Parameter(param_a.detach().clone())
    b.load_state_dict(a.state_dict())  # before build: applied when built
    b.build([param_b])
    assert (b.iterations, b.learning_rate) == (3, pytest.approx(0.02))
    run(a, param_a, grads[3:])
    run(b, param_b, grads[3:])
    assert torch.equal(param_a, param_b)


def test_state_dict_with_a_schedule_keeps_the_step_count():
    schedule = O.schedules.ExponentialDecay(0.1, 1, 0.5)
    opt = O.SGD(learning_rate=schedule)
    opt.build([_param([1.0])])
    opt.iterations = 3
    clone = O.SGD(learning_rate=schedule)
    clone.build([_param([1.0])])
    clone.load_state_dict(opt.state_dict())
    assert clone.learning_rate == pytest.approx(0.1 * 0.5**3)


def test_old_import_paths_still_work():
    import nnkit
    from nnkit.optimizers import OPTIMIZERS, SGD, Adam, KerasRMSprop, get  # noqa: F401
    from nnkit.optimizers.schedules import CosineDecay  # noqa: F401

    assert nnkit.optimizers.schedules.ExponentialDecay is O.schedules.ExponentialDecay
    assert set(OPTIMIZERS.names()) == {"adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lamb",
                                       "lbfgs", "levenberg_marquardt", "lion", "nadam", "rmsprop", "sgd"}
