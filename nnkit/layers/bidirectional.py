"""``Bidirectional``: a recurrent layer run forwards and backwards, outputs merged."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.recurrent import RecurrentLayer

MERGE_MODES = ("concat", "sum", "mul", "ave")


class BidirectionalNetwork(nn.Module):
    """Runs a forward and a backward recurrent module on the same input and merges their outputs.

    The backward module reads the sequence reversed; with ``return_sequences`` its outputs are flipped
    back so step ``t`` of both directions lines up, as in Keras.
    """

    takes_mask = True

    def __init__(self, forward_layer: nn.Module, backward_layer: nn.Module, merge_mode: str,
                 return_sequences: bool) -> None:
        super().__init__()
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.merge_mode, self.return_sequences = merge_mode, return_sequences

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        y = self.forward_layer(x, mask)
        y_rev = self.backward_layer(x, mask)
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        if self.merge_mode == "concat":
            return torch.cat([y, y_rev], dim=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "mul":
            return y * y_rev
        return (y + y_rev) / 2

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> Tensor | None:
        """Keras: the mask survives only when every step is returned."""
        return mask if self.return_sequences else None

    def extra_repr(self) -> str:
        return f"merge_mode={self.merge_mode!r}"


def _layer_from(value: Any, arg: str) -> RecurrentLayer:
    if isinstance(value, dict) and "class_name" in value:  # from get_config
        value = LAYERS.get(value["class_name"]).from_config(value.get("config", {}))
    if not isinstance(value, RecurrentLayer):
        raise ConfigError(
            f"Bidirectional expects `{arg}` to be a recurrent layer such as LSTM(32), GRU(32) or SimpleRNN(32). "
            f"Received: {value!r}."
        )
    return value


@LAYERS.register("bidirectional")
class Bidirectional(Layer):
    """Bidirectional wrapper for a recurrent layer (``SimpleRNN``, ``LSTM``, ``GRU``).

    Args:
        layer: The recurrent layer read forwards; a copy with ``go_backwards`` flipped reads backwards.
        merge_mode: How the two outputs combine: ``'concat'`` (default, ``2 * units`` features),
            ``'sum'``, ``'mul'`` or ``'ave'``. ``None`` (two outputs) does not fit a Sequential model.
        backward_layer: Optional explicit backward layer; it must read the other way (``go_backwards``)
            and agree with ``layer`` on ``return_sequences``.

    Weights follow Keras's order: the forward layer's, then the backward layer's. Masks are honoured;
    with ``return_sequences`` the masked steps of both directions output zeros, as in Keras.

    Example:
        >>> Bidirectional(LSTM(32, return_sequences=True))  # doctest: +SKIP
    """

    wraps = ("forward_layer", "backward_layer")

    def __init__(self, layer: Any, merge_mode: str | None = "concat", backward_layer: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forward_layer = _layer_from(layer, "layer")
        if merge_mode not in MERGE_MODES:
            extra = (" merge_mode=None returns two tensors, which a Sequential model cannot pass on."
                     if merge_mode is None else "")
            raise ConfigError(
                f"Bidirectional expects `merge_mode` to be one of {', '.join(map(repr, MERGE_MODES))}. "
                f"Received: merge_mode={merge_mode!r}.{extra}"
            )
        self.merge_mode = merge_mode
        if backward_layer is None:
            config = {**self.forward_layer.get_config(), "go_backwards": not self.forward_layer.go_backwards,
                      "name": f"backward_{self.forward_layer.name}"}
            self.backward_layer = type(self.forward_layer).from_config(config)
        else:
            self.backward_layer = _layer_from(backward_layer, "backward_layer")
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ConfigError(
                "Bidirectional needs the forward and backward layers to read in opposite directions, but both "
                f"have go_backwards={forward.go_backwards}. Set go_backwards=True on the backward layer."
            )
        if forward.return_sequences != backward.return_sequences:
            raise ConfigError(
                "Bidirectional needs the forward and backward layers to agree on return_sequences; received "
                f"{forward.return_sequences} and {backward.return_sequences}."
            )
        if getattr(forward, "return_state", False) or getattr(backward, "return_state", False):
            raise ConfigError(
                "Bidirectional does not support wrapped layers with return_state=True yet. Drop return_state, or "
                "run a forward and a go_backwards=True layer yourself, each with return_state=True, and merge them."
            )
        self.return_sequences = forward.return_sequences

    @property
    def declared_input_shape(self) -> Shape | None:
        """The input shape given to the wrapper or, as Keras users often write it, to the wrapped layer."""
        return self._declared_shape or self.forward_layer.declared_input_shape

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        output_shape = self.forward_layer.attach(input_shape)
        self.backward_layer.attach(input_shape)
        for layer in (self.forward_layer, self.backward_layer):
            layer.module.zero_output_for_mask = self.return_sequences  # Keras forces this in Bidirectional
        module = BidirectionalNetwork(self.forward_layer.module, self.backward_layer.module, self.merge_mode,
                                      self.return_sequences)
        if self.merge_mode == "concat":
            output_shape = (*output_shape[:-1], 2 * output_shape[-1])
        return module, output_shape

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        return self.forward_layer.regularization_terms() + self.backward_layer.regularization_terms()

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return self.forward_layer.constraint_terms() + self.backward_layer.constraint_terms()

    def get_weights(self) -> list[np.ndarray]:
        """The forward layer's weights, then the backward layer's, in Keras layout."""
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights: list[Any]) -> None:
        """Load the forward layer's weights, then the backward layer's (Keras's order)."""
        half = len(self.forward_layer.get_weights())
        if len(weights) != 2 * half:
            raise ConfigError(
                f"Bidirectional layer '{self.name}' has {2 * half} weight arrays ({half} per direction) but "
                f"set_weights received {len(weights)}."
            )
        self.forward_layer.set_weights(list(weights[:half]))
        self.backward_layer.set_weights(list(weights[half:]))
