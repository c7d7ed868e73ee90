"""Recurrent cells: ``SimpleRNNCell``, ``LSTMCell`` and ``GRUCell``, one time step each, for :class:`RNN`.

A cell is a layer whose ``call(inputs, states, training=False)`` maps one step's inputs ``(batch, features)``
and the previous states to ``(output, new_states)``, with a ``state_size`` (an int or a list of ints) and
an ``output_size``: exactly Keras's protocol, so a user's cell written for Keras (a ``Layer`` subclass that
makes its weights with ``add_weight`` in ``build``) runs in :class:`~nnkit.layers.RNN` unchanged.

The built-in cells hold their weights in Keras's layout and gate order (``kernel (features, gates * units)``,
``recurrent_kernel (units, gates * units)``, ``bias``; LSTM gates i, f, c, o; GRU gates z, r, h), so their
``get_weights`` match Keras's and those of ``LSTM`` / ``GRU`` / ``SimpleRNN`` with the same units.

Dropout follows Keras: one mask per sequence (drawn at the first step, reused by the others, cleared by
:class:`RNN` at the start of every call); with ``recurrent_dropout`` the LSTM and GRU cells draw one mask
per gate for the inputs and for the state, as Keras's ``implementation=1`` does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit import activations, initializers
from nnkit.errors import ConfigError
from nnkit.layers.base import Layer
from nnkit.layers.recurrent import _fraction, _positive_int
from nnkit.registry import Registry

#: The built-in cells by name, for configs. Cells are not in ``LAYERS``: they run inside ``RNN``, never as a
#: model's layer on their own.
CELLS: Registry[type[Layer]] = Registry("RNN cell")


class RNNCellBase(Layer):
    """Shared arguments, weights and dropout masks of the built-in cells (not used directly)."""

    #: Gate blocks in the kernels (1 for SimpleRNN, 4 for LSTM, 3 for GRU).
    gates: ClassVar[int] = 1

    def _setup(self, units: int, activation: Any, recurrent_activation: Any, use_bias: bool,
               kernel_initializer: Any, recurrent_initializer: Any, bias_initializer: Any, kernel_regularizer: Any,
               recurrent_regularizer: Any, bias_regularizer: Any, kernel_constraint: Any, recurrent_constraint: Any,
               bias_constraint: Any, dropout: float, recurrent_dropout: float) -> None:
        cls = type(self).__name__
        self.units = _positive_int(units, "units", cls)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._penalties = (kernel_regularizer, recurrent_regularizer, bias_regularizer)
        self._projections = (kernel_constraint, recurrent_constraint, bias_constraint)
        self.dropout = _fraction(dropout, "dropout", cls)
        self.recurrent_dropout = _fraction(recurrent_dropout, "recurrent_dropout", cls)
        # Keras's implementation=1: one dropout mask per gate once the state is dropped out too.
        self._mask_count = self.gates if self.recurrent_dropout and self.gates > 1 else None
        self._masks: dict[str, Tensor | None] = {"dropout": None, "recurrent": None}

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def build(self, input_shape: Any) -> None:
        """Create ``kernel``, ``recurrent_kernel`` and (with ``use_bias``) ``bias`` in Keras layout."""
        width = self.gates * self.units
        kernel_penalty, recurrent_penalty, bias_penalty = self._penalties
        kernel_projection, recurrent_projection, bias_projection = self._projections
        self.kernel = self.add_weight(shape=(input_shape[-1], width), initializer=self.kernel_initializer,
                                      regularizer=kernel_penalty, constraint=kernel_projection, name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width), initializer=self.recurrent_initializer, regularizer=recurrent_penalty,
            constraint=recurrent_projection, name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=self._bias_shape(), initializer=self.bias_initializer,
                                        regularizer=bias_penalty, constraint=bias_projection, name="bias")
        else:
            self.__dict__["bias"] = None
        if not self.__dict__.get("_in_attach") and self.__dict__.get("module") is None:
            self._finish_custom_build(tuple(input_shape[1:]))  # cell.build((None, 5)) called directly, as in Keras

    def compute_output_shape(self, input_shape: Any) -> tuple[int | None, ...]:
        """``(batch, output_size)`` for step inputs of ``input_shape``."""
        return (input_shape[0], self.output_size)

    def _build_for(self, inputs: Any) -> None:
        """Called on its own as ``cell(x, states)``: build for the step inputs ``x``, as Keras does."""
        from nnkit.layers.rnn import build_cell

        build_cell(self, tuple((inputs[0] if isinstance(inputs, list) else inputs).shape[1:]))

    # -- Keras's DropoutRNNCell API -------------------------------------------------------------------
    def _new_mask(self, like: Tensor, rate: float) -> Tensor:
        shape = like.shape if self._mask_count is None else (self._mask_count, *like.shape)
        return F.dropout(like.new_ones(shape), rate, training=True)

    def get_dropout_mask(self, step_input: Tensor) -> Tensor | None:
        """The input dropout mask of this sequence (drawn on first use); ``None`` without dropout."""
        if self._masks["dropout"] is None and self.dropout > 0:
            self._masks["dropout"] = self._new_mask(step_input, self.dropout)
        return self._masks["dropout"]

    def get_recurrent_dropout_mask(self, step_input: Tensor) -> Tensor | None:
        """The state dropout mask of this sequence (drawn on first use); ``None`` without recurrent dropout."""
        if self._masks["recurrent"] is None and self.recurrent_dropout > 0:
            self._masks["recurrent"] = self._new_mask(step_input, self.recurrent_dropout)
        return self._masks["recurrent"]

    def reset_dropout_mask(self) -> None:
        """Forget the input dropout mask (the next sequence draws a new one)."""
        self._masks["dropout"] = None

    def reset_recurrent_dropout_mask(self) -> None:
        """Forget the state dropout mask."""
        self._masks["recurrent"] = None

    def _project(self, x: Tensor, weight: Tensor, mask: Tensor | None) -> Tensor:
        """``x @ weight``, with ``x`` dropped out by one mask, or by one mask per gate block of ``weight``."""
        if mask is None:
            return x @ weight
        if mask.dim() == x.dim():
            return (x * mask) @ weight
        per_gate = weight.view(weight.shape[0], self.gates, self.units)
        return torch.einsum("gbi,igu->bgu", x * mask, per_gate).reshape(x.shape[0], -1)

    def _dropped(self, inputs: Tensor, h: Tensor, training: bool) -> tuple[Tensor | None, Tensor | None]:
        if not training:
            return None, None
        return self.get_dropout_mask(inputs), self.get_recurrent_dropout_mask(h)

    def get_initial_state(self, batch_size: int | None = None) -> list[Tensor]:
        """Zero states, one ``(batch_size, size)`` tensor per entry of ``state_size``."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [self.kernel.new_zeros(batch_size or 1, size) for size in sizes]

    def extra_repr(self) -> str:
        return f"units={self.units}"


_CELL_ARGS = """
    Other arguments (as in Keras):
        use_bias: Whether the cell has a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Initial values (Keras defaults
            ``'glorot_uniform'``, ``'orthogonal'``, ``'zeros'``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties added to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Projections after each optimizer step.
        dropout: Fraction of the input features dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of the state dropped in the recurrent projection while training.
        seed: Accepted for Keras compatibility; seed with ``nnkit.utils.set_random_seed``.
"""


@CELLS.register("simple_rnn_cell")
class SimpleRNNCell(RNNCellBase):
    """One step of ``SimpleRNN``: ``h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)``.

    Args:
        units: Size of the state and of the output.
        activation: Activation (default ``'tanh'``; ``None`` means linear).

    Example:
        >>> RNN(SimpleRNNCell(8), return_sequences=True)  # doctest: +SKIP
    """

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(units, activation, None, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                    kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                    recurrent_constraint, bias_constraint, dropout, recurrent_dropout)
        self.state_size, self.output_size = self.units, self.units

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, Any]:
        h = states[0] if isinstance(states, (list, tuple)) else states
        drop, recurrent_drop = self._dropped(inputs, h, training)
        z = self._project(inputs, self.kernel, drop) + self._project(h, self.recurrent_kernel, recurrent_drop)
        if self.bias is not None:
            z = z + self.bias
        output = self.activation(z)
        return output, [output] if isinstance(states, (list, tuple)) else output


@CELLS.register("lstm_cell")
class LSTMCell(RNNCellBase):
    """One step of ``LSTM`` (Keras's equations and gate order i, f, c, o); states ``[h, c]``.

    Args:
        units: Size of each state and of the output.
        activation: Cell and output activation (default ``'tanh'``).
        recurrent_activation: Gate activation (default ``'sigmoid'``).
        unit_forget_bias: Start the forget-gate bias at 1 (Keras default ``True``).
    """

    gates = 4

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                    bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                    recurrent_constraint, bias_constraint, dropout, recurrent_dropout)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size, self.output_size = [self.units, self.units], self.units

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.use_bias and self.unit_forget_bias:
            with torch.no_grad():
                self.bias[self.units:2 * self.units] = 1.0

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        h, c = states[0], states[1]
        drop, recurrent_drop = self._dropped(inputs, h, training)
        z = self._project(inputs, self.kernel, drop) + self._project(h, self.recurrent_kernel, recurrent_drop)
        if self.bias is not None:
            z = z + self.bias
        i, f, g, o = z.chunk(4, dim=-1)
        gate = self.recurrent_activation
        c = gate(f) * c + gate(i) * self.activation(g)
        h = gate(o) * self.activation(c)
        return h, [h, c]


@CELLS.register("gru_cell")
class GRUCell(RNNCellBase):
    """One step of ``GRU`` (Keras's equations and gate order z, r, h).

    Args:
        units: Size of the state and of the output.
        activation: Candidate activation (default ``'tanh'``).
        recurrent_activation: Gate activation (default ``'sigmoid'``).
        reset_after: Apply the reset gate after the recurrent matmul (Keras 3's default ``True``, with an input
            and a recurrent bias, ``bias`` of shape ``(2, 3 * units)``) or before it (``False``, one bias).
    """

    gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, reset_after: bool = True,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                    bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                    recurrent_constraint, bias_constraint, dropout, recurrent_dropout)
        self.reset_after = bool(reset_after)
        self.state_size, self.output_size = self.units, self.units

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, Any]:
        h = states[0] if isinstance(states, (list, tuple)) else states
        drop, recurrent_drop = self._dropped(inputs, h, training)
        input_bias, recurrent_bias = (self.bias[0], self.bias[1]) if self.bias is not None and self.reset_after \
            else (self.bias, None)
        x = self._project(inputs, self.kernel, drop)
        if input_bias is not None:
            x = x + input_bias
        x_z, x_r, x_h = x.chunk(3, dim=-1)
        u = self.units
        if self.reset_after:
            inner = self._project(h, self.recurrent_kernel, recurrent_drop)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            r_z, r_r, r_h = inner.chunk(3, dim=-1)
            z, r = self.recurrent_activation(x_z + r_z), self.recurrent_activation(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            h_z, h_r, h_h = (_dropped_state(h, recurrent_drop, gate) for gate in range(3))
            z = self.recurrent_activation(x_z + h_z @ self.recurrent_kernel[:, :u])
            r = self.recurrent_activation(x_r + h_r @ self.recurrent_kernel[:, u:2 * u])
            candidate = self.activation(x_h + (r * h_h) @ self.recurrent_kernel[:, 2 * u:])
        output = z * h + (1 - z) * candidate
        return output, [output] if isinstance(states, (list, tuple)) else output


def _dropped_state(h: Tensor, mask: Tensor | None, gate: int) -> Tensor:
    """The state as gate ``gate`` sees it: unchanged, under the one mask, or under that gate's own mask."""
    if mask is None:
        return h
    return h * (mask if mask.dim() == h.dim() else mask[gate])


def check_cell(cell: Any, where: str) -> None:
    """Keras's checks of an RNN cell: a ``call`` method and a ``state_size`` (an int or a list of ints).

    Raises:
        ConfigError: naming ``where``, what is missing and how to write a cell.
    """
    state_size = getattr(cell, "state_size", None)
    if not callable(getattr(cell, "call", None)) or state_size is None:
        raise ConfigError(
            f"{where} expects an RNN cell: a layer with call(inputs, states) returning (output, new_states) and a "
            f"`state_size` attribute (an int, or a list of ints, one per state), e.g. LSTMCell(32). Received: "
            f"{cell!r}."
        )
    sizes = state_size if isinstance(state_size, (list, tuple)) else [state_size]
    flat = [s for size in sizes for s in (size if isinstance(size, (list, tuple)) else [size])]
    if not flat or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in flat):
        raise ConfigError(f"{where}: the cell's `state_size` must be a positive int or a list of them. "
                          f"Received: state_size={state_size!r} from {cell!r}.")


for _cell in (SimpleRNNCell, LSTMCell, GRUCell):
    _cell.__doc__ = (_cell.__doc__ or "").rstrip() + "\n" + _CELL_ARGS
