"""Mixed precision policies: float32 weights, low-precision compute, float32 losses and outputs."""

import numpy as np
import pytest
import torch

import nnkit
from nnkit import mixed_precision
from nnkit.errors import ConfigError
from nnkit.layers import Dense
from nnkit.models import Sequential


@pytest.fixture(autouse=True)
def _restore_policy():
    yield
    mixed_precision.set_global_policy(None)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(96, 6)).astype("float32"), rng.integers(0, 3, 96)


def _model(seed=0):
    nnkit.utils.set_random_seed(seed)
    model = Sequential([Dense(8, activation="relu", input_dim=6), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("name", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_policies_have_keras_dtypes(name):
    keras = pytest.importorskip("keras")
    theirs = keras.mixed_precision.Policy(name)
    ours = mixed_precision.Policy(name)
    assert (ours.compute_dtype, ours.variable_dtype) == (theirs.compute_dtype, theirs.variable_dtype)


def test_unknown_policy_names_get_a_suggestion():
    with pytest.raises(ConfigError, match="Did you mean 'mixed_bfloat16'"):
        mixed_precision.set_global_policy("mixed_bfloat61")
    assert mixed_precision.global_policy().name == "float32"


def test_bfloat16_computes_in_bfloat16_and_keeps_float32_weights(data):
    x, y = data
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model()
    seen = []
    model.build()
    model.module[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert set(seen) == {torch.bfloat16}
    assert all(w.dtype == torch.float32 for w in model.weights)
    assert np.isfinite(history.history["loss"]).all()
    # predict: the same computation as the module under autocast, returned as float32
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model.module(torch.from_numpy(x).to(model.device)).float().cpu().numpy()
    outputs = model.predict(x, verbose=0)
    assert outputs.dtype == np.float32
    np.testing.assert_array_equal(outputs, expected)


def test_bfloat16_training_follows_float32_training_closely(data):
    x, y = data
    full = _model().fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0).history["loss"]
    mixed_precision.set_global_policy("mixed_bfloat16")
    mixed = _model().fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0).history["loss"]
    assert mixed != full  # it really ran in another precision ...
    np.testing.assert_allclose(mixed, full, rtol=2e-2)  # ... and learned the same


def test_the_policy_in_effect_at_compile_time_is_the_models(data):
    x, _ = data
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model()
    mixed_precision.set_global_policy("float32")
    model.build()
    with torch.no_grad():
        exact = model.module(torch.from_numpy(x).to(model.device)).cpu().numpy()
    assert not np.array_equal(model.predict(x, verbose=0), exact)


def test_float16_scales_the_loss_and_skips_steps_whose_gradients_overflow(data):
    x, y = data
    mixed_precision.set_global_policy("mixed_float16")
    model = _model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", loss_weights=1e30)
    before = model.get_weights()
    model.fit(x[:32], y[:32], epochs=1, batch_size=32, verbose=0)
    scaler = model._loop.steps.scaler
    assert isinstance(scaler, torch.amp.GradScaler) and scaler.get_scale() < 2.0**16  # overflow halved it
    assert model.optimizer.iterations == 0
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert model.optimizer.iterations > 0 and np.isfinite(history.history["loss"]).all()


def test_auto_scale_loss_false_trains_float16_without_a_scaler(data):
    x, y = data
    mixed_precision.set_global_policy("mixed_float16")
    model = _model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", auto_scale_loss=False)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert model._loop.steps.scaler is None
    assert model.optimizer.iterations == 3  # every step applied, none skipped for an overflow check


def test_a_saved_model_keeps_the_policy_it_was_compiled_with(data, tmp_path):
    x, y = data
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert model.get_compile_config()["dtype_policy"] == "mixed_bfloat16"
    model.save(tmp_path / "mixed.keras")
    mixed_precision.set_global_policy("float32")
    loaded = nnkit.models.load_model(tmp_path / "mixed.keras")
    assert loaded._compile_args["policy"].name == "mixed_bfloat16"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("dtype", ["float64", "mixed_float16", "bfloat16"])
def test_a_per_layer_dtype_nnkit_cannot_honour_is_refused(dtype):
    with pytest.raises(ConfigError, match=f"Layer 'out': dtype='{dtype}' per layer is not supported.*set_global_policy"):
        Dense(3, dtype=dtype, name="out")


def test_keras_float32_output_layer_idiom_is_accepted(data):
    """Keras's mixed-precision guide keeps the last layer in float32; nnkit's outputs are float32 anyway."""
    x, _ = data
    mixed_precision.set_global_policy("mixed_bfloat16")
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}
    model = Sequential([nnkit.layers.Input((6,), dtype="int32"), Dense(8, activation="relu"),
                        Dense(3, activation="softmax", dtype="float32"), Dense(3, dtype=policy)])
    model.compile(optimizer="adam", loss="mse")
    assert model.predict(x, verbose=0).dtype == np.float32
