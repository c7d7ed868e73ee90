"""Preprocessing layers that live inside the model: Normalization (with ``adapt``) and Rescaling."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Layer, Shape

#: Keras's ``backend.epsilon()``: the smallest standard deviation Normalization divides by.
_EPSILON = 1e-7


class Standardize(nn.Module):
    """``(x - mean) / max(sqrt(variance), 1e-7)``, or its inverse, with broadcastable statistics.

    ``mean``/``variance`` hold the kept-axes shape (Keras's weights); ``broadcast`` reshapes them
    against the inputs. ``count`` exists only so the weight list matches Keras's.
    """

    def __init__(self, mean: Tensor, variance: Tensor, broadcast: list[int], invert: bool, adapted: bool) -> None:
        super().__init__()
        dtype = config.float_dtype()
        # Statistics given as arguments are configuration, not state: keep them out of the state dict.
        self.register_buffer("mean", mean.to(dtype), persistent=adapted)
        self.register_buffer("variance", variance.to(dtype), persistent=adapted)
        if adapted:
            self.register_buffer("count", torch.zeros((), dtype=dtype))
        self.broadcast, self.invert = broadcast, invert

    def forward(self, x: Tensor) -> Tensor:
        mean = self.mean.reshape(self.broadcast)
        std = torch.clamp(torch.sqrt(self.variance.reshape(self.broadcast)), min=_EPSILON)
        return mean + x * std if self.invert else (x - mean) / std

    def extra_repr(self) -> str:
        return f"stats_shape={tuple(self.mean.shape)}, invert={self.invert}"


def _batches(data: Any) -> tuple[np.ndarray | None, Iterable[Any] | None]:
    """``(array, None)`` for in-memory data, ``(None, batches)`` for an iterable of batches."""
    if isinstance(data, Tensor):
        return data.detach().cpu().numpy(), None
    if hasattr(data, "to_numpy"):  # pandas
        return data.to_numpy(), None
    if isinstance(data, np.ndarray):
        return data, None
    if isinstance(data, (list, tuple)) and data and not hasattr(data[0], "shape") and not isinstance(data[0], tuple):
        return np.asarray(data), None
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
        return None, data
    raise DataError(
        f"Normalization.adapt expects a NumPy array, tensor, DataFrame or an iterable of batches (such as a "
        f"DataLoader). Received an object of type {type(data).__name__}."
    )


def _first(batch: Any) -> np.ndarray:
    """The inputs of a batch that may be ``(x, y)`` or ``(x, y, sample_weight)``, as an array."""
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    if isinstance(batch, Tensor):
        return batch.detach().cpu().numpy()
    return np.asarray(batch)


@LAYERS.register("normalization")
class Normalization(Layer):
    """Standardizes inputs to zero mean and unit variance per position of ``axis``.

    Give the statistics with ``mean``/``variance`` or compute them from data with :meth:`adapt`
    (before or after adding the layer to a model), as in Keras.

    Args:
        axis: Axis or axes (batch axis counted) that keep their own statistics; ``-1`` is one mean per
            feature, ``None`` a single mean over everything.
        mean: Mean to subtract (scalar or broadcastable to the kept axes); needs ``variance``.
        variance: Variance to divide by (as its square root, at least 1e-7).
        invert: Apply the inverse transformation, ``mean + x * std``.

    Example:
        >>> norm = Normalization()
        >>> norm.adapt(x_train)  # doctest: +SKIP
        >>> model = Sequential([Input(shape=(8,)), norm, Dense(1)])  # doctest: +SKIP
    """

    def __init__(self, axis: int | list[int] | None = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        values = [axis] if isinstance(axis, int) else axis
        if not isinstance(values, (list, tuple)) or any(isinstance(a, bool) or not isinstance(a, int) for a in values):
            raise ConfigError(f"Normalization expects `axis` to be an int, a list of ints or None. Received: {axis!r}.")
        if (mean is None) != (variance is None):
            raise ConfigError(
                "Normalization needs both `mean` and `variance`, or neither (then call adapt(data)). "
                f"Received: mean={mean!r}, variance={variance!r}."
            )
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ConfigError(
                f"Normalization expects `mean` and `variance` of the same shape. Received shapes "
                f"{np.shape(mean)} and {np.shape(variance)}."
            )
        if mean is not None and np.ndim(mean) > len(values):
            raise ConfigError(
                f"Normalization got a `mean` of rank {np.ndim(mean)} but only {len(values)} kept axes (axis={axis!r})."
            )
        self.axis = tuple(values)
        self.mean, self.variance, self.invert = mean, variance, bool(invert)
        self._adapted: tuple[np.ndarray, np.ndarray] | None = None

    # -- axes -----------------------------------------------------------------------------------
    def _keep_axes(self, rank: int) -> tuple[int, ...]:
        """Kept axes (batch counted) for inputs of ``rank`` dimensions including the batch axis."""
        for a in self.axis:
            if not -rank <= a < rank or a % rank == 0:
                raise ConfigError(
                    f"Normalization layer '{self.name}' got axis={self.axis!r}, but its inputs have {rank} axes "
                    f"and axis 0 is the batch. Use -1 for one mean per feature."
                )
        return tuple(sorted({a % rank for a in self.axis}))

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        rank = len(input_shape) + 1
        keep = self._keep_axes(rank)
        sizes = tuple(input_shape[a - 1] for a in keep)
        broadcast = [input_shape[a - 1] if a in keep else 1 for a in range(rank)]
        if self.mean is not None:
            mean, variance = (self._given(v, keep, broadcast) for v in (self.mean, self.variance))
            return Standardize(mean, variance, broadcast, self.invert, adapted=False), input_shape
        mean, variance = torch.zeros(sizes), torch.ones(sizes)
        if self._adapted is not None:
            self._check_sizes(self._adapted[0].shape, sizes, input_shape)
            mean, variance = (torch.as_tensor(v) for v in self._adapted)
        return Standardize(mean, variance, broadcast, self.invert, adapted=True), input_shape

    def _given(self, value: Any, keep: tuple[int, ...], broadcast: list[int]) -> Tensor:
        """A ``mean``/``variance`` argument aligned right-to-left with the kept axes, as Keras does."""
        array = np.asarray(value, dtype=np.float64)
        expanded = [1] * len(broadcast)
        for i in range(1, array.ndim + 1):
            expanded[keep[-i]] = array.shape[-i]
        try:
            array = np.broadcast_to(array.reshape(expanded), broadcast)
        except ValueError:
            raise ConfigError(
                f"Normalization layer '{self.name}' got a mean/variance of shape {np.shape(value)} that does not "
                f"match inputs {(None, *broadcast[1:])} on the kept axes {keep}."
            ) from None
        return torch.tensor(array.reshape([broadcast[a] for a in keep]))

    def _check_sizes(self, stats: tuple[int, ...], sizes: tuple[int, ...], input_shape: Shape) -> None:
        if tuple(stats) != tuple(sizes):
            raise DataError(
                f"Normalization layer '{self.name}' was adapted on data with {stats} values on its kept axes but "
                f"receives inputs of shape {(None, *input_shape)}, which have {sizes}. Adapt it on data shaped "
                "like the model's inputs."
            )

    # -- adapt ------------------------------------------------------------------------------------
    def adapt(self, data: Any) -> None:
        """Compute the mean and variance of ``data`` per position of the kept axes.

        Args:
            data: A NumPy array, tensor or DataFrame of samples, or an iterable of batches (such as a
                ``DataLoader``; ``(x, y)`` batches use ``x``), combined exactly as one array would be.

        Raises:
            ConfigError: the layer was given ``mean``/``variance``.
            DataError: the data is empty or its shape does not fit the layer.
        """
        if self.mean is not None:
            raise ConfigError(
                f"Normalization layer '{self.name}' was given mean= and variance=; adapt() is for layers "
                "created without them."
            )
        array, batches = _batches(data)
        if array is not None:
            mean, variance = self._moments(array)
        else:
            mean, variance = self._streamed(batches)
        if self.module is not None:
            self._check_sizes(mean.shape, tuple(self.module.mean.shape), self.input_shape)
            with torch.no_grad():
                self.module.mean.copy_(torch.as_tensor(mean))
                self.module.variance.copy_(torch.as_tensor(variance))
        self._adapted = (mean, variance)

    def _reduce_axes(self, array: np.ndarray) -> tuple[int, ...]:
        if array.ndim < 1 or array.shape[0] == 0:
            raise DataError(f"Normalization.adapt needs at least one sample. Received data of shape {array.shape}.")
        keep = self._keep_axes(array.ndim)
        return tuple(a for a in range(array.ndim) if a not in keep)

    def _moments(self, array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        array = np.asarray(array, dtype=np.float64)
        axes = self._reduce_axes(array)
        if not np.all(np.isfinite(array)):
            raise DataError(f"Normalization layer '{self.name}' cannot adapt to data containing NaN or inf.")
        return np.mean(array, axis=axes), np.var(array, axis=axes)

    def _streamed(self, batches: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Keras's running combination of per-batch means and variances."""
        total_mean = total_var = None
        total = 0
        for batch in batches:
            array = _first(batch)
            mean, variance = self._moments(array)
            if total_mean is not None and mean.shape != total_mean.shape:
                raise DataError(
                    f"Normalization.adapt got batches of different feature shapes: {array.shape} after "
                    f"statistics of shape {total_mean.shape}."
                )
            count = int(np.prod([array.shape[a] for a in self._reduce_axes(array)]))
            total += count
            weight = count / total
            if total_mean is None:
                total_mean, total_var = mean, variance
                continue
            new_mean = total_mean * (1 - weight) + mean * weight
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - weight)
                         + (variance + (mean - new_mean) ** 2) * weight)
            total_mean = new_mean
        if total_mean is None:
            raise DataError("Normalization.adapt received an empty iterable; pass at least one batch.")
        return total_mean, total_var

    @property
    def weights(self) -> list[Tensor]:
        """``[mean, variance, count]`` when adapted (as in Keras); none when given as arguments."""
        if self.module is None or self.mean is not None:
            return []
        return [self.module.mean, self.module.variance, self.module.count]


class Rescale(nn.Module):
    """``x * scale + offset``."""

    def __init__(self, scale: float | Tensor, offset: float | Tensor) -> None:
        super().__init__()
        for name, value in (("scale", scale), ("offset", offset)):
            if isinstance(value, Tensor):
                self.register_buffer(name, value, persistent=False)
            else:
                setattr(self, name, value)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.offset

    def extra_repr(self) -> str:
        show = lambda v: tuple(v.shape) if isinstance(v, Tensor) else v  # noqa: E731
        return f"scale={show(self.scale)}, offset={show(self.offset)}"


@LAYERS.register("rescaling")
class Rescaling(Layer):
    """Multiplies inputs by ``scale`` and adds ``offset``: ``Rescaling(1 / 255)`` maps pixels to [0, 1].

    Args:
        scale: A number, or per-channel values broadcast against the trailing axes.
        offset: A number or per-channel values, added after scaling.
    """

    layout = "any"

    def __init__(self, scale: float | list[float], offset: float | list[float] = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                array = np.array([np.nan])
            if not np.all(np.isfinite(array)):
                raise ConfigError(f"Rescaling expects `{name}` to be a finite number or list. Received: {value!r}.")
        self.scale, self.offset = scale, offset

    def _value(self, value: Any, input_shape: Shape) -> float | Tensor:
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 0:
            return float(array)
        if config.image_data_format() == "channels_first" and len(input_shape) >= 3:
            array = array.reshape(array.shape + (1,) * (3 - array.ndim))  # Keras: channels lead the image axes
        try:
            np.broadcast_shapes(array.shape, input_shape)
        except ValueError:
            raise ConfigError(
                f"Rescaling layer '{self.name}' cannot broadcast a scale/offset of shape {array.shape} against "
                f"inputs {(None, *input_shape)}."
            ) from None
        return torch.as_tensor(array, dtype=config.float_dtype())

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        scale, offset = self._value(self.scale, input_shape), self._value(self.offset, input_shape)
        # Per-channel values index the last axis, so they need the Keras layout; plain numbers work in any.
        self.layout = "keras" if isinstance(scale, Tensor) or isinstance(offset, Tensor) else "any"
        return Rescale(scale, offset), input_shape

    @property
    def weights(self) -> list[Tensor]:
        """Rescaling has no weights (its constants are configuration), as in Keras."""
        return []
