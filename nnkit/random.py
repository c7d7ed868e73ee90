"""``keras.random`` on torch: random tensors from a seed (an int, a :class:`SeedGenerator`, or ``None`` for
torch's global generator, which ``nnkit.utils.set_random_seed`` seeds)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.ops.core import convert_to_tensor, dtype_of


class SeedGenerator:
    """A stream of random draws: each call of a ``nnkit.random`` function with it gives new numbers, and the
    same seed gives the same stream (as ``keras.random.SeedGenerator``).

    Args:
        seed: The starting seed (``None``: drawn from torch's global generator).
    """

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        self.seed = int(torch.randint(0, 2**31 - 1, ()).item()) if seed is None else int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    def __repr__(self) -> str:
        return f"SeedGenerator(seed={self.seed})"


def _generator(seed: Any) -> torch.Generator | None:
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        return seed.generator
    return torch.Generator().manual_seed(int(seed))


def _shape(shape: Any) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _float(dtype: Any) -> torch.dtype:
    return torch.float32 if dtype is None else dtype_of(dtype)


def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None) -> Tensor:
    """Normally distributed values."""
    out = torch.randn(_shape(shape), generator=_generator(seed), dtype=_float(dtype))
    return out * stddev + mean


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None) -> Tensor:
    """Uniformly distributed values in ``[minval, maxval)``."""
    out = torch.rand(_shape(shape), generator=_generator(seed), dtype=_float(dtype))
    return out * (maxval - minval) + minval


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                     seed: Any = None) -> Tensor:
    """Normal values redrawn until within two standard deviations of the mean."""
    out = torch.empty(_shape(shape), dtype=_float(dtype))
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=_generator(seed))
    return out * stddev + mean


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Integers drawn uniformly from ``[minval, maxval)``."""
    return torch.randint(minval, maxval, _shape(shape), generator=_generator(seed), dtype=dtype_of(dtype))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Tensor:
    """``x`` with its entries along ``axis`` in random order."""
    x = convert_to_tensor(x)
    order = torch.randperm(x.shape[axis], generator=_generator(seed))
    return x.index_select(axis, order)


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> Tensor:
    """Zero each value with probability ``rate`` and scale the rest by ``1 / (1 - rate)``."""
    x = convert_to_tensor(inputs)
    shape = x.shape if noise_shape is None else _shape(noise_shape)
    keep = torch.rand(shape, generator=_generator(seed)) >= rate
    return x * keep.to(x.dtype) / (1.0 - rate)


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """``num_samples`` class indices per row of ``logits`` (shape ``(batch, classes)``), drawn with the
    probabilities ``softmax(logits)``."""
    logits = convert_to_tensor(logits).float()
    probabilities = torch.softmax(logits, dim=-1)
    draws = torch.multinomial(probabilities, num_samples, replacement=True, generator=_generator(seed))
    return draws.to(dtype_of(dtype))


def gamma(shape: Any, alpha: float, dtype: Any = None, seed: Any = None) -> Tensor:
    """Gamma-distributed values with concentration ``alpha`` and scale 1."""
    concentration = torch.full(_shape(shape), float(alpha), dtype=torch.float64)
    return torch._standard_gamma(concentration, generator=_generator(seed)).to(_float(dtype))


def beta(shape: Any, alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> Tensor:
    """Beta-distributed values: ``X / (X + Y)`` with ``X ~ Gamma(alpha)`` and ``Y ~ Gamma(beta)``."""
    generator = _generator(seed)
    a = torch.broadcast_to(convert_to_tensor(alpha, dtype=torch.float64), _shape(shape))
    b = torch.broadcast_to(convert_to_tensor(beta, dtype=torch.float64), _shape(shape))
    x = torch._standard_gamma(a.contiguous(), generator=generator)
    y = torch._standard_gamma(b.contiguous(), generator=generator)
    return (x / (x + y)).to(_float(dtype))


def binomial(shape: Any, counts: Any, probabilities: Any, dtype: Any = None, seed: Any = None) -> Tensor:
    """Binomially distributed counts of successes in ``counts`` trials with success ``probabilities``."""
    n = torch.broadcast_to(convert_to_tensor(counts, dtype=torch.float32), _shape(shape)).contiguous()
    p = torch.broadcast_to(convert_to_tensor(probabilities, dtype=torch.float32), _shape(shape)).contiguous()
    return torch.binomial(n, p, generator=_generator(seed)).to(_float(dtype))


__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint", "shuffle",
           "truncated_normal", "uniform"]
