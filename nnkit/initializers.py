"""Weight initializers with Keras names and defaults (``glorot_uniform`` kernels, zero biases).

Fans follow Keras: for a dense kernel ``fan_in`` is the input size and ``fan_out`` the unit count;
for convolutions both are multiplied by the receptive field size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit.errors import ConfigError
from nnkit.registry import Configurable, Registry, serializers, snake_case

INITIALIZERS: Registry[type[Initializer]] = Registry("initializer")

# A standard normal truncated at two standard deviations has this standard deviation.
_TRUNCATED_STDDEV = 0.87962566103423978


def _fans(shape: torch.Size) -> tuple[int, int]:
    """(fan_in, fan_out) of a torch weight of shape ``(out, in, *kernel)`` (Keras rules)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


class Initializer(Configurable):
    """Fills a tensor in place. Subclasses implement ``fill``; the config is the init arguments."""

    def __call__(self, tensor: Any = None, dtype: Any = None, *, shape: Any = None) -> Tensor:
        """Fill ``tensor`` in place (torch layout, as layers build their weights), or, as Keras calls an
        initializer, return a new tensor of ``shape`` in Keras layout with Keras's fans:
        ``GlorotUniform()(shape=(2, 2))`` or ``GlorotUniform()((2, 2))``."""
        if not isinstance(tensor, Tensor):
            from nnkit.ops.core import dtype_of

            shape = tensor if shape is None else shape
            if shape is None:
                raise TypeError(f"{type(self).__name__} takes a shape, e.g. {type(self).__name__}()(shape=(2, 2)).")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            return self.keras_layout(shape, torch.float32 if dtype is None else dtype_of(dtype))
        with torch.no_grad():
            self.fill(tensor)
        return tensor

    def keras_layout(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """A new tensor of Keras-layout ``shape`` (``(in, out)``, ``(*kernel, in, out)``) filled with Keras's
        fans: :meth:`fill` reads torch's layout ``(out, in, *kernel)``, so fill that and permute."""
        if len(shape) < 2:
            return self(torch.empty(shape, dtype=dtype))
        torch_layout = self(torch.empty((shape[-1], shape[-2], *shape[:-2]), dtype=dtype))
        return torch_layout.permute(*range(2, len(shape)), 1, 0).contiguous()

    def fill(self, tensor: Tensor) -> None:
        raise NotImplementedError

    def fill_in_keras_layout(self, tensor: Tensor) -> Tensor:
        """Fill ``tensor`` in place when its torch layout already is Keras's (an embedding table). As
        :meth:`fill` by default; an initializer holding a given tensor copies it unpermuted."""
        with torch.no_grad():
            self.fill(tensor)
        return tensor

    def _generator(self, tensor: Tensor) -> torch.Generator | None:
        seed = getattr(self, "seed", None)
        if seed is None:
            return None
        return torch.Generator(device=tensor.device).manual_seed(seed)


@INITIALIZERS.register("zeros", aliases=("zero",))
class Zeros(Initializer):
    """All zeros."""

    def fill(self, tensor: Tensor) -> None:
        tensor.zero_()


@INITIALIZERS.register("ones", aliases=("one",))
class Ones(Initializer):
    """All ones."""

    def fill(self, tensor: Tensor) -> None:
        tensor.fill_(1.0)


@INITIALIZERS.register("constant")
class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def fill(self, tensor: Tensor) -> None:
        tensor.fill_(self.value)


@INITIALIZERS.register("random_normal", aliases=("normal",))
class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev`` (Keras default 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def fill(self, tensor: Tensor) -> None:
        tensor.normal_(self.mean, self.stddev, generator=self._generator(tensor))


@INITIALIZERS.register("random_uniform", aliases=("uniform",))
class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval]`` (Keras default ±0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def fill(self, tensor: Tensor) -> None:
        tensor.uniform_(self.minval, self.maxval, generator=self._generator(tensor))


@INITIALIZERS.register("truncated_normal")
class TruncatedNormal(Initializer):
    """Normal with ``mean`` and ``stddev``, redrawn beyond two standard deviations."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def fill(self, tensor: Tensor) -> None:
        nn.init.trunc_normal_(tensor, self.mean, self.stddev, -2 * self.stddev + self.mean,
                              2 * self.stddev + self.mean, generator=self._generator(tensor))


@INITIALIZERS.register("variance_scaling")
class VarianceScaling(Initializer):
    """Scale-aware random init: variance ``scale / n`` with ``n`` from ``mode``.

    Args:
        scale: Positive scale factor.
        mode: ``'fan_in'``, ``'fan_out'`` or ``'fan_avg'``.
        distribution: ``'truncated_normal'``, ``'untruncated_normal'`` or ``'uniform'``.
        seed: Optional seed for a reproducible draw.
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None) -> None:
        if scale <= 0:
            raise ConfigError(f"VarianceScaling expects a positive `scale`. Received: scale={scale!r}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigError(f"VarianceScaling `mode` must be 'fan_in', 'fan_out' or 'fan_avg'. Received: {mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ConfigError(
                "VarianceScaling `distribution` must be 'truncated_normal', 'untruncated_normal' or "
                f"'uniform'. Received: {distribution!r}."
            )
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def fill(self, tensor: Tensor) -> None:
        fan_in, fan_out = _fans(tensor.shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        gen = self._generator(tensor)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            tensor.uniform_(-limit, limit, generator=gen)
        elif self.distribution == "untruncated_normal":
            tensor.normal_(0.0, math.sqrt(variance), generator=gen)
        else:
            std = math.sqrt(variance) / _TRUNCATED_STDDEV
            nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator=gen)


def _variance_scaling(name: str, scale: float, mode: str, distribution: str, doc: str) -> type:
    def __init__(self, seed: int | None = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}

    cls = type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})
    INITIALIZERS.add(snake_case(name), cls)
    return cls


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform",
                                  "Uniform on ±sqrt(6 / (fan_in + fan_out)); the Keras kernel default.")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                                 "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform", "Uniform on ±sqrt(6 / fan_in).")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal",
                             "Truncated normal with stddev sqrt(2 / fan_in).")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform", "Uniform on ±sqrt(3 / fan_in).")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal",
                                "Truncated normal with stddev sqrt(1 / fan_in).")


@INITIALIZERS.register("orthogonal")
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain``."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain, self.seed = gain, seed

    def fill(self, tensor: Tensor) -> None:
        nn.init.orthogonal_(tensor, gain=self.gain, generator=self._generator(tensor))


def get(identifier: Any) -> Initializer | None:
    """An initializer from a Keras name, a ``{"class_name", "config"}`` dict, an instance, a callable, or a
    tensor / NumPy array: the initializer of weights of exactly that value (and shape)."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, (Tensor, np.ndarray, np.generic)):
        return _ValueInitializer(identifier)
    if isinstance(identifier, dict):
        return INITIALIZERS.get(identifier.get("class_name", "")).from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        return INITIALIZERS.get(identifier)()
    if callable(identifier):
        return _CallableInitializer(identifier)
    raise ConfigError(f"Expected an initializer name, dict or instance. Received: {identifier!r}.")


class _ValueInitializer(Initializer):
    """Weights equal to a given tensor (``initializers.get(tensor)``), which is in Keras's layout.

    Called with a shape (as Keras calls it, and as ``add_weight`` builds), the shape must be the tensor's.
    Filling a torch weight of layout ``(out, in, *kernel)`` (as the built-in layers do) copies the tensor
    permuted from Keras's ``(*kernel, in, out)``; a 1-D tensor, or a weight already in Keras's layout
    (:meth:`fill_in_keras_layout`), gets it as it is.
    """

    def __init__(self, value: Any) -> None:
        self.value = torch.as_tensor(value).detach()

    def keras_layout(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        self._check(shape)
        return self.value.to(dtype).clone()

    def fill(self, tensor: Tensor) -> None:
        shape = tuple(tensor.shape)
        self._check((*shape[2:], shape[1], shape[0]) if len(shape) >= 2 else shape)
        n = self.value.ndim
        tensor.copy_(self.value.permute(n - 1, n - 2, *range(n - 2)) if n >= 2 else self.value)

    def fill_in_keras_layout(self, tensor: Tensor) -> Tensor:
        self._check(tuple(tensor.shape))
        with torch.no_grad():
            tensor.copy_(self.value)
        return tensor

    def _check(self, keras_shape: tuple[int, ...]) -> None:
        if tuple(keras_shape) != tuple(self.value.shape):
            raise ConfigError(f"The initializer given as a tensor of shape {tuple(self.value.shape)} cannot fill a "
                              f"weight of shape {tuple(keras_shape)}; pass a tensor of the weight's shape.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={tuple(self.value.shape)}, dtype={self.value.dtype})"


class _CallableInitializer(Initializer):
    """A user function ``fn(tensor)`` or ``fn(shape) -> tensor`` used as an initializer."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def fill(self, tensor: Tensor) -> None:
        result = self.fn(tensor)
        if isinstance(result, Tensor) and result is not tensor:
            tensor.copy_(result)


@INITIALIZERS.register("identity", aliases=("Identity", "IdentityInitializer"))
class Identity(Initializer):
    """``gain`` times the identity matrix (2-D weights only).

    Args:
        gain: The value on the diagonal.
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def fill(self, tensor: Tensor) -> None:
        if tensor.ndim != 2:
            raise ConfigError(f"Identity initializer needs a 2-D weight; received shape {tuple(tensor.shape)}.")
        tensor.copy_(torch.eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device) * self.gain)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


serialize, deserialize = serializers(get, "initializer")

# Keras's lowercase spellings of the classes (keras.initializers.glorot_uniform() is GlorotUniform()).
constant, zeros, ones, identity = Constant, Zeros, Ones, Identity
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, OrthogonalInitializer, IdentityInitializer = VarianceScaling, Orthogonal, Orthogonal, Identity
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal
