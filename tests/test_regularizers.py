"""Regularizers compute Keras's penalties and accept the tutorial spelling Regularizer('l2', f)."""

from __future__ import annotations

import pytest
import torch

from nnkit import regularizers
from nnkit.errors import ConfigError
from nnkit.regularizers import L1, L1L2, L2, Regularizer

W = torch.tensor([[1.0, -2.0], [3.0, -4.0]])


def test_penalties_by_hand():
    assert L1(0.1)(W).item() == pytest.approx(1.0)
    assert L2(0.1)(W).item() == pytest.approx(3.0)
    assert L1L2(l1=0.1, l2=0.1)(W).item() == pytest.approx(4.0)
    assert L1L2()(W).item() == 0.0


def test_string_defaults_are_keras_defaults(keras):
    assert regularizers.get("l2").l2 == pytest.approx(keras.regularizers.get("l2").get_config()["l2"])
    assert regularizers.get("l1").l1 == pytest.approx(keras.regularizers.get("l1").get_config()["l1"])


def test_tutorial_spelling_builds_the_named_regularizer():
    reg = Regularizer("l2", 0.01)
    assert isinstance(reg, L2) and reg.l2 == 0.01
    assert isinstance(Regularizer("l1_l2", l1=0.1, l2=0.2), L1L2)
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}).l2 == 0.5


def test_bad_factors_and_names():
    with pytest.raises(ConfigError, match="non-negative"):
        L2(-1)
    with pytest.raises(ConfigError, match="Did you mean 'l2'"):
        Regularizer("l22", 0.1)


def test_a_zero_factor_trains_exactly_like_no_regularizer():
    import numpy as np

    import nnkit
    from nnkit.layers import Dense
    from nnkit.models import Sequential

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 4)).astype("float32"), rng.normal(size=(48, 1)).astype("float32")

    def trained(regularizer):
        nnkit.utils.set_random_seed(0)
        model = Sequential([Dense(5, activation="tanh", input_dim=4, kernel_regularizer=regularizer), Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        loss = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history["loss"]
        return loss, model.get_weights()

    plain, zero, real = trained(None), trained(nnkit.regularizers.L2(0.0)), trained(nnkit.regularizers.L2(0.1))
    assert zero[0] == plain[0] and real[0] != plain[0]
    for a, b in zip(zero[1], plain[1]):
        np.testing.assert_array_equal(a, b)


def test_only_built_in_penalties_with_every_factor_zero_are_zero():
    assert L2(0.0).is_zero and L1(0.0).is_zero and L1L2(0.0, 0.0).is_zero
    assert not (L2(0.1).is_zero or L1(0.1).is_zero or L1L2(0.0, 0.1).is_zero or L1L2(0.1, 0.0).is_zero)

    class Custom(Regularizer):
        def __call__(self, weight):
            return weight.sum() * 0.0

    assert not Custom().is_zero  # nnkit cannot know a custom penalty is zero


def test_layer_losses_hold_the_activity_and_weight_penalties_like_keras(keras):
    """``layer.losses`` after an eager call: the activity penalty of that call (divided by the batch size),
    then the weight penalties; a model lists its layers' penalties the same way."""
    import numpy as np

    import nnkit

    values = {}
    for lib in (keras, nnkit):
        layer = lib.layers.Dense(5, kernel_initializer="ones", kernel_regularizer=lib.regularizers.L1(0.01),
                                 activity_regularizer=lib.regularizers.L2(0.01))
        layer(np.full((4, 5), 2.0, dtype="float32"))
        eager = [float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses]
        model = lib.Sequential([lib.Input((5,)), layer,
                                lib.layers.Dense(2, kernel_initializer="ones", kernel_regularizer="l2")])
        model(np.ones((3, 5), dtype="float32"))
        values[lib] = [eager, [float(keras.ops.convert_to_numpy(loss)) for loss in model.losses]]
    for ours, theirs in zip(values[nnkit], values[keras], strict=True):
        assert ours == pytest.approx(theirs, rel=1e-6)
    assert values[nnkit][0] == pytest.approx([5.0, 0.25])  # L2(0.01) of 10s over 4 samples; L1(0.01) of 25 ones


def test_layer_losses_carry_gradients_and_skip_frozen_weights():
    import nnkit

    layer = nnkit.layers.Dense(3, kernel_regularizer="l2")
    layer(torch.ones(2, 4))
    (penalty,) = layer.losses
    penalty.backward()
    assert layer.trainable_weights[0].grad is not None
    layer.trainable = False
    assert layer.losses == []  # Keras counts only trainable weights
