"""Preprocessing layers that turn numbers into categories: ``CategoryEncoding`` and ``Discretization``.

Both have no trainable weights and work inside a model (and ``fit``) or standalone on arrays.
:func:`encode_categories` is the one-hot / multi-hot / count encoding the lookup and text layers share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError, DataError, NotReadyError
from nnkit.layers.base import LAYERS, Layer, Shape

ENCODED_MODES = ("one_hot", "multi_hot", "count")


def check_choice(value: Any, choices: tuple[str, ...], arg: str, layer: str) -> str:
    """``value`` if it is one of ``choices``, else a ``ConfigError`` listing them."""
    if value not in choices:
        raise ConfigError(f"{layer} expects `{arg}` to be one of {', '.join(map(repr, choices))}. "
                          f"Received: {arg}={value!r}.")
    return value


def encode_categories(indices: Tensor, output_mode: str, depth: int, count_weights: Tensor | None = None,
                      dtype: torch.dtype | None = None) -> Tensor:
    """Keras's ``encode_categorical_inputs`` on the torch backend, for indices in ``[0, depth)``.

    ``one_hot`` adds an axis of ``depth`` (replacing a last axis of size 1); ``multi_hot`` and ``count``
    reduce axis 1 (axis 0 of 1-D inputs) into an axis of ``depth`` at the end, as Keras does. Negative
    indices encode as zeros. Memory stays ``O(output)``: a scatter, not a one-hot tensor per element.
    """
    dtype = dtype or config.float_dtype()
    if output_mode == "int":
        return indices
    indices = indices.long()
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices.squeeze(-1)
        out = torch.zeros((*indices.shape, depth), dtype=dtype, device=indices.device)
        valid = indices >= 0
        return out.scatter_(-1, indices.clamp(min=0).unsqueeze(-1), valid.unsqueeze(-1).to(dtype))
    axis = 1 if indices.ndim > 1 else 0
    indices = indices.movedim(axis, -1)
    valid = (indices >= 0).to(dtype)
    if count_weights is not None:
        valid = valid * count_weights.movedim(axis, -1).to(valid.device)
        dtype = valid.dtype
    out = torch.zeros((*indices.shape[:-1], depth), dtype=dtype, device=indices.device)
    if output_mode == "multi_hot":
        return out.scatter_reduce_(-1, indices.clamp(min=0), valid, reduce="amax")
    return out.scatter_add_(-1, indices.clamp(min=0), valid)


def encoded_shape(input_shape: Shape, output_mode: str, depth: int) -> Shape:
    """The per-sample output shape of :func:`encode_categories` (batch axis not counted)."""
    if output_mode == "int":
        return input_shape
    if output_mode == "one_hot":
        return (*input_shape[:-1], depth) if input_shape and input_shape[-1] == 1 else (*input_shape, depth)
    return (*input_shape[1:], depth)  # axis 1 of the batch is axis 0 of a sample


class Encode(nn.Module):
    """Checks that ids lie below ``depth`` and encodes them (see :func:`encode_categories`)."""

    def __init__(self, num_tokens: int, output_mode: str, layer_name: str) -> None:
        super().__init__()
        self.num_tokens, self.output_mode, self.layer_name = num_tokens, output_mode, layer_name

    def forward(self, x: Tensor, count_weights: Any = None) -> Tensor:
        if count_weights is not None and self.output_mode != "count":
            raise ConfigError(f"CategoryEncoding layer '{self.layer_name}' uses count_weights only with "
                              f"output_mode='count'; it has output_mode={self.output_mode!r}. Drop count_weights.")
        if x.numel() and bool((x >= self.num_tokens).any()):
            raise DataError(
                f"CategoryEncoding layer '{self.layer_name}' has num_tokens={self.num_tokens}, so its inputs must lie "
                f"in [0, {self.num_tokens - 1}], but it received the value {x.max().item():g}. Raise num_tokens, or "
                "map values to ids first with IntegerLookup."
            )
        if count_weights is not None:
            count_weights = torch.as_tensor(count_weights, dtype=config.float_dtype())
        return encode_categories(x, self.output_mode, self.num_tokens, count_weights)

    def extra_repr(self) -> str:
        return f"num_tokens={self.num_tokens}, output_mode={self.output_mode!r}"


@LAYERS.register("category_encoding")
class CategoryEncoding(Layer):
    """Encodes integer ids in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors (float32).

    Args:
        num_tokens: How many ids there are; inputs must lie in ``[0, num_tokens)`` (larger ones raise a
            ``DataError``; negative ones encode as zeros, as on Keras's torch backend).
        output_mode: ``"one_hot"`` (one vector per id; a last axis of size 1 is replaced),
            ``"multi_hot"`` (default; 1 for each id present in a sample, the ids of a sample along axis 1)
            or ``"count"`` (how often each id occurs; ``count_weights=`` in the call weighs them).
        sparse: Only ``False``: torch has no sparse outputs here (as on Keras's torch backend).

    Example:
        >>> CategoryEncoding(num_tokens=4, output_mode="one_hot")([3, 2, 0, 1])
        tensor([[0., 0., 0., 1.],
                [0., 0., 1., 0.],
                [1., 0., 0., 0.],
                [0., 1., 0., 0.]])
    """

    layout = "any"

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot", sparse: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        output_mode = "multi_hot" if output_mode == "binary" else output_mode  # Keras's old name
        self.output_mode = check_choice(output_mode, ENCODED_MODES, "output_mode", "CategoryEncoding")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or num_tokens < 1:
            raise ConfigError(
                f"CategoryEncoding expects `num_tokens` to be a positive int (how many ids there are). Received: "
                f"num_tokens={num_tokens!r}. If the number of ids is not known beforehand, use IntegerLookup instead."
            )
        if sparse:
            raise ConfigError("CategoryEncoding(sparse=True) is not supported: torch outputs are dense (as on Keras's "
                              "torch backend). Drop `sparse`.")
        self.num_tokens, self.sparse = int(num_tokens), False

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        return Encode(self.num_tokens, self.output_mode, self.name), encoded_shape(input_shape, self.output_mode,
                                                                                   self.num_tokens)


# -- Discretization ---------------------------------------------------------------------------------------------
# Keras's approximate quantiles (keras/src/layers/preprocessing/discretization.py), kept verbatim so that
# adapted boundaries equal Keras's.

def _summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    values = np.sort(np.reshape(values, [-1]))
    step = max(np.size(values) / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def _compress(summary: np.ndarray, epsilon: float) -> np.ndarray:
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def _merge(prev: np.ndarray, new: np.ndarray, epsilon: float) -> np.ndarray:
    merged = np.concatenate((prev, new), axis=1)
    return _compress(np.take(merged, np.argsort(merged[0]), axis=1), epsilon)


def adapt_batches(data: Any) -> Iterable[Any]:
    """``data`` as an iterable of batches: one array (or nested list), or each batch of an iterable such as
    a ``DataLoader`` or a list of arrays (``x`` of ``(x, y)`` batches)."""
    if isinstance(data, Tensor):
        return [data.detach().cpu().numpy()]
    if hasattr(data, "to_numpy"):  # pandas
        return [data.to_numpy()]
    if isinstance(data, (np.ndarray, str, bytes)) or not isinstance(data, Iterable):
        return [data]
    if isinstance(data, (list, tuple)) and not (data and isinstance(data[0], (np.ndarray, Tensor))):
        return [data]  # a (nested) list of values is one batch
    return (_inputs_of(batch) for batch in data)


def _inputs_of(batch: Any) -> Any:
    """The inputs ``x`` of an ``(x, y)`` or ``(x, y, sample_weight)`` batch (labels as arrays or tensors)."""
    if (isinstance(batch, (tuple, list)) and len(batch) in (2, 3) and isinstance(batch[1], (np.ndarray, Tensor))
            and isinstance(batch[0], (np.ndarray, Tensor, list, tuple))):
        return batch[0]
    return batch


class Bucketize(nn.Module):
    """``torch.bucketize(x, boundaries, right=True)`` (Keras's ``digitize``), then the encoding."""

    def __init__(self, boundaries: list[float] | None, output_mode: str, layer_name: str) -> None:
        super().__init__()
        self.output_mode, self.layer_name = output_mode, layer_name
        self.set_boundaries(boundaries)

    def set_boundaries(self, boundaries: list[float] | None) -> None:
        # Configuration, not state: the boundaries are saved in the layer's config.
        values = None if boundaries is None else torch.tensor(boundaries, dtype=torch.float32)
        self.register_buffer("boundaries", values, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.boundaries is None:
            raise NotReadyError(f"Discretization layer '{self.layer_name}' has no bin boundaries yet: call "
                                "layer.adapt(data) first, or create it with bin_boundaries=[...].")
        boundaries = self.boundaries if self.boundaries.dtype == x.dtype else self.boundaries.to(x.dtype)
        indices = torch.bucketize(x, boundaries, right=True, out_int32=True)
        return encode_categories(indices, self.output_mode, len(self.boundaries) + 1)

    def extra_repr(self) -> str:
        size = None if self.boundaries is None else len(self.boundaries)
        return f"boundaries={size}, output_mode={self.output_mode!r}"


@LAYERS.register("discretization")
class Discretization(Layer):
    """Buckets continuous values by ranges: bin ``i`` holds ``bin_boundaries[i-1] <= x < bin_boundaries[i]``.

    Give ``bin_boundaries``, or ``num_bins`` and call :meth:`adapt` to place them at (approximate) quantiles
    of the data, exactly as Keras computes them.

    Args:
        bin_boundaries: Sorted boundaries; ``[0., 1., 2.]`` makes bins ``(-inf, 0)``, ``[0, 1)``, ``[1, 2)``,
            ``[2, inf)``.
        num_bins: Number of bins :meth:`adapt` computes boundaries for.
        epsilon: Error tolerance of the quantiles (smaller is more exact, Keras default 0.01).
        output_mode: ``"int"`` (bin indices, int32 as in Keras), ``"one_hot"``, ``"multi_hot"`` or
            ``"count"`` (float32; encoded as :class:`CategoryEncoding` does).
        sparse: Only ``False`` (dense torch outputs).

    After :meth:`adapt`, ``get_config()`` holds the computed ``bin_boundaries`` (as in Keras), so a saved
    model keeps them.

    Example:
        >>> layer = Discretization(bin_boundaries=[0.0, 1.0, 2.0])
        >>> layer([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
        tensor([[0, 2, 3, 1],
                [1, 3, 2, 1]], dtype=torch.int32)
    """

    layout = "any"

    def __init__(self, bin_boundaries: list[float] | None = None, num_bins: int | None = None, epsilon: float = 0.01,
                 output_mode: str = "int", sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_mode = check_choice(output_mode, ("int", *ENCODED_MODES), "output_mode", "Discretization")
        if sparse:
            raise ConfigError("Discretization(sparse=True) is not supported: torch outputs are dense. Drop `sparse`.")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer))
                                     or num_bins < 0):
            raise ConfigError(f"Discretization expects `num_bins` to be an int >= 0. Received: num_bins={num_bins!r}.")
        if (num_bins is None) == (bin_boundaries is None):
            raise ConfigError(
                "Discretization needs either `bin_boundaries` (the boundaries) or `num_bins` (then call adapt), not "
                f"{'both' if num_bins is not None else 'neither'}. Received: bin_boundaries={bin_boundaries!r}, "
                f"num_bins={num_bins!r}."
            )
        if bin_boundaries is not None:
            bin_boundaries = [float(b) for b in np.asarray(bin_boundaries, dtype=np.float64).reshape(-1)]
            if np.any(np.diff(bin_boundaries) < 0):
                raise ConfigError(f"Discretization expects sorted `bin_boundaries`. Received: {bin_boundaries!r}.")
        self.bin_boundaries, self.num_bins, self.epsilon, self.sparse = bin_boundaries, num_bins, epsilon, False

    @property
    def _depth(self) -> int:
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        module = Bucketize(self.bin_boundaries, self.output_mode, self.name)
        return module, encoded_shape(input_shape, self.output_mode, self._depth)

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Place ``num_bins - 1`` boundaries at approximate quantiles of ``data`` (all its values).

        Args:
            data: A NumPy array, tensor or list of values, or an iterable of batches (such as a
                ``DataLoader``; ``(x, y)`` batches use ``x``).
            steps: How many batches of an iterable to read (all by default).

        Raises:
            ConfigError: the layer was created with ``bin_boundaries``.
            DataError: the data is empty.
        """
        if self.num_bins is None:
            raise ConfigError(f"Discretization layer '{self.name}' was given bin_boundaries; adapt() is for layers "
                              "created with num_bins=.")
        summary = np.array([[], []], dtype="float32")
        for i, batch in enumerate(adapt_batches(data)):
            if steps is not None and i >= steps:
                break
            values = batch.detach().cpu().numpy() if isinstance(batch, Tensor) else np.array(batch)
            summary = _merge(_summarize(values.astype("float32"), self.epsilon), summary, self.epsilon)
        if summary.shape[1] == 0:
            raise DataError(f"Discretization layer '{self.name}' cannot adapt to empty data.")
        self.bin_boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()
        if self.module is not None:
            self.module.set_boundaries(self.bin_boundaries)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with the adapted ``bin_boundaries``."""
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Discretization:
        """An adapted layer's config holds both ``num_bins`` and ``bin_boundaries`` (as in Keras)."""
        config = dict(config)
        boundaries = config.pop("bin_boundaries", None)
        if config.get("num_bins") is None:
            return cls(bin_boundaries=boundaries, **config)
        layer = cls(**config)
        layer.bin_boundaries = boundaries
        return layer

    @property
    def weights(self) -> list[Tensor]:
        """None: the boundaries are configuration (as in Keras)."""
        return []
