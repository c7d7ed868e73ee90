"""``RNN``: runs any recurrent cell over a sequence, and ``StackedRNNCells``: several cells as one.

The generic counterpart of the fused ``SimpleRNN`` / ``LSTM`` / ``GRU``: a step loop that calls the cell's
``call(inputs, states)`` once per time step, with Keras's masking (a masked step keeps the states and
repeats the previous output, or outputs zeros with ``zero_output_for_mask``), ``go_backwards``,
``return_sequences`` and ``return_state``. Cells follow Keras's protocol (see :mod:`nnkit.layers.rnn_cells`),
so ``RNN(LSTMCell(n))`` computes what ``LSTM(n)`` computes on the same weights, only step by step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.layers import calling
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.rnn_cells import CELLS, check_cell


# -- cells: building, sizes, configs ---------------------------------------------------------------------
def build_cell(cell: Any, step_shape: Shape) -> None:
    """Build ``cell`` (once) for step inputs of ``step_shape`` (one sample, no batch axis).

    Keras hands a cell's ``build`` the step shape with its batch axis, ``(None, features)``. The cell's output
    shape comes from its ``output_size`` (a cell cannot be test-called without states).
    """
    if not isinstance(cell, Layer) or cell.built:
        return
    cell.__dict__["_in_attach"] = True
    try:
        cell.build((None, *step_shape))
    finally:
        cell.__dict__.pop("_in_attach", None)
    object.__setattr__(cell, "module", cell)
    calling.TRAINING.custom_layers = True
    cell._shapes = (tuple(step_shape), (cell_output_size(cell),))
    cell.trainable = cell._trainable


def cell_output_size(cell: Any) -> int:
    """The cell's ``output_size``, else the size of its first state (Keras's rule)."""
    size = getattr(cell, "output_size", None)
    return int(flat_state_sizes(cell.state_size)[0] if size is None else size)


def flat_state_sizes(state_size: Any) -> list[int]:
    """Every state's size, nested lists (stacked cells) flattened in order."""
    if isinstance(state_size, (list, tuple)):
        return [s for size in state_size for s in flat_state_sizes(size)]
    return [int(state_size)]


def cell_config(cell: Layer) -> dict[str, Any]:
    """A cell as Keras stores it: ``{"class_name", "config"}`` (plus ``registered_name`` for a user's cell)."""
    from nnkit.saving.object_registration import get_registered_name

    entry = {"class_name": type(cell).__name__, "config": cell.get_config()}
    registered = get_registered_name(cell)
    if registered is not None:
        entry["registered_name"] = registered
    return entry


def cell_from(value: Any, where: str) -> Any:
    """A cell from an instance or from :func:`cell_config`'s dict (user cells via the custom-object registry)."""
    if isinstance(value, dict) and "class_name" in value:
        from nnkit.saving.object_registration import get_custom_object

        name = value["class_name"]
        cls = get_custom_object(value.get("registered_name"), name) or (CELLS.get(name) if name in CELLS else None)
        if cls is None:
            raise ConfigError(
                f"{where}: unknown RNN cell '{name}'. Built-in cells: {', '.join(CELLS.names())}. For your own cell, "
                f"pass custom_objects={{'{name}': {name}}} to load_model or decorate the class with "
                "@nnkit.saving.register_serializable()."
            )
        value = cls.from_config(dict(value.get("config", {})))
    check_cell(value, where)
    return value


def _map_states(fn: Callable[[Tensor, Tensor], Tensor], new: Any, old: Any) -> Any:
    if isinstance(new, (list, tuple)):
        return [_map_states(fn, n, o) for n, o in zip(new, old)]
    return fn(new, old)


def _where(keep: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """``new`` for the samples whose step is kept (``keep`` is ``(batch,)``), else ``old``."""
    return torch.where(keep.view(-1, *[1] * (new.dim() - 1)), new, old)


def _flatten(states: Any) -> list[Tensor]:
    if isinstance(states, (list, tuple)):
        return [t for s in states for t in _flatten(s)]
    return [states]


def reset_dropout_masks(cell: Any) -> None:
    """Clear the dropout masks of ``cell`` (and of stacked cells), so a new sequence draws new ones."""
    for inner in getattr(cell, "cells", None) or [cell]:
        for method in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            reset = getattr(inner, method, None)
            if reset is not None:
                reset()


# -- StackedRNNCells -------------------------------------------------------------------------------------
@CELLS.register("stacked_rnn_cells")
class StackedRNNCells(Layer):
    """Several cells as one: each step feeds the output of one cell to the next (``RNN([c1, c2])`` builds it).

    Args:
        cells: The cells, first to last; their weights follow in that order.

    Example:
        >>> RNN(StackedRNNCells([LSTMCell(64), LSTMCell(32)]))  # doctest: +SKIP
    """

    def __init__(self, cells: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ConfigError(f"StackedRNNCells expects a non-empty list of cells. Received: cells={cells!r}.")
        self.cells = [cell_from(cell, "StackedRNNCells") for cell in cells]

    @property
    def state_size(self) -> list[Any]:
        """Each cell's ``state_size``, in order."""
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self) -> int:
        """The last cell's output size."""
        return cell_output_size(self.cells[-1])

    def build(self, input_shape: Any) -> None:
        """Build each cell for the output of the one before it."""
        step = tuple(input_shape[1:])
        for cell in self.cells:
            build_cell(cell, step)
            step = (cell_output_size(cell),)

    def compute_output_shape(self, input_shape: Any) -> tuple[int | None, ...]:
        return (input_shape[0], self.output_size)

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        """Each cell's initial states (a list for a cell of several states)."""
        states = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                initial = fn(batch_size=batch_size)
            else:
                initial = [torch.zeros(batch_size or 1, size) for size in flat_state_sizes(cell.state_size)]
            if isinstance(cell.state_size, int) and isinstance(initial, (list, tuple)):
                initial = initial[0]
            states.append(initial)
        return states

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Any]]:
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            as_list = isinstance(cell_states, (list, tuple))
            kwargs = {"training": training} if getattr(cell, "_call_takes_training", False) else {}
            inputs, cell_states = cell.call(inputs, list(cell_states) if as_list else [cell_states], **kwargs)
            if not isinstance(cell_states, (list, tuple)):
                cell_states = [cell_states]
            new_states.append(cell_states[0] if len(cell_states) == 1 and not as_list else list(cell_states))
        return inputs, new_states

    def get_config(self) -> dict[str, Any]:
        """The cells as ``{"class_name", "config"}`` dicts, as Keras stores them."""
        return {**super().get_config(), "cells": [cell_config(cell) for cell in self.cells]}


# -- RNN -------------------------------------------------------------------------------------------------
class RNNLoop(nn.Module):
    """Steps ``cell`` over ``(batch, timesteps, ...)`` inputs with an optional Keras mask ``(batch, timesteps)``."""

    takes_mask = True

    def __init__(self, cell: Any, return_sequences: bool, return_state: bool, go_backwards: bool,
                 zero_output_for_mask: bool) -> None:
        super().__init__()
        self.cell = cell
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.zero_output_for_mask = go_backwards, zero_output_for_mask

    def forward(self, x: Tensor, mask: Tensor | None = None, initial_state: Any = None) -> Any:
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        states = self.initial_state(x) if initial_state is None else self._given(initial_state, x)
        reset_dropout_masks(self.cell)
        kwargs = {"training": self.training} if getattr(self.cell, "_call_takes_training", False) else {}
        step = self.cell.call
        outputs: list[Tensor] = []
        output = None
        for t in range(x.shape[1]):
            new_output, new_states = step(x[:, t], tuple(states), **kwargs)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if mask is not None:
                where = functools.partial(_where, mask[:, t].to(torch.bool))
                fallback = torch.zeros_like(new_output) if self.zero_output_for_mask or output is None else output
                new_output = where(new_output, fallback)
                new_states = _map_states(where, new_states, states)
            output, states = new_output, new_states
            if self.return_sequences:
                outputs.append(output)
        if output is None:
            raise ConfigError("RNN received a sequence with 0 timesteps; it needs at least one step.")
        result = torch.stack(outputs, dim=1) if self.return_sequences else output
        return [result, *_flatten(states)] if self.return_state else result

    def initial_state(self, x: Tensor) -> list[Any]:
        """The cell's ``get_initial_state`` (on ``x``'s device and dtype), else zeros per ``state_size``."""
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is None:
            sizes = self.cell.state_size if isinstance(self.cell.state_size, (list, tuple)) else [self.cell.state_size]
            return [x.new_zeros(x.shape[0], *(s if isinstance(s, (list, tuple)) else (s,))) for s in sizes]
        return self._given(fn(batch_size=x.shape[0]), x)

    def _given(self, states: Any, x: Tensor) -> list[Any]:
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        return [_map_states(lambda s, _: torch.as_tensor(s).to(device=x.device, dtype=x.dtype), s, s) for s in states]

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> Tensor | None:
        """Keras: the mask survives only when every step is returned."""
        return mask if self.return_sequences else None

    def extra_repr(self) -> str:
        return (f"return_sequences={self.return_sequences}, return_state={self.return_state}, "
                f"go_backwards={self.go_backwards}")


@LAYERS.register("rnn")
class RNN(Layer):
    """Runs a recurrent cell over every step of ``(batch, timesteps, features)`` inputs.

    Args:
        cell: A cell (``LSTMCell(32)``, a user's cell with ``state_size`` and ``call(inputs, states)``) or a
            list of cells, stacked into a :class:`StackedRNNCells`.
        return_sequences: Return every step ``(batch, timesteps, output_size)`` instead of the last.
        return_state: Also return the final states: ``[output, *states]`` (a functional model's several
            outputs). With stacked cells the states come as one flat list ``[output, h1, c1, h2, ...]``
            where Keras nests them per cell.
        go_backwards: Read the sequence in reverse (outputs stay in the order they were computed, as in Keras).
        stateful: Must be ``False``: every batch starts from the cell's initial state.
        unroll: Accepted for Keras compatibility; the step loop is a Python loop, which is unrolled anyway.
        zero_output_for_mask: Output zeros at masked steps instead of repeating the previous output.

    Masks from ``Embedding(mask_zero=True)`` or ``Masking`` (or ``layer(x, mask=...)``) are honoured as in
    Keras, and ``layer(x, initial_state=[...])`` starts from given states. The weights are the cell's, in
    Keras's layout and order. Step by step, this is slower than the fused ``LSTM`` / ``GRU`` / ``SimpleRNN``.

    Example:
        >>> RNN(LSTMCell(32), return_sequences=True)  # doctest: +SKIP
    """

    wraps = ("cell",)

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        self.cell = cell_from(cell, "RNN")
        if stateful:
            raise ConfigError(
                "RNN(stateful=True) is not supported: every batch starts from the cell's initial state. Feed whole "
                "sequences, or carry the states yourself with return_state=True and layer(x, initial_state=...)."
            )
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.zero_output_for_mask = bool(go_backwards), bool(zero_output_for_mask)

    @property
    def declared_input_shape(self) -> Shape | None:
        """The input shape given to the RNN or, as Keras users sometimes write it, to its cell."""
        return self._declared_shape or getattr(self.cell, "declared_input_shape", None)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Any]:
        if len(input_shape) < 2:
            raise ConfigError(
                f"RNN layer '{self.name}' expects inputs of shape (batch, timesteps, features) but received inputs "
                f"of shape {(None, *input_shape)}. Add a feature axis (e.g. x.reshape(-1, {input_shape[0]}, 1)) or "
                "start with an Embedding for token ids."
            )
        timesteps, *step = input_shape
        build_cell(self.cell, tuple(step))
        size = cell_output_size(self.cell)
        output_shape: Any = (timesteps, size) if self.return_sequences else (size,)
        if self.return_state:
            output_shape = [output_shape, *((s,) for s in flat_state_sizes(self.cell.state_size))]
        module = RNNLoop(self.cell, self.return_sequences, self.return_state, self.go_backwards,
                         self.zero_output_for_mask)
        return module, output_shape

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        return self.cell.regularization_terms() if isinstance(self.cell, Layer) else []

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return self.cell.constraint_terms() if isinstance(self.cell, Layer) else []

    def get_config(self) -> dict[str, Any]:
        """Keras's config: the cell as a ``{"class_name", "config"}`` dict (a list of cells as StackedRNNCells)."""
        return {**super().get_config(), "cell": cell_config(self.cell)}
