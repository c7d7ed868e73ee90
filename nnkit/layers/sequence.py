"""Layers that rearrange sequences: ``RepeatVector``, ``Permute`` and ``TimeDistributed``."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape


class Repeat(nn.Module):
    """``(batch, features)`` -> ``(batch, n, features)``, the vector copied ``n`` times."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(1).repeat(1, self.n, 1)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> None:
        """Keras's RepeatVector does not pass masks on."""
        return None

    def extra_repr(self) -> str:
        return f"n={self.n}"


@LAYERS.register("repeat_vector")
class RepeatVector(Layer):
    """Repeats each input vector ``n`` times: ``(batch, features)`` -> ``(batch, n, features)``.

    The usual bridge from an encoder's last state to a decoder that outputs ``n`` steps.

    Args:
        n: Number of repetitions.
    """

    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"RepeatVector expects `n` to be a positive int. Received: n={n!r}.")
        self.n = int(n)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if len(input_shape) != 1:
            raise ConfigError(
                f"RepeatVector layer '{self.name}' expects inputs of shape (batch, features) but received "
                f"{(None, *input_shape)}. Put it after a layer that returns one vector per sample, e.g. "
                "LSTM(return_sequences=False) or Flatten()."
            )
        return Repeat(self.n), (self.n, input_shape[0])


class PermuteAxes(nn.Module):
    """Permutes the axes of each sample (the batch axis stays first)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(0, *self.dims)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> None:
        """Keras's Permute does not pass masks on."""
        return None

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


@LAYERS.register("permute")
class Permute(Layer):
    """Permutes the axes of each sample, e.g. ``Permute((2, 1))`` swaps steps and features.

    Args:
        dims: A permutation of ``1..rank`` (axis 0, the batch, is not numbered), as in Keras.
    """

    keeps_integers = True  # integer inputs stay integers, as in Keras

    def __init__(self, dims: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            permutation = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            permutation = ()
        if not permutation or sorted(permutation) != list(range(1, len(permutation) + 1)):
            raise ConfigError(
                "Permute expects `dims` to be a permutation of 1..rank (axis 0 is the batch), e.g. (2, 1). "
                f"Received: dims={dims!r}."
            )
        self.dims = permutation

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if len(input_shape) != len(self.dims):
            raise ConfigError(
                f"Permute layer '{self.name}' has dims={self.dims} for samples of rank {len(self.dims)}, but "
                f"received inputs of shape {(None, *input_shape)} (rank {len(input_shape)} per sample)."
            )
        return PermuteAxes(self.dims), tuple(input_shape[d - 1] for d in self.dims)


class EachStep(nn.Module):
    """Applies ``inner`` to every step: ``(batch, steps, ...)`` is folded to ``(batch * steps, ...)``.

    ``move_in`` / ``move_out`` move the channel axis (last <-> 1) before / after ``inner`` for a
    torch-layout layer (a channels-last convolution), as the model does at its own boundaries.
    """

    def __init__(self, inner: nn.Module, move_in: bool = False, move_out: bool = False) -> None:
        super().__init__()
        self.inner, self.move_in, self.move_out = inner, move_in, move_out

    def forward(self, x: Tensor) -> Tensor:
        batch, steps = x.shape[:2]
        y = x.reshape(batch * steps, *x.shape[2:])
        if self.move_in:
            y = y.movedim(-1, 1)
        y = self.inner(y)
        if self.move_out:
            y = y.movedim(1, -1)
        return y.reshape(batch, steps, *y.shape[1:])


def _layer_from(value: Any) -> Layer:
    if isinstance(value, dict) and "class_name" in value:  # from get_config
        value = LAYERS.get(value["class_name"]).from_config(value.get("config", {}))
    if not isinstance(value, Layer):
        raise ConfigError(f"TimeDistributed expects an nnkit layer such as Dense(10). Received: {value!r}.")
    return value


@LAYERS.register("time_distributed")
class TimeDistributed(Layer):
    """Applies a layer to every step of a sequence, with the same weights for all steps.

    ``TimeDistributed(Dense(8))`` on ``(batch, 10, 16)`` gives ``(batch, 10, 8)``. The weights are the
    wrapped layer's (same count, order and layout as in Keras).

    Args:
        layer: The layer to apply; it sees one step, ``input_shape[1:]``, per call.
    """

    wraps = ("layer",)

    def __init__(self, layer: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layer = _layer_from(layer)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if len(input_shape) < 2:
            raise ConfigError(
                f"TimeDistributed layer '{self.name}' expects inputs of shape (batch, timesteps, ...) with at "
                f"least one axis per step, but received {(None, *input_shape)}."
            )
        step_shape = tuple(input_shape[1:])
        output_shape = self.layer.attach(step_shape)
        torch_layout = self.layer.layout == "torch"
        module = EachStep(self.layer.module, move_in=torch_layout and len(step_shape) >= 2,
                          move_out=torch_layout and len(output_shape) >= 2)
        return module, (input_shape[0], *output_shape)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        return self.layer.regularization_terms()

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return self.layer.constraint_terms()

    def get_weights(self) -> list[np.ndarray]:
        """The wrapped layer's weights in Keras layout."""
        return self.layer.get_weights()

    def set_weights(self, weights: list[Any]) -> None:
        """Load the wrapped layer's weights (Keras layout)."""
        self.layer.set_weights(weights)
