"""The torch module behind ``SimpleRNN``, ``LSTM`` and ``GRU``: torch's fused kernels, Keras's masking.

The weights live in a plain ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``batch_first=True``), which runs the
whole sequence in one fused call when the activations are the ones it computes (tanh and sigmoid; tanh
or relu for ``SimpleRNN``). Other activations, and ``recurrent_dropout`` while training, take a step-by-step
loop over the same parameters: slower, same numbers.

Masks follow Keras exactly: a masked step is skipped (the state carries over unchanged), the output at a
masked step repeats the previous output (zeros before the first valid step, or zeros at every masked step
with ``zero_output_for_mask``, as inside ``Bidirectional``), and the final output is the one after the last
valid step. Rather than a per-step select, which would rule out the fused kernels, each sequence's valid
steps are moved, in order, to the front of the batch; the network runs once on that compacted batch; each
original position then reads the output of the latest valid step at or before it. This is exact for any
mask (pre-padding, post-padding or holes), needs no host synchronisation, and the padding steps left at the
end of the compacted batch cannot influence earlier outputs because the network is causal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nnkit import activations

Activation = Callable[[Tensor], Tensor]

#: Gate blocks per kind, in torch's order: LSTM (i, f, g, o), GRU (r, z, n), SimpleRNN one block.
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}

_TANH = {activations.tanh, torch.tanh, F.tanh}
_SIGMOID = {activations.sigmoid, torch.sigmoid, F.sigmoid}
_RELU = {activations.relu, torch.relu, F.relu}


def fused_nonlinearity(kind: str, activation: Activation, recurrent_activation: Activation) -> str | None:
    """The nonlinearity of torch's fused kernel computing these activations, or ``None`` if none does."""
    if kind == "simple_rnn":
        return "tanh" if activation in _TANH else "relu" if activation in _RELU else None
    return "tanh" if activation in _TANH and recurrent_activation in _SIGMOID else None


class RecurrentNetwork(nn.Module):
    """One recurrent layer over ``(batch, timesteps, features)`` inputs with an optional Keras mask.

    Args:
        kind: ``'simple_rnn'``, ``'lstm'`` or ``'gru'``.
        input_size: Features per step.
        units: Size of the state (and of each output step).
        activation: Output/candidate activation (a function; ``activations.linear`` for none).
        recurrent_activation: Gate activation (ignored by ``'simple_rnn'``).
        use_bias: Whether the network has biases.
        return_sequences: Return every step ``(batch, timesteps, units)`` or the last ``(batch, units)``.
        go_backwards: Read the sequence in reverse; with ``return_sequences`` the outputs stay in the
            order they were computed (reversed), as in Keras.
        dropout: Fraction of input features dropped while training, one mask per sequence.
        recurrent_dropout: Fraction of state features dropped in the recurrent projection while
            training, one mask per sequence and gate (forces the step loop while training).
        zero_output_for_mask: Zero the outputs of masked steps instead of repeating the previous one.
        return_state: Return ``[output, h]`` (``[output, h, c]`` for LSTM): the output and the final states.
        dtype: Float type of the weights.
    """

    takes_mask = True

    def __init__(self, kind: str, input_size: int, units: int, *, activation: Activation,
                 recurrent_activation: Activation, use_bias: bool = True, return_sequences: bool = False,
                 go_backwards: bool = False, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 zero_output_for_mask: bool = False, return_state: bool = False,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        nonlinearity = fused_nonlinearity(kind, activation, recurrent_activation)
        if kind == "lstm":
            self.rnn: nn.RNNBase = nn.LSTM(input_size, units, bias=use_bias, batch_first=True, dtype=dtype)
        elif kind == "gru":
            self.rnn = nn.GRU(input_size, units, bias=use_bias, batch_first=True, dtype=dtype)
        else:
            self.rnn = nn.RNN(input_size, units, nonlinearity=nonlinearity or "tanh", bias=use_bias,
                              batch_first=True, dtype=dtype)
        self.kind, self.units, self.gates = kind, units, GATES[kind]
        self.fused = nonlinearity is not None
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.return_sequences, self.go_backwards = return_sequences, go_backwards
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.zero_output_for_mask, self.return_state = zero_output_for_mask, return_state

    def forward(self, x: Tensor, mask: Tensor | None = None, initial_state: Any = None) -> Any:
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        if self.training and self.dropout:
            # Keras drops the same input features at every step of a sequence.
            x = x * F.dropout(x.new_ones(x.shape[0], 1, x.shape[2]), self.dropout)
        state = None if initial_state is None else self._given(initial_state, x)
        if mask is None:
            outputs, final = self._run(x, state)
            output = outputs if self.return_sequences else outputs[:, -1]
            return [output, *_states(final)] if self.return_state else output
        output, states = self._masked(x, mask.to(torch.bool), state)
        return [output, *states] if self.return_state else output

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> Tensor | None:
        """Keras: the mask survives only when every step is returned."""
        return mask if self.return_sequences else None

    def _given(self, initial_state: Any, x: Tensor) -> list[Tensor]:
        """``initial_state`` (one tensor, or ``[h]`` / ``[h, c]``) as tensors of ``x``'s device and dtype."""
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        wanted = 2 if self.kind == "lstm" else 1
        if len(states) != wanted:
            names = "[h, c]" if self.kind == "lstm" else "[h]"
            raise ValueError(f"A {self.kind} layer takes initial_state={names} ({wanted} tensor(s) of shape "
                             f"(batch, {self.units})); received {len(states)}.")
        return [torch.as_tensor(s).to(device=x.device, dtype=x.dtype) for s in states]

    # -- masking ----------------------------------------------------------------------------------
    def _masked(self, x: Tensor, valid: Tensor, state: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        """The output and (with ``return_state``) the states after each sequence's last valid step."""
        order = torch.argsort(~valid, dim=1, stable=True)  # valid steps first, in their order
        counts = valid.sum(dim=1)
        outputs, raw = self._run(x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1])), state,
                                 counts if self.return_state else None)
        final: list[Tensor] = []
        if self.return_state:  # a sequence without a valid step keeps its initial state
            final = _states(raw)
            initial = state or [x.new_zeros(x.shape[0], self.units) for _ in final]
            final = [torch.where((counts > 0).unsqueeze(-1), f, s) for f, s in zip(final, initial)]
        if not self.return_sequences:
            last = outputs[torch.arange(x.shape[0], device=x.device), (counts - 1).clamp(min=0)]
            return torch.where((counts > 0).unsqueeze(-1), last, 0.0), final
        latest = valid.cumsum(dim=1) - 1  # index, in the compacted batch, of the latest valid step
        steps = outputs.gather(1, latest.clamp(min=0).unsqueeze(-1).expand(-1, -1, outputs.shape[-1]))
        keep = valid if self.zero_output_for_mask else latest >= 0
        return torch.where(keep.unsqueeze(-1), steps, 0.0), final

    # -- the recurrence ---------------------------------------------------------------------------
    def _run(self, x: Tensor, state: list[Tensor] | None = None,
             lengths: Tensor | None = None) -> tuple[Tensor, Any]:
        """Outputs of every step, ``(batch, timesteps, units)``, for an unmasked batch, and the final states
        as torch's kernels give them (``h`` or ``(h, c)``, each ``(1, batch, units)``: see :func:`_states`);
        with ``lengths``, the states after each sequence's first ``lengths`` steps."""
        if self.fused and not (self.training and self.recurrent_dropout):
            hx = None if state is None else tuple(s.unsqueeze(0) for s in state)
            if hx is not None and self.kind != "lstm":
                hx = hx[0]
            if lengths is None:
                outputs, final = self.rnn(x, hx)
            else:  # packing stops each sequence's state at its length (the lengths go to the host)
                packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
                outputs, final = self.rnn(packed, hx)
                outputs = pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])[0]
            return outputs, final
        return self._loop(x, state, lengths)

    def _loop(self, x: Tensor, state: list[Tensor] | None = None,
              lengths: Tensor | None = None) -> tuple[Tensor, Any]:
        rnn = self.rnn
        b_ih = rnn.bias_ih_l0 if rnn.bias else None
        b_hh = rnn.bias_hh_l0 if rnn.bias else None
        projected = F.linear(x, rnn.weight_ih_l0, b_ih)  # every step's input projection in one matmul
        batch = x.shape[0]
        h = x.new_zeros(batch, self.units) if state is None else state[0]
        c = state[1] if state is not None and self.kind == "lstm" else x.new_zeros(batch, self.units)
        masks = None
        if self.training and self.recurrent_dropout:
            masks = F.dropout(x.new_ones(self.gates, batch, self.units), self.recurrent_dropout)
            per_gate = rnn.weight_hh_l0.view(self.gates, self.units, self.units)
        outputs = []
        for step in range(x.shape[1]):
            if masks is None:
                recurrent = F.linear(h, rnn.weight_hh_l0, b_hh)
            else:
                recurrent = torch.einsum("gbi,goi->bgo", h * masks, per_gate).reshape(batch, -1)
                recurrent = recurrent if b_hh is None else recurrent + b_hh
            new_h, new_c = self._cell(projected[:, step], recurrent, h, c)
            if lengths is not None:
                going = (step < lengths).unsqueeze(-1)
                new_h, new_c = torch.where(going, new_h, h), torch.where(going, new_c, c)
            h, c = new_h, new_c
            outputs.append(h)
        return torch.stack(outputs, dim=1), ((h[None], c[None]) if self.kind == "lstm" else h[None])

    def _cell(self, inputs: Tensor, recurrent: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step from the input and recurrent projections (torch gate order), Keras's equations."""
        act, gate = self.activation, self.recurrent_activation
        if self.kind == "lstm":
            i, f, g, o = (inputs + recurrent).chunk(4, dim=1)
            c = gate(f) * c + gate(i) * act(g)
            return gate(o) * act(c), c
        if self.kind == "gru":
            x_r, x_z, x_n = inputs.chunk(3, dim=1)
            h_r, h_z, h_n = recurrent.chunk(3, dim=1)
            r, z = gate(x_r + h_r), gate(x_z + h_z)
            return z * h + (1 - z) * act(x_n + r * h_n), c
        return act(inputs + recurrent), c

    def extra_repr(self) -> str:
        kernel = "fused" if self.fused else "step loop"
        return (f"{self.kind}, units={self.units}, {kernel}, return_sequences={self.return_sequences}, "
                f"go_backwards={self.go_backwards}")


def _states(final: Any) -> list[Tensor]:
    """torch's final states (``h`` or ``(h, c)``, each ``(1, batch, units)``) as Keras's ``[h]`` / ``[h, c]``."""
    return [f[0] for f in final] if isinstance(final, tuple) else [final[0]]
