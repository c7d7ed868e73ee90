"""jit_compile=True: torch.compile'd steps that compute what eager steps compute, with a clean fallback."""

import warnings

import numpy as np
import pytest
import torch

import nnkit
from nnkit.errors import ConfigError
from nnkit.layers import Dense
from nnkit.models import Sequential


@pytest.fixture(autouse=True)
def compile_available(monkeypatch):
    """Each test starts in a process where torch.compile has not failed yet (the failure is remembered)."""
    monkeypatch.setattr(nnkit.training.acceleration, "_UNAVAILABLE", None)


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(64, 5)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")


def _fit(x, y, jit_compile):
    nnkit.utils.set_random_seed(0)
    model = Sequential([Dense(8, activation="tanh", input_dim=5), Dense(1)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    return model, history.history["loss"]


def test_compiled_training_and_prediction_match_eager(data):
    x, y = data
    eager, eager_losses = _fit(x, y, jit_compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a silent fallback to eager would warn: fail instead
        compiled, compiled_losses = _fit(x, y, jit_compile=True)
        predictions = compiled.predict(x, verbose=0)
    assert isinstance(compiled._loop.steps.forward, nnkit.training.acceleration.Compiled)
    assert compiled._loop.steps.forward.compiled is not None
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(predictions, eager.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_without_torch_compile_it_warns_once_and_runs_eagerly(data, monkeypatch):
    x, y = data

    def unavailable(fn, *args, **kwargs):
        raise RuntimeError("Dynamo is not supported on Python 3.99+")

    monkeypatch.setattr(torch, "compile", unavailable)
    with pytest.warns(RuntimeWarning, match="torch.compile is not available here.*runs uncompiled"):
        _, losses = _fit(x, y, jit_compile=True)
    assert losses == _fit(x, y, jit_compile=False)[1]


def test_a_backend_failure_at_the_first_call_falls_back(data, monkeypatch):
    x, y = data
    from torch._dynamo.exc import TorchDynamoException

    def broken_backend(fn, *args, **kwargs):
        def call(*a):
            raise TorchDynamoException("InvalidCxxCompiler: No working C++ compiler found")
        return call

    monkeypatch.setattr(torch, "compile", broken_backend)
    with pytest.warns(RuntimeWarning, match="No working C\\+\\+ compiler.*later models in this process"):
        _, losses = _fit(x, y, jit_compile=True)
    assert losses == _fit(x, y, jit_compile=False)[1]


def test_a_missing_compiler_is_remembered_so_later_models_neither_retry_nor_warn(data, monkeypatch):
    x, y = data
    from torch._dynamo.exc import BackendCompilerFailed

    attempts = []

    def no_compiler(fn, *args, **kwargs):
        def call(*a):
            attempts.append(1)
            raise BackendCompilerFailed("inductor", RuntimeError("InvalidCxxCompiler: No working C++ compiler"), None)
        return call

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(RuntimeWarning, match="later models in this process"):
        _fit(x, y, jit_compile=True)
    assert len(attempts) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, losses = _fit(x, y, jit_compile=True)  # a grid search's next candidate
        model.predict(x, verbose=0)
    assert len(attempts) == 1
    assert losses == _fit(x, y, jit_compile=False)[1]


def test_a_failure_of_one_model_does_not_stop_others_from_compiling(monkeypatch):
    from torch._dynamo.exc import TorchDynamoException

    def failing(fn, *args, **kwargs):
        def call(*a):
            raise TorchDynamoException("graph break this backend cannot handle")
        return call

    monkeypatch.setattr(torch, "compile", failing)
    first = nnkit.training.acceleration.Compiled(lambda t: t + 1, "model 'a'")
    with pytest.warns(RuntimeWarning, match="model 'a' runs uncompiled\\. "):
        assert first(torch.ones(1)).item() == 2
    assert nnkit.training.acceleration.Compiled(lambda t: t, "model 'b'").compiled is not None


def test_errors_of_the_model_itself_are_not_hidden(monkeypatch):
    from torch._dynamo.exc import TorchDynamoException

    def failing(fn, *args, **kwargs):
        def call(*a):
            raise TorchDynamoException("wrapped user error")
        return call

    def bad_forward(x):
        raise ValueError("the model's own bug")

    monkeypatch.setattr(torch, "compile", failing)
    compiled = nnkit.training.acceleration.Compiled(bad_forward, "model 'm'")
    with pytest.raises(ValueError, match="own bug"):
        compiled(torch.zeros(1))


def test_jit_compile_takes_only_true_false_or_auto():
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(ConfigError, match="jit_compile must be True, False or 'auto'"):
        model.compile(loss="mse", jit_compile="yes")
