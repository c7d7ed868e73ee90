"""Activations by Keras name: functions for tensors and ``torch.nn`` modules for models.

``get(name)`` returns the function (``nnkit.activations.relu(x)`` works as in Keras);
``module(identifier)`` returns a module a model can hold.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit.registry import Registry

ACTIVATIONS: Registry[tuple[Callable[[Tensor], Tensor], Callable[[], nn.Module]]] = Registry("activation")


class Exponential(nn.Module):
    """``exp(x)``, an activation torch has no module for."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.exp(x)


class Function(nn.Module):
    """Wraps a plain callable so a model can hold it as a module."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


def _register(name: str, fn: Callable[..., Tensor], make: Callable[[], nn.Module], aliases=()) -> None:
    fn = _takes_arrays(fn)
    globals()[fn.__name__] = fn  # the module's function takes lists and arrays too, as Keras's do
    ACTIVATIONS.add(name, (fn, make), aliases)


def _takes_arrays(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``fn`` accepting Python lists and NumPy arrays (as float tensors), as Keras's activations do."""

    @functools.wraps(fn)
    def activation(x: Any, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(x, Tensor):
            from nnkit.ops.core import floating

            x = floating(x)
        return fn(x, *args, **kwargs)

    return activation


def linear(x: Tensor) -> Tensor:
    """Identity."""
    return x


def relu(x: Tensor, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0) -> Tensor:
    """``max(x, 0)``, or Keras's general form: ``x`` above ``threshold`` (else 0) capped at ``max_value``, minus
    ``negative_slope * (threshold - x)`` below ``threshold``.

    Example: ``relu([-10, -5, 0.0, 5, 10], negative_slope=0.5)`` is ``[-5, -2.5, 0, 5, 10]``.
    """
    if not negative_slope and max_value is None and not threshold:  # the common case: one kernel
        return F.relu(x)
    if negative_slope and max_value is None and not threshold:
        return F.leaky_relu(x, negative_slope)
    below = F.relu(threshold - x) if negative_slope else None
    if threshold:
        x = torch.where(x > threshold, x, torch.zeros((), dtype=x.dtype, device=x.device))
    elif max_value == 6:
        x, max_value = F.relu6(x), None
    else:
        x = F.relu(x)
    if max_value is not None:
        x = torch.clamp(x, 0.0, max_value)
    return x if below is None else x - negative_slope * below


def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return torch.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Softmax over ``axis`` (the last one by default)."""
    return torch.softmax(x, dim=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Log of the softmax over ``axis``."""
    return torch.log_softmax(x, dim=axis)


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit (exact erf form unless ``approximate``), as in Keras."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit."""
    return F.elu(x, alpha=alpha)


def selu(x: Tensor) -> Tensor:
    """Scaled exponential linear unit."""
    return F.selu(x)


def softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))``."""
    return F.softplus(x)


def softsign(x: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return F.softsign(x)


def silu(x: Tensor) -> Tensor:
    """``x * sigmoid(x)``, also called swish."""
    return F.silu(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """Leaky ReLU with Keras's default slope of 0.2."""
    return F.leaky_relu(x, negative_slope)


def exponential(x: Tensor) -> Tensor:
    """``exp(x)``."""
    return torch.exp(x)


def hard_sigmoid(x: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``, the Keras 3 definition."""
    return F.hardsigmoid(x)


def hard_silu(x: Tensor) -> Tensor:
    """``x * hard_sigmoid(x)``."""
    return F.hardswish(x)


def relu6(x: Tensor) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return F.relu6(x)


def mish(x: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return F.mish(x)


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return F.celu(x, alpha=alpha)


def glu(x: Tensor, axis: int = -1) -> Tensor:
    """Gated linear unit: the first half of ``axis`` times the sigmoid of the second half."""
    return F.glu(x, dim=axis)


def hard_shrink(x: Tensor, threshold: float = 0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, else 0."""
    return F.hardshrink(x, threshold)


def soft_shrink(x: Tensor, threshold: float = 0.5) -> Tensor:
    """``x`` moved ``threshold`` towards 0, and 0 within ``threshold``."""
    return F.softshrink(x, threshold)


def hard_tanh(x: Tensor) -> Tensor:
    """``x`` clipped to [-1, 1]."""
    return F.hardtanh(x)


def log_sigmoid(x: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed stably."""
    return F.logsigmoid(x)


def tanh_shrink(x: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return F.tanhshrink(x)


def squareplus(x: Tensor, b: float = 4.0) -> Tensor:
    """``(x + sqrt(x ** 2 + b)) / 2``."""
    return (x + torch.sqrt(x * x + b)) / 2.0


def sparse_plus(x: Tensor) -> Tensor:
    """0 below -1, ``(x + 1) ** 2 / 4`` between -1 and 1, ``x`` above."""
    return torch.where(x <= -1.0, torch.zeros_like(x), torch.where(x >= 1.0, x, (x + 1.0) ** 2 / 4.0))


def sparsemax(x: Tensor, axis: int = -1) -> Tensor:
    """The Euclidean projection of ``x`` onto the probability simplex along ``axis`` (sparse softmax)."""
    z = x.movedim(axis, -1)
    ordered, _ = torch.sort(z, dim=-1, descending=True)
    ranks = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    cumulative = ordered.cumsum(dim=-1)
    support = (1 + ranks * ordered) > cumulative
    k = support.sum(dim=-1, keepdim=True)
    tau = (cumulative.gather(-1, k - 1) - 1) / k.to(z.dtype)
    return torch.clamp(z - tau, min=0).movedim(-1, axis)


def sparse_sigmoid(x: Tensor) -> Tensor:
    """0 below -1, ``(x + 1) / 2`` between -1 and 1, 1 above."""
    return torch.clamp((x + 1.0) / 2.0, 0.0, 1.0)


def threshold(x: Tensor, threshold: float, default_value: float) -> Tensor:
    """``x`` where ``x > threshold``, else ``default_value``."""
    return torch.where(x > threshold, x, torch.full_like(x, default_value))


_register("linear", linear, nn.Identity, aliases=("identity",))
_register("relu", relu, nn.ReLU)
_register("sigmoid", sigmoid, nn.Sigmoid)
_register("tanh", tanh, nn.Tanh)
_register("softmax", softmax, lambda: nn.Softmax(dim=-1))
_register("log_softmax", log_softmax, lambda: nn.LogSoftmax(dim=-1))
_register("gelu", gelu, nn.GELU)
_register("elu", elu, nn.ELU)
_register("selu", selu, nn.SELU)
_register("softplus", softplus, nn.Softplus)
_register("softsign", softsign, nn.Softsign)
_register("silu", silu, nn.SiLU, aliases=("swish",))
_register("leaky_relu", leaky_relu, lambda: nn.LeakyReLU(0.2))
_register("exponential", exponential, Exponential)
_register("hard_sigmoid", hard_sigmoid, nn.Hardsigmoid)
_register("hard_silu", hard_silu, nn.Hardswish, aliases=("hard_swish",))
_register("relu6", relu6, nn.ReLU6)
_register("mish", mish, nn.Mish)
_register("celu", celu, nn.CELU)
_register("glu", glu, lambda: nn.GLU(dim=-1))
_register("hard_shrink", hard_shrink, nn.Hardshrink)
_register("soft_shrink", soft_shrink, nn.Softshrink)
_register("hard_tanh", hard_tanh, nn.Hardtanh)
_register("log_sigmoid", log_sigmoid, nn.LogSigmoid)
_register("tanh_shrink", tanh_shrink, nn.Tanhshrink)
_register("squareplus", squareplus, lambda: Function(squareplus))
_register("sparse_plus", sparse_plus, lambda: Function(sparse_plus))
_register("sparse_sigmoid", sparse_sigmoid, lambda: Function(sparse_sigmoid))
_register("sparsemax", sparsemax, lambda: Function(sparsemax))
threshold = _takes_arrays(threshold)  # needs its arguments, so it is a function only, not an activation name
swish, hard_swish = silu, hard_silu  # Keras's other names of these functions



def get(identifier: str | Callable[[Tensor], Tensor] | None) -> Callable[[Tensor], Tensor]:
    """The activation function for a Keras name, a callable, or ``None`` (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return ACTIVATIONS.get(identifier)[0]


def module(identifier: str | Callable[[Tensor], Tensor] | nn.Module | None) -> nn.Module | None:
    """A fresh ``torch.nn`` module for an activation, or ``None`` for linear/``None``."""
    if identifier is None:
        return None
    if isinstance(identifier, nn.Module):
        return identifier
    if callable(identifier):
        return None if identifier is linear else Function(identifier)
    fn, make = ACTIVATIONS.get(identifier)
    return None if fn is linear else make()


def serialize(identifier: str | Callable | None) -> str | Callable | None:
    """The Keras name of an activation when it has one, else the object itself."""
    if identifier is None or isinstance(identifier, str):
        return identifier
    for name in ACTIVATIONS.names():
        if ACTIVATIONS.get(name)[0] is identifier:
            return name
    return identifier


def deserialize(config: str | dict | Callable | None, custom_objects: dict | None = None) -> Callable[..., Tensor]:
    """The activation function a name (or :func:`serialize` output) describes."""
    from nnkit.saving import custom_object_scope, get_custom_object

    with custom_object_scope(custom_objects):
        if isinstance(config, dict):
            config = config.get("config", config.get("class_name"))
        found = get_custom_object(config) if isinstance(config, str) and config not in ACTIVATIONS else None
        return found if found is not None else get(config)
