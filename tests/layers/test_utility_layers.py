"""Lambda and TorchModule: any function or torch module can be a layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import nnkit
from nnkit.layers import Dense, Flatten, Input, Lambda, TorchModule
from nnkit.models import Sequential
from tests.helpers import assert_close
from tests.layers.parity import keras_output, nnkit_model, nnkit_output


# -- Lambda ----------------------------------------------------------------------------------------------------
def test_lambda_infers_its_output_shape_and_matches_keras(keras, rng):
    model = nnkit_model(Lambda(lambda t: torch.cat([t, t**2], dim=-1)), (3, 4))
    assert model.output_shape == (None, 3, 8)
    x = rng.normal(size=(2, 3, 4))
    k_layer = keras.layers.Lambda(lambda t: keras.ops.concatenate([t, t**2], axis=-1))
    assert_close(nnkit_output(model, x), keras_output(keras, k_layer, x), rtol=1e-6)


def test_lambda_output_shape_as_tuple_or_function_like_keras():
    fixed = nnkit_model(Lambda(lambda t: t.sum(dim=1), output_shape=(4,)), (3, 4))
    assert fixed.output_shape == (None, 4)
    computed = nnkit_model(Lambda(lambda t: t.flatten(1), output_shape=lambda s: (s[0], s[1] * s[2])), (3, 4))
    assert computed.output_shape == (None, 12)


def test_lambda_passes_arguments_and_the_training_flag(rng):
    seen: list[bool] = []

    def scale(t, factor, training=None):
        seen.append(training)
        return t * factor

    model = nnkit_model(Lambda(scale, arguments={"factor": 3.0}), (2,))
    x = rng.normal(size=(4, 2))
    assert_close(nnkit_output(model, x, training=True), 3 * x, rtol=1e-6)
    assert seen == [False, True]  # the shape-inference call runs in inference mode


def test_lambda_trains_inside_a_model(rng):
    model = Sequential([Input(shape=(4,)), Dense(8), Lambda(torch.tanh), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(64, 4))
    history = model.fit(x, x[:, :1], epochs=5, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert model.layers[1].count_params() == 0


def test_lambda_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"Lambda layer 'boom' could not infer its output shape .*"
                                         r"ZeroDivisionError.*Pass output_shape="):
        nnkit_model(Lambda(lambda t: 1 / 0, name="boom"), (3,))
    with pytest.raises(ValueError, match=r"must keep the batch axis first: called on a batch of 2 samples it "
                                         r"returned shape \(\)"):
        nnkit_model(Lambda(lambda t: t.sum()), (3,))
    with pytest.raises(ValueError, match=r"must return one tensor per call. Received an object of type tuple"):
        nnkit_model(Lambda(lambda t: (t, t)), (3,))
    with pytest.raises(ValueError, match=r"Lambda expects a callable `function`. Received: 3"):
        Lambda(3)
    with pytest.raises(ValueError, match=r"`output_shape` to be the shape of one output sample .* Received: "
                                         r"output_shape=\(0,\)"):
        Lambda(torch.tanh, output_shape=(0,))


# -- TorchModule ------------------------------------------------------------------------------------------------
def test_sequential_add_wraps_a_torch_module_and_trains_it(rng):
    linear = nn.Linear(4, 3)
    model = Sequential([Input(shape=(4,))])
    model.add(linear)
    model.add(nn.ReLU())
    model.add(Dense(1))
    assert [type(layer).__name__ for layer in model.layers] == ["TorchModule", "TorchModule", "Dense"]
    assert model.module[0] is linear  # the user's module itself, not a copy
    assert model.output_shape == (None, 1) and model.count_params() == 4 * 3 + 3 + 3 + 1
    before = linear.weight.detach().clone()
    model.compile(optimizer="adam", loss="mse")
    model.fit(rng.normal(size=(32, 4)), rng.normal(size=(32, 1)), epochs=2, verbose=0)
    assert not torch.equal(before, linear.weight)


def test_frozen_torch_module_keeps_its_weights(rng):
    layer = TorchModule(nn.Linear(4, 4), trainable=False)
    model = Sequential([Input(shape=(4,)), layer, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in layer.get_weights()]
    model.fit(rng.normal(size=(32, 4)), rng.normal(size=(32, 1)), epochs=1, verbose=0)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_channels_first_torch_modules_get_channels_at_axis_1_from_channels_last_data(rng):
    conv = nn.Conv2d(3, 8, 3)
    model = Sequential([Input(shape=(10, 10, 3)), TorchModule(conv, channels_first=True),
                        TorchModule(nn.MaxPool2d(2), channels_first=True), Flatten()])
    model.build()
    assert model.layers[0].output_shape == (8, 8, 8) and model.layers[1].output_shape == (4, 4, 8)
    assert [type(m).__name__ for m in model.module] == ["MoveChannels", "Conv2d", "MaxPool2d", "MoveChannels",
                                                        "Flatten"]
    x = torch.as_tensor(rng.normal(size=(2, 10, 10, 3)), dtype=torch.float32)
    expected = nn.functional.max_pool2d(conv(x.permute(0, 3, 1, 2)), 2).permute(0, 2, 3, 1).flatten(1)
    assert_close(model(x), expected, rtol=1e-5)


def test_channels_first_data_format_needs_no_moves():
    nnkit.config.set_image_data_format("channels_first")
    try:
        model = Sequential([Input(shape=(3, 10, 10)), TorchModule(nn.Conv2d(3, 8, 3), channels_first=True)])
        assert model.output_shape == (None, 8, 8, 8)
        assert [type(m).__name__ for m in model.module] == ["Conv2d"]
    finally:
        nnkit.config.set_image_data_format("channels_last")


def test_modules_returning_tuples_pass_on_their_first_output(rng):
    model = Sequential([Input(shape=(7, 3)), TorchModule(nn.LSTM(3, 5, batch_first=True)), Flatten(), Dense(2)])
    model.build()
    assert model.layers[0].output_shape == (7, 5)
    model.compile(optimizer="adam", loss="mse")
    model.fit(rng.normal(size=(16, 7, 3)), rng.normal(size=(16, 2)), epochs=1, verbose=0)


def test_shape_inference_leaves_running_statistics_and_mode_alone():
    bn = nn.BatchNorm1d(4)
    bn.train()
    nnkit_model(TorchModule(bn), (4,))
    assert bn.training and int(bn.num_batches_tracked) == 0
    assert torch.equal(bn.running_mean, torch.zeros(4))


def test_given_output_shape_skips_the_test_call():
    calls: list[int] = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x

    model = nnkit_model(TorchModule(Counting(), output_shape=(5,)), (5,))
    assert model.output_shape == (None, 5) and calls == []


def test_torch_module_errors():
    with pytest.raises(ValueError, match=r"TorchModule expects a torch.nn.Module. Received: .*tanh.* use Lambda\(fn\)"):
        TorchModule(torch.tanh)
    with pytest.raises(ValueError, match=r"TorchModule layer 'torch_module' \(Linear\) could not infer its output "
                                         r"shape .*mat1 and mat2 shapes cannot be multiplied"):
        nnkit_model(TorchModule(nn.Linear(3, 2)), (4,))
    with pytest.raises(TypeError, match=r"Sequential.add expects an nnkit layer such as Dense\(10\). Received: 'dense'"):
        Sequential().add("dense")


def test_repr_shows_the_wrapped_module():
    assert repr(TorchModule(nn.ReLU())) == "TorchModule(ReLU())"
    assert "channels_first=True" in repr(TorchModule(nn.MaxPool2d(2), channels_first=True))


def test_a_model_rebuilt_from_its_config_gets_its_own_fresh_module():
    linear = nn.Linear(4, 2)
    model = Sequential([Input(shape=(4,)), TorchModule(linear)])
    clone = Sequential.from_config(model.get_config())
    clone.build()
    copied = clone.module[0]
    assert isinstance(copied, nn.Linear) and copied is not linear
    assert not torch.equal(copied.weight, linear.weight)  # re-initialized, as a Keras clone would be
