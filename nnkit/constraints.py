"""Weight constraints with Keras names and semantics, projected after every optimizer step.

A constraint is called on a weight **in Keras layout** and returns the projected weight, exactly as
``keras.constraints``: ``MaxNorm(2)(kernel)`` with a Dense kernel of shape ``(inputs, units)`` and
``axis=0`` limits the norm of each unit's incoming weights. Layers whose torch weights are laid out
differently (a ``torch.nn.Linear`` weight is ``(units, inputs)``) wrap their constraint in
:func:`permuted`, so user constraints never see torch layouts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from nnkit.errors import ConfigError
from nnkit.registry import Configurable, Registry, serializers

CONSTRAINTS: Registry[type[Constraint]] = Registry("constraint")

#: Keras's ``backend.epsilon()``, which its norm constraints add to the norm before dividing.
EPSILON = 1e-7

Axis = int | Sequence[int]


def _axis(value: Any, constraint: str) -> int | tuple[int, ...]:
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple)):
        raise ConfigError(f"{constraint} expects `axis` to be an int or a list of ints. Received: axis={value!r}.")
    if isinstance(value, int):
        return value
    if not value or not all(isinstance(a, int) and not isinstance(a, bool) for a in value):
        raise ConfigError(f"{constraint} expects `axis` to be an int or a list of ints. Received: axis={value!r}.")
    return tuple(value)


def _number(value: Any, name: str, constraint: str, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise ConfigError(f"{constraint} expects `{name}` to be a number >= {low:g}. Received: {name}={value!r}.")
    return float(value)


def _norms(weight: Tensor, axis: int | tuple[int, ...]) -> Tensor:
    return torch.sqrt(torch.sum(torch.square(weight), dim=axis, keepdim=True))


class Constraint(Configurable):
    """Base class: ``constraint(weight) -> projected weight`` (the identity here)."""

    def __call__(self, weight: Tensor) -> Tensor:
        return weight


@CONSTRAINTS.register("max_norm", aliases=("maxnorm",))
class MaxNorm(Constraint):
    """Rescales weight vectors whose L2 norm along ``axis`` exceeds ``max_value``.

    Args:
        max_value: Largest allowed norm.
        axis: Axis (or axes) of the Keras-layout weight the norm runs over; ``0`` is the incoming
            weights of each unit of a Dense kernel ``(inputs, units)``.

    Example:
        >>> Dense(64, kernel_constraint=MaxNorm(3))  # doctest: +SKIP
    """

    def __init__(self, max_value: float = 2, axis: Axis = 0) -> None:
        self.max_value = _number(max_value, "max_value", "MaxNorm")
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, weight: Tensor) -> Tensor:
        norms = _norms(weight, self.axis)
        desired = torch.clamp(norms, 0, self.max_value)
        return weight * (desired / (EPSILON + norms))


@CONSTRAINTS.register("non_neg", aliases=("nonneg",))
class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, weight: Tensor) -> Tensor:
        return torch.clamp(weight, min=0)


@CONSTRAINTS.register("unit_norm", aliases=("unitnorm",))
class UnitNorm(Constraint):
    """Rescales weight vectors to unit L2 norm along ``axis`` (Keras layout, see :class:`MaxNorm`)."""

    def __init__(self, axis: Axis = 0) -> None:
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, weight: Tensor) -> Tensor:
        return weight / (EPSILON + _norms(weight, self.axis))


@CONSTRAINTS.register("min_max_norm", aliases=("minmaxnorm",))
class MinMaxNorm(Constraint):
    """Moves the L2 norm of weight vectors along ``axis`` into ``[min_value, max_value]``.

    Args:
        min_value: Smallest allowed norm.
        max_value: Largest allowed norm.
        rate: ``1`` enforces the bounds at every step; smaller values move the norm
            ``rate`` of the way towards them: ``(1 - rate) * norm + rate * clip(norm)``.
        axis: Axis (or axes) of the Keras-layout weight the norm runs over.
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0) -> None:
        self.min_value = _number(min_value, "min_value", "MinMaxNorm")
        self.max_value = _number(max_value, "max_value", "MinMaxNorm")
        if self.max_value < self.min_value:
            raise ConfigError(
                f"MinMaxNorm expects min_value <= max_value. Received: min_value={min_value!r}, "
                f"max_value={max_value!r}."
            )
        self.rate = _number(rate, "rate", "MinMaxNorm")
        self.axis = _axis(axis, "MinMaxNorm")

    def __call__(self, weight: Tensor) -> Tensor:
        norms = _norms(weight, self.axis)
        desired = self.rate * torch.clamp(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return weight * (desired / (EPSILON + norms))


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


class _Callable(Constraint):
    """A user function ``fn(weight) -> weight`` used as a constraint."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn

    def __call__(self, weight: Tensor) -> Tensor:
        return self.fn(weight)


def get(identifier: str | dict | Constraint | Callable[[Tensor], Tensor] | None) -> Constraint | None:
    """A constraint from a Keras name (``'max_norm'``), a ``{"class_name", "config"}`` dict, an
    instance or a callable ``fn(weight) -> weight``; ``None`` stays ``None``.

    Raises:
        ConfigError: the name is unknown (with a did-you-mean hint) or the identifier has another type.
    """
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        return CONSTRAINTS.get(identifier)()
    if isinstance(identifier, dict):
        return CONSTRAINTS.get(identifier.get("class_name", "")).from_config(identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise ConfigError(
        f"Expected a constraint name such as 'max_norm', a dict, a Constraint or a callable. Received: {identifier!r}."
    )


class Permuted(Constraint):
    """Applies a Keras-layout constraint to a weight stored in torch layout.

    Args:
        constraint: The constraint, written for the Keras layout.
        dims: The permutation taking the torch weight to Keras layout: ``(1, 0)`` for ``nn.Linear``
            (``(units, inputs)`` -> ``(inputs, units)``), ``(2, 3, 1, 0)`` for ``nn.Conv2d``
            (``(out, in, h, w)`` -> ``(h, w, in, out)``).
    """

    def __init__(self, constraint: Constraint, dims: Sequence[int]) -> None:
        self.constraint = constraint
        self.dims = tuple(dims)
        self._inverse = tuple(sorted(range(len(self.dims)), key=self.dims.__getitem__))

    def __call__(self, weight: Tensor) -> Tensor:
        return self.constraint(weight.permute(self.dims)).permute(self._inverse)

    def get_config(self) -> dict[str, Any]:
        return {"constraint": self.constraint, "dims": self.dims}


def permuted(identifier: Any, dims: Sequence[int]) -> Constraint | None:
    """The constraint ``identifier`` resolved by :func:`get`, applied through a layout permutation
    (``None`` stays ``None``). Layers use it to hand their torch weights over in Keras layout."""
    constraint = get(identifier)
    if constraint is None:
        return None
    return Permuted(constraint, dims)


def constraint_terms(pairs: list[tuple[Tensor | None, Any]]) -> list[tuple[Tensor, Constraint]]:
    """``(parameter, constraint)`` pairs with identifiers resolved and empty entries dropped."""
    resolved = [(tensor, get(c)) for tensor, c in pairs if tensor is not None]
    return [(tensor, c) for tensor, c in resolved if c is not None]


serialize, deserialize = serializers(get, "constraint")
