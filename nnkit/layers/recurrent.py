"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU`` with Keras arguments, weights and masking.

Each builds a :class:`~nnkit.layers.recurrent_modules.RecurrentNetwork` around torch's fused
``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` kernel. ``get_weights`` / ``set_weights`` use Keras's layout and
order (``kernel (features, gates * units)``, ``recurrent_kernel (units, gates * units)``, ``bias``), so
``model.set_weights(keras_model.get_weights())`` works.

One documented difference: torch's LSTM and RNN kernels add two bias vectors (input and recurrent)
where Keras has one. nnkit loads Keras's bias into the input bias and keeps the recurrent one at zero
and frozen, so the layer computes and trains exactly like Keras's; ``summary()`` and ``count_params()``
count those zeros as ``units`` (SimpleRNN) or ``4 * units`` (LSTM) extra non-trainable parameters.
GRU needs no such note: Keras's ``reset_after=True`` GRU has both biases too, shape ``(2, 3 * units)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from nnkit import activations, config, constraints, initializers
from nnkit.errors import ConfigError, NotReadyError
from nnkit.layers.base import LAYERS, Layer, Shape, regularizer_terms
from nnkit.layers.recurrent_modules import GATES, RecurrentNetwork


def _positive_int(value: Any, arg: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{layer} expects `{arg}` to be a positive int. Received: {arg}={value!r}.")
    return int(value)


def _fraction(value: Any, arg: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{layer} expects `{arg}` to be a fraction in [0, 1). Received: {arg}={value!r}.")
    return float(value)


class RecurrentLayer(Layer):
    """Shared arguments, building and Keras weight layout of the recurrent layers (not used directly)."""

    #: ``'simple_rnn'``, ``'lstm'`` or ``'gru'``.
    kind: ClassVar[str]

    def __init__(self, units: int, *, activation: Any, recurrent_activation: Any, use_bias: bool,
                 kernel_initializer: Any, recurrent_initializer: Any, bias_initializer: Any,
                 kernel_regularizer: Any, recurrent_regularizer: Any, bias_regularizer: Any,
                 kernel_constraint: Any, recurrent_constraint: Any, bias_constraint: Any, dropout: float,
                 recurrent_dropout: float, return_sequences: bool, return_state: bool, go_backwards: bool,
                 stateful: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.units = _positive_int(units, "units", cls)
        activations.get(activation)  # unknown names fail here, not at build time
        activations.get(recurrent_activation)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        regularizer_terms([(torch.empty(0), r) for r in (kernel_regularizer, recurrent_regularizer, bias_regularizer)])
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _fraction(dropout, "dropout", cls)
        self.recurrent_dropout = _fraction(recurrent_dropout, "recurrent_dropout", cls)
        self.return_sequences, self.go_backwards = bool(return_sequences), bool(go_backwards)
        self.return_state = bool(return_state)
        if stateful:
            raise ConfigError(
                f"{cls}(stateful=True) is not supported: every batch starts from a zero state. Feed whole "
                "sequences, or carry the states yourself with return_state=True and layer(x, initial_state=...)."
            )

    # -- building ---------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> tuple[RecurrentNetwork, Any]:
        if len(input_shape) != 2:
            raise ConfigError(self._rank_message(input_shape))
        timesteps, features = input_shape
        module = RecurrentNetwork(
            self.kind, features, self.units, activation=activations.get(self.activation),
            recurrent_activation=activations.get(self.recurrent_activation), use_bias=self.use_bias,
            return_sequences=self.return_sequences, go_backwards=self.go_backwards, dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout, return_state=self.return_state, dtype=config.float_dtype(),
        )
        rnn = module.rnn
        self.kernel_initializer(rnn.weight_ih_l0)
        self.recurrent_initializer(rnn.weight_hh_l0)
        if self.use_bias:
            self.bias_initializer(rnn.bias_ih_l0)
            if self.kind == "gru":
                self.bias_initializer(rnn.bias_hh_l0)
            else:
                torch.nn.init.zeros_(rnn.bias_hh_l0)
        output_shape: Any = (timesteps, self.units) if self.return_sequences else (self.units,)
        if self.return_state:  # [output, h] or, for LSTM, [output, h, c]
            output_shape = [output_shape, *[(self.units,)] * (2 if self.kind == "lstm" else 1)]
        return module, output_shape

    def _rank_message(self, input_shape: Shape) -> str:
        received = (None, *input_shape)
        if len(input_shape) == 1:
            hint = (f"Add a feature axis (e.g. x.reshape(-1, {input_shape[0]}, 1)), start with an Embedding for "
                    "token ids, or set return_sequences=True on the recurrent layer before it.")
        elif len(input_shape) > 2:
            hint = "Merge the extra axes with Reshape((timesteps, features)), or wrap the layer in TimeDistributed."
        else:
            hint = "Reshape x to (samples, timesteps, features)."
        return (f"{type(self).__name__} layer '{self.name}' expects inputs of shape (batch, timesteps, features) "
                f"but received inputs of shape {received}. {hint}")

    @property
    def _frozen_bias(self) -> bool:
        """Whether torch's recurrent bias is a surplus vector nnkit keeps at zero (LSTM and SimpleRNN)."""
        return self.use_bias and self.kind != "gru"

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's weights (the surplus zero bias always stays frozen)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        Layer.trainable.fset(self, value)  # type: ignore[attr-defined]
        if self.module is not None and self._frozen_bias:
            self.module.rnn.bias_hh_l0.requires_grad_(False)

    # -- penalties and constraints ----------------------------------------------------------------------
    def _biases(self) -> list[Tensor]:
        rnn = self.module.rnn
        if not self.use_bias:
            return []
        return [rnn.bias_ih_l0, rnn.bias_hh_l0] if self.kind == "gru" else [rnn.bias_ih_l0]

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        """Penalties on the kernel, recurrent kernel and bias. Keras's l1/l2 penalties do not depend on
        the layout; a custom one sees torch's layout, and GRU's two bias halves separately."""
        rnn = self.module.rnn
        return regularizer_terms([(rnn.weight_ih_l0, self.kernel_regularizer),
                                  (rnn.weight_hh_l0, self.recurrent_regularizer),
                                  *((bias, self.bias_regularizer) for bias in self._biases())])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        """Constraints see the kernels in Keras layout ``(inputs, gates * units)``; GRU's gates keep
        torch's order (r, z, n), which column- or row-wise constraints do not notice."""
        rnn = self.module.rnn
        return constraints.constraint_terms([(rnn.weight_ih_l0, constraints.permuted(self.kernel_constraint, (1, 0))),
                                             (rnn.weight_hh_l0, constraints.permuted(self.recurrent_constraint, (1, 0))),
                                             *((bias, self.bias_constraint) for bias in self._biases())])

    # -- weights in Keras layout ------------------------------------------------------------------------
    def _gate_order(self, array: np.ndarray, axis: int) -> np.ndarray:
        """Swap GRU's first two gate blocks between torch (r, z, n) and Keras (z, r, h); self-inverse."""
        if self.kind != "gru":
            return array
        r, z, n = np.split(array, 3, axis=axis)
        return np.concatenate([z, r, n], axis=axis)

    def _keras_shapes(self) -> list[tuple[tuple[int, ...], str]]:
        width = GATES[self.kind] * self.units
        shapes = [((self.input_shape[-1], width), "kernel"), ((self.units, width), "recurrent_kernel")]
        if self.use_bias:
            shapes.append(((2, width) if self.kind == "gru" else (width,), "bias"))
        return shapes

    def get_weights(self) -> list[np.ndarray]:
        """``[kernel, recurrent_kernel, bias]`` in Keras layout and gate order."""
        if self.module is None:
            return []
        rnn = self.module.rnn
        numpy = lambda t: t.detach().cpu().numpy()  # noqa: E731
        weights = [np.ascontiguousarray(self._gate_order(numpy(w), 0).T) for w in (rnn.weight_ih_l0, rnn.weight_hh_l0)]
        if self.use_bias:
            b_ih, b_hh = numpy(rnn.bias_ih_l0), numpy(rnn.bias_hh_l0)
            if self.kind == "gru":
                weights.append(np.stack([self._gate_order(b_ih, 0), self._gate_order(b_hh, 0)]))
            else:
                weights.append(b_ih + b_hh)
        return weights

    def set_weights(self, weights: list[Any]) -> None:
        """Load ``[kernel, recurrent_kernel, bias]`` given in Keras layout (as Keras's get_weights returns)."""
        if self.module is None:
            raise NotReadyError(f"Layer '{self.name}' is not built yet; build the model before set_weights.")
        shapes = self._keras_shapes()
        if len(weights) != len(shapes):
            raise ConfigError(
                f"{type(self).__name__} layer '{self.name}' has {len(shapes)} weight arrays "
                f"({', '.join(label for _, label in shapes)}) but set_weights received {len(weights)}."
            )
        arrays = [np.asarray(w) for w in weights]
        for array, (shape, label) in zip(arrays, shapes):
            if tuple(array.shape) != shape:
                raise ConfigError(
                    f"{type(self).__name__} layer '{self.name}' expects its {label} with shape {shape} (Keras "
                    f"layout) but received an array of shape {tuple(array.shape)}."
                )
        rnn = self.module.rnn
        targets = [(rnn.weight_ih_l0, self._gate_order(arrays[0].T, 0)),
                   (rnn.weight_hh_l0, self._gate_order(arrays[1].T, 0))]
        if self.use_bias:
            if self.kind == "gru":
                targets += [(rnn.bias_ih_l0, self._gate_order(arrays[2][0], 0)),
                            (rnn.bias_hh_l0, self._gate_order(arrays[2][1], 0))]
            else:
                targets += [(rnn.bias_ih_l0, arrays[2]), (rnn.bias_hh_l0, np.zeros_like(arrays[2]))]
        with torch.no_grad():
            for target, array in targets:
                target.copy_(torch.as_tensor(np.ascontiguousarray(array), dtype=target.dtype))


_COMMON_ARGS = """
    Other arguments (as in Keras):
        use_bias: Whether the layer has a bias.
        kernel_initializer: Initializer of the input kernel (Keras default ``'glorot_uniform'``).
        recurrent_initializer: Initializer of the recurrent kernel (default ``'orthogonal'``).
        bias_initializer: Initializer of the bias (default ``'zeros'``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties added to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Projections after each optimizer step.
        dropout: Fraction of the input features dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of the state dropped in the recurrent projection while training.
            Torch's fused kernels cannot do this, so training with it runs a step-by-step loop (slower);
            evaluation and prediction stay fused.
        return_sequences: Return every step ``(batch, timesteps, units)`` instead of the last ``(batch, units)``.
        return_state: Also return the final states: ``[output, h]`` (``[output, h, c]`` for LSTM), e.g. an
            encoder's states for a decoder in a functional model.
        go_backwards: Process the sequence in reverse (outputs in the reversed order, as in Keras).
        stateful: Must be ``False`` (each batch starts from a zero state).
        unroll: Accepted for Keras compatibility and ignored.
        seed: Accepted for Keras compatibility; seed with ``nnkit.utils.set_random_seed``.

    Masks from ``Embedding(mask_zero=True)`` or ``Masking`` are honoured as in Keras: masked steps are
    skipped, whether the padding comes first (``pad_sequences``'s default) or last. ``layer(x,
    initial_state=[h])`` (``[h, c]`` for LSTM) starts from given states instead of zeros.
"""


@LAYERS.register("simple_rnn")
class SimpleRNN(RecurrentLayer):
    """Fully connected recurrent layer: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``.

    Uses torch's fused ``nn.RNN`` for ``'tanh'`` (the default) and ``'relu'``; other activations run a
    step-by-step loop over the same weights. Torch keeps a second, zero bias (see the module notes).

    Args:
        units: Size of the state and of each output step.
        activation: Activation (default ``'tanh'``; ``None`` means linear).
    """

    kind = "simple_rnn"

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(
            units, activation=activation, recurrent_activation=None, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
            stateful=stateful, **kwargs)


@LAYERS.register("lstm")
class LSTM(RecurrentLayer):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), Keras's equations and gate order.

    Uses torch's fused ``nn.LSTM`` for the default activations (``tanh`` / ``sigmoid``); others run a
    step-by-step loop over the same weights. Torch keeps a second, zero bias (see the module notes), so
    ``count_params()`` is Keras's count plus ``4 * units`` frozen zeros.

    Args:
        units: Size of the state and of each output step.
        activation: Cell and output activation (default ``'tanh'``).
        recurrent_activation: Gate activation (default ``'sigmoid'``).
        unit_forget_bias: Start the forget-gate bias at 1 (Keras default ``True``).
        use_cudnn: Accepted for Keras compatibility; the fused kernel is used whenever it applies.
    """

    kind = "lstm"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 use_cudnn: Any = "auto", **kwargs: Any) -> None:
        super().__init__(
            units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
            stateful=stateful, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, input_shape: Shape) -> tuple[RecurrentNetwork, Any]:
        module, output_shape = super().build(input_shape)
        if self.use_bias and self.unit_forget_bias:
            with torch.no_grad():
                module.rnn.bias_ih_l0[self.units:2 * self.units] = 1.0
        return module, output_shape


@LAYERS.register("gru")
class GRU(RecurrentLayer):
    """Gated recurrent unit (Cho et al., 2014) in Keras 3's default ``reset_after=True`` form.

    That form is what torch's fused ``nn.GRU`` computes, with both an input and a recurrent bias, so
    parameter counts match Keras. Weights convert between Keras's gate order (z, r, h) and torch's
    (r, z, n) in ``get_weights`` / ``set_weights``.

    Args:
        units: Size of the state and of each output step.
        activation: Candidate activation (default ``'tanh'``).
        recurrent_activation: Gate activation (default ``'sigmoid'``).
        reset_after: Must be ``True`` (Keras 3's default); the older ``False`` variant has no torch kernel.
        use_cudnn: Accepted for Keras compatibility; the fused kernel is used whenever it applies.
    """

    kind = "gru"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, reset_after: bool = True, use_cudnn: Any = "auto",
                 **kwargs: Any) -> None:
        super().__init__(
            units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
            stateful=stateful, **kwargs)
        if not reset_after:
            raise ConfigError(
                "GRU(reset_after=False) is not supported: torch's GRU applies the reset gate after the recurrent "
                "matmul, which is Keras 3's default reset_after=True. Use the default (weights of a Keras "
                "reset_after=False GRU do not transfer)."
            )


for _layer in (SimpleRNN, LSTM, GRU):
    _layer.__doc__ = (_layer.__doc__ or "").rstrip() + "\n" + _COMMON_ARGS
