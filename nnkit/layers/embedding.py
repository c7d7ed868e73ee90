"""Layers that start a sequence model: ``Embedding`` (token ids -> vectors) and ``Masking``.

Both can produce a Keras mask that the recurrent layers and ``GlobalAveragePooling1D`` after them
honour: ``Embedding(mask_zero=True)`` masks id 0 (the padding of ``pad_sequences``), ``Masking`` masks
steps whose features all equal ``mask_value``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit import config, constraints, initializers
from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Layer, Shape, regularizer_terms


def _positive_int(value: Any, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"Embedding expects `{arg}` to be a positive int. Received: {arg}={value!r}.")
    return int(value)


class EmbeddingLookup(nn.Embedding):
    """``nn.Embedding`` that reads float-typed ids too (as Keras casts them) and computes the padding mask.

    Ids outside ``[0, input_dim)`` raise an ``IndexError`` naming the layer (on CPU; CUDA reports a
    device-side assert). Sequential checks in-memory data once before it reaches this module.
    """

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool, layer_name: str,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(input_dim, output_dim, dtype=dtype)
        self.mask_zero, self.layer_name = mask_zero, layer_name

    def forward(self, x: Tensor) -> Tensor:
        if x.is_floating_point():
            x = x.long()
        try:
            return F.embedding(x, self.weight)
        except IndexError as exc:
            raise IndexError(
                f"Embedding layer '{self.layer_name}' received a token id outside [0, {self.num_embeddings - 1}] "
                f"(input_dim={self.num_embeddings}). Raise input_dim or map rare tokens to a known id."
            ) from exc

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> Tensor | None:
        """``inputs != 0`` with ``mask_zero``, else no mask (Keras)."""
        return inputs != 0 if self.mask_zero else None

    def extra_repr(self) -> str:
        return super().extra_repr() + (", mask_zero=True" if self.mask_zero else "")


@LAYERS.register("embedding")
class Embedding(Layer):
    """Turns integer token ids into dense vectors: ``(batch, steps)`` -> ``(batch, steps, output_dim)``.

    Args:
        input_dim: Vocabulary size: ids must lie in ``[0, input_dim)`` (with ``mask_zero``, id 0 is
            padding, so a vocabulary of ``n`` words needs ``input_dim = n + 1``).
        output_dim: Size of each vector.
        embeddings_initializer: Initializer of the table (Keras default ``'uniform'``: uniform on ±0.05).
        embeddings_regularizer: Penalty on the table added to the loss.
        embeddings_constraint: Projection of the table after each optimizer step.
        mask_zero: Treat id 0 as padding: the recurrent layers and ``GlobalAveragePooling1D`` after
            this layer skip those steps.
        input_length: Keras 2's way to give the sequence length; used as ``input_shape=(input_length,)``.

    When ``Embedding`` is the model's first layer, ``x`` stays integer (it is not cast to float) and is
    checked once per ``fit`` / ``evaluate`` / ``predict``: ids must be whole numbers in ``[0, input_dim)``.

    Example:
        >>> Embedding(10_000, 64, mask_zero=True)
        Embedding(input_dim=10000, output_dim=64, mask_zero=True)
    """

    input_dtype = torch.int64

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, embeddings_constraint: Any = None, mask_zero: bool = False,
                 input_length: int | None = None, **kwargs: Any) -> None:
        if input_length is not None and not any(
                kwargs.get(k) is not None for k in ("input_shape", "input_dim", "batch_input_shape")):
            kwargs["input_shape"] = (_positive_int(input_length, "input_length"),)
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = embeddings_regularizer
        regularizer_terms([(torch.empty(0), embeddings_regularizer)])
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.produces_mask = self.mask_zero

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        module = EmbeddingLookup(self.input_dim, self.output_dim, self.mask_zero, self.name,
                                 dtype=config.float_dtype())
        self.embeddings_initializer.fill_in_keras_layout(module.weight)  # the table is (input_dim, output_dim)
        return module, (*input_shape, self.output_dim)

    def check_data(self, x: Tensor, what: str) -> None:
        """Token ids must be whole numbers in ``[0, input_dim)``; one pass over ``x``, one host sync."""
        if x.is_floating_point():
            fractional = torch.frac(x) != 0
            if bool(fractional.any()):
                example = x[fractional][0].item()
                raise DataError(
                    f"Embedding layer '{self.name}' expects integer token ids, but `{what}` holds non-integer "
                    f"values such as {example:g} (dtype {str(x.dtype).replace('torch.', '')}). Embedding looks "
                    "rows up by id; for real-valued features use Dense (or Masking before an LSTM) instead."
                )
        low, high = (v.item() for v in torch.aminmax(x))
        if low < 0 or high >= self.input_dim:
            bad = low if low < 0 else high
            raise DataError(
                f"Embedding layer '{self.name}' has input_dim={self.input_dim}, so token ids must lie in "
                f"[0, {self.input_dim - 1}], but `{what}` holds the id {bad:g}. "
                + ("Ids must be non-negative." if bad < 0 else f"Use input_dim={int(high) + 1} or more, or map "
                   "rare tokens to an out-of-vocabulary id.")
            )

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        return regularizer_terms([(self.module.weight, self.embeddings_regularizer)])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return constraints.constraint_terms([(self.module.weight, self.embeddings_constraint)])


class MaskSteps(nn.Module):
    """Zeroes the steps whose features all equal ``mask_value`` and masks them for later layers."""

    def __init__(self, mask_value: float) -> None:
        super().__init__()
        self.mask_value = mask_value

    def forward(self, x: Tensor) -> Tensor:
        keep = (x != self.mask_value).any(dim=-1, keepdim=True)
        return torch.where(keep, x, 0.0)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> Tensor:
        """A step is valid when any of its features differs from ``mask_value``."""
        return (inputs != self.mask_value).any(dim=-1)

    def extra_repr(self) -> str:
        return f"mask_value={self.mask_value}"


@LAYERS.register("masking")
class Masking(Layer):
    """Masks the steps of a ``(batch, steps, features)`` sequence whose features all equal ``mask_value``.

    Later recurrent layers skip those steps and ``GlobalAveragePooling1D`` leaves them out, as in Keras;
    the masked steps' outputs are zeroed.

    Args:
        mask_value: The padding value (default ``0.0``).
    """

    produces_mask = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise ConfigError(f"Masking expects `mask_value` to be a number. Received: mask_value={mask_value!r}.")
        self.mask_value = float(mask_value)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        if len(input_shape) < 2:
            raise ConfigError(
                f"Masking layer '{self.name}' expects inputs of shape (batch, steps, features) but received "
                f"{(None, *input_shape)}. Give each step a feature axis, e.g. x.reshape(len(x), -1, 1)."
            )
        return MaskSteps(self.mask_value), input_shape
