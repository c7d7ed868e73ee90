"""Levenberg-Marquardt: its steps equal the textbook formula in NumPy, it converges where scipy's MINPACK
LM does, its damping survives save/load and backups, and networks too large for it are refused clearly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.optimize

import nnkit
from nnkit.callbacks import BackupAndRestore, Callback
from nnkit.errors import ConfigError
from nnkit.layers import Dense
from nnkit.optimizers import LevenbergMarquardt

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def float64():
    """Models built in this test compute in float64 (so references agree to many digits)."""
    nnkit.config.set_floatx("float64")
    yield
    nnkit.config.set_floatx("float32")


# -- a one-hidden-layer tanh network in NumPy, parameters in torch's order: W1 (h, in), b1, W2 (out, h), b2 --
def _unpack(theta, n_in, n_hidden, n_out):
    sizes = [n_hidden * n_in, n_hidden, n_out * n_hidden, n_out]
    w1, b1, w2, b2 = np.split(theta, np.cumsum(sizes)[:-1])
    return w1.reshape(n_hidden, n_in), b1, w2.reshape(n_out, n_hidden), b2


def _forward(theta, x, shape):
    w1, b1, w2, b2 = _unpack(theta, *shape)
    return np.tanh(x @ w1.T + b1) @ w2.T + b2


def _jacobian(theta, x, shape):
    """``d outputs / d theta`` by hand: ``(n, out, P)``."""
    n_out = shape[2]
    w1, b1, w2, _ = _unpack(theta, *shape)
    h = np.tanh(x @ w1.T + b1)
    slope = w2[None, :, :] * (1 - h**2)[:, None, :]  # (n, out, hidden): d z_k / d pre-activation_j
    eye = np.eye(n_out)
    d_w1 = slope[:, :, :, None] * x[:, None, None, :]
    d_w2 = eye[None, :, :, None] * h[:, None, None, :]
    d_b2 = np.broadcast_to(eye, (len(x), n_out, n_out))
    return np.concatenate([d_w1.reshape(len(x), n_out, -1), slope, d_w2.reshape(len(x), n_out, -1), d_b2], axis=2)


def _theta(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.module.parameters()])


def _model(shape, **dense):
    n_in, n_hidden, n_out = shape
    return nnkit.Sequential([nnkit.Input((n_in,)), Dense(n_hidden, activation="tanh", **dense), Dense(n_out)])


def _first_accepted(theta, loss, step, damping):
    """Marquardt's rule: the first of damping, 10 damping, ... whose step lowers ``loss``."""
    while True:
        new = theta + step(damping)
        if loss(new) < loss(theta):
            return new, damping * 0.1
        damping *= 10.0


@pytest.mark.parametrize("case", ["plain", "sample_weight", "l2", "one_row_chunks"])
def test_one_step_is_the_textbook_damped_gauss_newton_step(float64, case):
    shape, rng = (1, 2, 1), np.random.default_rng(0)
    x = rng.uniform(-2, 2, (9, 1))
    y = np.sin(2 * x)
    w = rng.integers(1, 5, 9) / 2 if case == "sample_weight" else np.ones(9)  # exact in float32 too
    l2 = 0.01 if case == "l2" else 0.0
    model = _model(shape, kernel_regularizer=nnkit.regularizers.L2(l2) if l2 else None)
    # a memory budget leaving room for the 7 x 7 matrices and one Jacobian row: J is built row by row
    budget = {"memory_budget": 3 * 8 * 7 * 7 + 20 * 7} if case == "one_row_chunks" else {}
    model.compile(optimizer=LevenbergMarquardt(damping=1e-2, **budget), loss="mse")
    model.build((None, 1))
    theta = _theta(model)
    kernel = np.zeros_like(theta)
    kernel[:2] = 1.0  # the hidden kernel carries the penalty

    def loss(t):
        return np.mean(w * (_forward(t, x, shape)[:, 0] - y[:, 0]) ** 2) + l2 * np.sum(kernel * t**2)

    def step(damping):
        jac = np.sqrt(w)[:, None] * _jacobian(theta, x, shape)[:, 0, :]
        r = np.sqrt(w) * (_forward(theta, x, shape)[:, 0] - y[:, 0])
        a = jac.T @ jac + len(x) * l2 * np.diag(kernel) + damping * np.eye(len(theta))
        return -np.linalg.solve(a, jac.T @ r + len(x) * l2 * kernel * theta)

    expected, damping = _first_accepted(theta, loss, step, 1e-2)
    history = model.fit(x, y, sample_weight=w if case == "sample_weight" else None, epochs=1, verbose=0)
    np.testing.assert_allclose(_theta(model), expected, rtol=1e-9, atol=1e-10)
    assert model.optimizer.current_damping == pytest.approx(damping)
    assert history.history["loss"][0] == pytest.approx(loss(theta))  # logged: the loss before the step


def test_cross_entropy_steps_use_the_generalized_gauss_newton_matrix(float64):
    """Softmax outputs: the step solves ``(n/2) J^T H J`` with ``H = (diag(p) - p p^T) / n`` on the logits."""
    shape, rng = (2, 3, 3), np.random.default_rng(1)
    x = rng.normal(size=(12, 2))
    labels = rng.integers(0, 3, 12)
    model = nnkit.Sequential([nnkit.Input((2,)), Dense(3, activation="tanh"), Dense(3, activation="softmax")])
    model.compile(optimizer=LevenbergMarquardt(damping=1e-1), loss="sparse_categorical_crossentropy")
    model.build((None, 2))
    theta = _theta(model)

    def probabilities(t):
        z = _forward(t, x, shape)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(t):
        return -np.mean(np.log(probabilities(t)[np.arange(12), labels]))

    def step(damping):
        p, jac = probabilities(theta), _jacobian(theta, x, shape)
        hessian = np.stack([np.diag(row) - np.outer(row, row) for row in p]) / 12
        grad = (p - np.eye(3)[labels]) / 12
        a = 6 * np.einsum("nkp,nkl,nlq->pq", jac, hessian, jac)
        return -np.linalg.solve(a + damping * np.eye(len(theta)), 6 * np.einsum("nk,nkp->p", grad, jac))

    expected, damping = _first_accepted(theta, loss, step, 1e-1)
    model.fit(x, labels, epochs=1, verbose=0)
    np.testing.assert_allclose(_theta(model), expected, rtol=1e-9, atol=1e-10)
    assert model.optimizer.current_damping == pytest.approx(damping)


def _sine(n=40):
    x = np.linspace(-1.0, 1.0, n).reshape(-1, 1)
    return x, np.sin(np.pi * x)


def test_sine_fit_converges_to_the_minimum_scipy_least_squares_lm_finds(float64):
    """The classic 1-10-1 tanh fit, from the same weights: the minimum MINPACK's LM converges to.

    A small l2 penalty (extra residuals ``sqrt(n * l2) * w`` for scipy) makes the minimum isolated, so both
    runs truly converge; without it the 31 weights have flat valleys both methods creep along for thousands
    of iterations.
    """
    shape, l2, rng = (1, 10, 1), 1e-3, np.random.default_rng(2)
    x = np.linspace(-1.0, 1.0, 60).reshape(-1, 1)
    y = np.sin(np.pi * x)
    model = _model(shape, kernel_regularizer=nnkit.regularizers.L2(l2))
    model.layers[-1].kernel_regularizer = nnkit.regularizers.L2(l2)
    model.compile(optimizer="levenberg_marquardt", loss="mse")
    model.build((None, 1))
    model.set_weights([rng.normal(0, 1, (1, 10)), np.zeros(10), rng.normal(0, 0.3, (10, 1)), np.zeros(1)])
    theta = _theta(model)
    kernels = np.r_[np.ones(10), np.zeros(10), np.ones(10), 0.0].astype(bool)
    scale = np.sqrt(len(x) * l2)
    reference = scipy.optimize.least_squares(
        lambda t: np.r_[_forward(t, x, shape)[:, 0] - y[:, 0], scale * t[kernels]], theta,
        jac=lambda t: np.r_[_jacobian(t, x, shape)[:, 0, :], scale * np.eye(len(t))[kernels]], method="lm")
    assert reference.success
    history = model.fit(x, y, epochs=100, verbose=0).history["loss"]
    assert float(model.evaluate(x, y, verbose=0)) == pytest.approx(np.sum(reference.fun**2) / len(x), rel=1e-6)
    assert all(b <= a for a, b in itertools.pairwise(history))  # full-batch LM never raises the loss


def test_one_epoch_is_one_step_unless_fit_gets_a_batch_size():
    x, y = _sine(40)

    class Steps(Callback):
        count = 0

        def on_train_batch_end(self, batch, logs=None):
            Steps.count += 1

    model = _model((1, 4, 1))
    model.compile(optimizer="levenberg_marquardt", loss="mse")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[Steps()])
    assert (Steps.count, model.optimizer.iterations) == (3, 3)
    Steps.count = 0
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[Steps()])
    assert (Steps.count, model.optimizer.iterations) == (6, 9)  # 3 minibatches (16, 16, 8) per epoch


def _trained_then_resumed(tmp_path, optimizer):
    x, y = _sine(30)
    model = _model((1, 5, 1))
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, epochs=3, verbose=0)
    model.save(tmp_path / "mid.nnkit")
    model.fit(x, y, epochs=3, verbose=0)
    resumed = nnkit.models.load_model(tmp_path / "mid.nnkit")
    return model, resumed, resumed.fit(x, y, epochs=3, verbose=0)


def test_save_and_load_mid_training_resumes_identically(tmp_path):
    model, resumed, _ = _trained_then_resumed(tmp_path, LevenbergMarquardt(damping=0.5))
    saved = nnkit.models.load_model(tmp_path / "mid.nnkit")
    assert saved.optimizer.current_damping != 0.5  # the damping moved, and the file kept where it was
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.current_damping == model.optimizer.current_damping
    assert resumed.optimizer.get_config() == model.optimizer.get_config()


class _Epochs(Callback):
    """Records the epochs trained; raises (as a crash would) when it reaches ``crash_at``."""

    def __init__(self, crash_at=None):
        super().__init__()
        self.crash_at, self.epochs = crash_at, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.crash_at:
            raise KeyboardInterrupt
        self.epochs.append(epoch)


def test_backup_and_restore_resumes_exactly(tmp_path):
    x, y = _sine(30)

    def run(seed, *callbacks):
        nnkit.utils.set_random_seed(seed)
        model = _model((1, 5, 1))
        model.compile(optimizer=LevenbergMarquardt(damping=1.0), loss="mse")
        model.fit(x, y, epochs=8, verbose=0, callbacks=list(callbacks))
        return model

    reference = run(7)
    with pytest.raises(KeyboardInterrupt):
        run(7, BackupAndRestore(tmp_path / "backup"), _Epochs(crash_at=4))
    epochs = _Epochs()
    resumed = run(8, BackupAndRestore(tmp_path / "backup"), epochs)  # other initial weights: the backup's win
    assert epochs.epochs == [4, 5, 6, 7]
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.current_damping == reference.optimizer.current_damping


def test_a_network_too_large_gets_a_clear_error_before_training():
    model = nnkit.Sequential([nnkit.Input((20,)), Dense(300, activation="tanh"), Dense(1)])  # 6,601 weights
    model.compile(optimizer="levenberg_marquardt", loss="mse")
    x, y = np.zeros((4, 20), "float32"), np.zeros((4, 1), "float32")
    with pytest.raises(ConfigError, match=r"6,601 trainable weights .* max_params=5,000\. Use optimizer='lbfgs' or 'adam'"):
        model.fit(x, y, epochs=1, verbose=0)
    small = _model((1, 10, 1))
    small.compile(optimizer=LevenbergMarquardt(memory_budget=10_000), loss="mse")
    with pytest.raises(ConfigError, match=r"31 trainable weights .* memory_budget=10,000 bytes"):
        small.fit(np.zeros((4, 1)), np.zeros((4, 1)), epochs=1, verbose=0)


def test_what_the_gauss_newton_step_cannot_see_is_refused():
    model = nnkit.Sequential([nnkit.Input((1,)), Dense(3, activity_regularizer="l2"), Dense(1)])
    model.compile(optimizer="levenberg_marquardt", loss="mse")
    with pytest.raises(ConfigError, match=r"has an activity_regularizer.*Use optimizer='lbfgs'"):
        model.fit(np.zeros((4, 1)), np.zeros((4, 1)), epochs=1, verbose=0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"damping": 0}, "`damping` to be a positive number"),
    ({"damping_increase": 1.0}, "`damping_increase` > 1"),
    ({"damping_decrease": 1.5}, r"`damping_decrease` in \(0, 1\)"),
    ({"max_params": 0}, "`max_params` to be a positive int"),
    ({"clipnorm": 1.0}, "does not support `clipnorm`"),
    ({"learning_rate": 0.1}, "has no learning rate"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LevenbergMarquardt(**kwargs)


def test_names_configs_and_estimators_reach_it():
    from nnkit.runs import specs
    from nnkit.wrappers import KerasRegressor

    optimizer = nnkit.optimizers.get("levenberg_marquardt")
    assert isinstance(optimizer, LevenbergMarquardt) and isinstance(nnkit.optimizers.get("lm"), LevenbergMarquardt)
    config = LevenbergMarquardt(damping=0.01, max_params=100).get_config()
    assert LevenbergMarquardt.from_config(config).get_config() == config
    assert nnkit.optimizers.deserialize(nnkit.optimizers.serialize(LevenbergMarquardt(damping=0.2))).damping == 0.2
    from_yaml = specs.make_optimizer({"type": "levenberg_marquardt", "damping": 0.05})
    assert isinstance(from_yaml, LevenbergMarquardt) and from_yaml.damping == 0.05
    x, y = _sine(60)
    estimator = KerasRegressor(layers=[Dense(8, activation="tanh")], optimizer="levenberg_marquardt", loss="mse",
                               epochs=60, verbose=0).fit(x, y.ravel())
    assert estimator.score(x, y.ravel()) > 0.99
