"""Core layers: Input, Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import activations, config, constraints, initializers, regularizers
from nnkit.errors import ConfigError
from nnkit.layers import symbolic
from nnkit.layers.base import LAYERS, Layer, Shape, regularizer_terms
from nnkit.layers.containers import MoveChannels


@LAYERS.register("input_layer", aliases=("input", "InputLayer"))
class InputLayer(Layer):
    """The source of a model's input: declares its per-sample shape and dtype; builds no module.

    ``keras.Input(...)`` gives this layer's symbolic output, which is what users pass around.

    Args:
        shape: Shape of one sample without the batch axis, e.g. ``(20,)``, ``(28, 28, 1)``, or
            ``(None, 8)`` for sequences of any length.
        batch_size: Accepted for Keras compatibility and ignored.
        dtype: The dtype of the data, e.g. ``'int32'`` for token ids (default ``'float32'``).
    """

    checks_dtype = False  # the dtype of the data (Keras's Input(dtype="int32")), not a compute dtype

    def __init__(self, shape: Shape | None = None, batch_size: int | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        if shape is None and "input_shape" not in kwargs and "batch_shape" not in kwargs \
                and "batch_input_shape" not in kwargs:
            raise ConfigError("Input needs a `shape`, e.g. Input(shape=(20,)).")
        if "batch_shape" in kwargs:
            kwargs["batch_input_shape"] = kwargs.pop("batch_shape")
        super().__init__(name=name, input_shape=shape if shape is not None else kwargs.pop("input_shape", None),
                         **kwargs)
        dtype = kwargs.get("dtype") or "float32"
        self.data_dtype = dtype if isinstance(dtype, str) else str(dtype).replace("torch.", "")
        symbolic.record(self, (), {}, self.declared_input_shape, self.data_dtype)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.Identity(), input_shape


def Input(shape: Shape | None = None, batch_size: int | None = None, dtype: Any = None, sparse: Any = None,
          batch_shape: Any = None, name: str | None = None, **kwargs: Any) -> symbolic.KerasTensor:
    """A symbolic model input: ``inputs = Input(shape=(20,))``, then ``Model(inputs, outputs)``; also
    the first entry of a ``Sequential`` list.

    Args:
        shape: Shape of one sample (no batch axis); ``None`` for sizes that vary (``(None,)`` for
            token ids of any length).
        dtype: The dtype of the data (``'float32'``; ``'int32'`` or ``'int64'`` for ids).
        name: The input's name: the key of ``x`` when a model is fed a dict.
    """
    if sparse:
        raise ConfigError("Input(sparse=True) is not supported; nnkit feeds dense tensors.")
    if batch_shape is not None:
        kwargs["batch_shape"] = batch_shape
    layer = InputLayer(shape=shape, batch_size=batch_size, name=name, dtype=dtype, **kwargs)
    return layer.output


@LAYERS.register("identity")
class Identity(Layer):
    """Returns its input unchanged (a placeholder in graphs)."""

    layout = "any"

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.Identity(), input_shape


def _positive_int(value: Any, arg: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{layer} expects `{arg}` to be a positive int. Received: {arg}={value!r}.")
    return int(value)


def _with_activation(module: nn.Module, activation: Any) -> nn.Module:
    act = activations.module(activation)
    if act is None:
        return module
    return nn.Sequential(OrderedDict([("linear", module), ("activation", act)]))


@LAYERS.register("dense")
class Dense(Layer):
    """Fully connected layer: ``activation(x @ kernel + bias)`` on the last axis.

    Args:
        units: Number of outputs.
        activation: Activation name or callable; ``None`` means linear.
        use_bias: Whether to add a bias.
        kernel_initializer: Initializer of the kernel (Keras default ``'glorot_uniform'``).
        bias_initializer: Initializer of the bias (default ``'zeros'``).
        kernel_regularizer: Penalty on the kernel added to the loss, e.g. ``'l2'`` or ``L2(0.01)``.
        bias_regularizer: Penalty on the bias.
        kernel_constraint: Projection applied to the kernel after every optimizer step, e.g.
            ``'max_norm'`` or ``MaxNorm(3)``; it sees the kernel in Keras layout ``(inputs, units)``.
        bias_constraint: Projection applied to the bias after every optimizer step.

    Example:
        >>> Dense(64, activation="relu", input_dim=20)
        Dense(units=64, activation='relu', input_dim=20)
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units", "Dense")
        activations.get(activation)  # fail on unknown names now, not at build time
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        regularizer_terms([(torch.empty(0), kernel_regularizer), (torch.empty(0), bias_regularizer)])
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def linear(self) -> nn.Linear:
        """The ``nn.Linear`` inside the built module."""
        return self.module if isinstance(self.module, nn.Linear) else self.module.linear  # type: ignore[union-attr, return-value]

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if not input_shape:
            raise ConfigError(f"Dense layer '{self.name}' needs inputs with at least one feature axis.")
        linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias, dtype=config.float_dtype())
        self.kernel_initializer(linear.weight)
        if self.use_bias:
            self.bias_initializer(linear.bias)
        return _with_activation(linear, self.activation), (*input_shape[:-1], self.units)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        linear = self.linear
        kernel = regularizers.in_keras_layout(self.kernel_regularizer, (1, 0))
        return regularizer_terms([(linear.weight, kernel), (linear.bias, self.bias_regularizer)])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        linear = self.linear
        # nn.Linear stores the kernel as (units, inputs); the constraint expects Keras's (inputs, units).
        return constraints.constraint_terms([(linear.weight, constraints.permuted(self.kernel_constraint, (1, 0))),
                                             (linear.bias, self.bias_constraint)])

    def _to_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return array.T if index == 0 else array

    def _from_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return array.T if index == 0 else array


@LAYERS.register("activation")
class Activation(Layer):
    """Applies an activation function by name (``'relu'``) or callable."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        activations.get(activation)
        self.activation = activation

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return activations.module(self.activation) or nn.Identity(), input_shape


@LAYERS.register("dropout")
class Dropout(Layer):
    """Zeroes a fraction ``rate`` of inputs during training and rescales the rest.

    Args:
        rate: Fraction of inputs to drop, in ``[0, 1)``.
        noise_shape: Not supported (Keras's per-axis shared masks); must be ``None``.
        seed: Accepted for Keras compatibility; use ``nnkit.utils.set_random_seed``.
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(f"Dropout expects `rate` in [0, 1). Received: rate={rate!r}.")
        if noise_shape is not None:
            raise ConfigError("Dropout(noise_shape=...) is not supported; use SpatialDropout layers instead.")
        self.rate = float(rate)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.Dropout(self.rate), input_shape


@LAYERS.register("flatten")
class Flatten(Layer):
    """Flattens each sample to one axis: ``(batch, d1, d2, ...)`` -> ``(batch, d1 * d2 * ...)``.

    With ``data_format='channels_first'`` (or that global default) channels are moved last first, as
    Keras does, so the feature order (and Dense weights after it) match Keras.
    """

    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        flatten: nn.Module = nn.Flatten()
        if config.resolve_data_format(self.data_format) == "channels_first" and len(input_shape) >= 2:
            flatten = nn.Sequential(MoveChannels(to_first=False), flatten)
        return flatten, (math.prod(input_shape),)


class ReshapeModule(nn.Module):
    """Reshapes each sample to ``target_shape`` (torch has no module for this)."""

    def __init__(self, target_shape: Shape) -> None:
        super().__init__()
        self.target_shape = tuple(target_shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def extra_repr(self) -> str:
        return f"target_shape={self.target_shape}"


@LAYERS.register("reshape")
class Reshape(Layer):
    """Reshapes each sample to ``target_shape``; one entry may be ``-1``."""

    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, target_shape: Shape, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target = tuple(target_shape)
        if not target or any(not isinstance(d, int) or (d < 1 and d != -1) for d in target) or target.count(-1) > 1:
            raise ConfigError(
                "Reshape expects `target_shape` of positive ints with at most one -1. "
                f"Received: target_shape={target_shape!r}."
            )
        self.target_shape = target

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        target = tuple(size // known if d == -1 else d for d in self.target_shape)
        if math.prod(target) != size:
            raise ConfigError(
                f"Reshape layer '{self.name}' cannot reshape samples of shape {input_shape} ({size} values) "
                f"to {self.target_shape}."
            )
        return ReshapeModule(target), target


symbolic.PASS_DTYPE = (InputLayer, Identity)
