"""Weight penalties added to the training loss, as in Keras: ``l1 * sum|w| + l2 * sum(w**2)``.

Also accepts the spelling ``Regularizer('l2', 0.01)`` found in published tutorials.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nnkit.errors import ConfigError
from nnkit.registry import Configurable, Registry, serializers

REGULARIZERS: Registry[type[Regularizer]] = Registry("regularizer")


class _BuildsByKind(type):
    """Lets ``Regularizer('l2', 0.01)`` construct the named subclass."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Regularizer and args:
            kind, *rest = args
            return REGULARIZERS.get(kind)(*rest, **kwargs)
        return super().__call__(*args, **kwargs)


class Regularizer(Configurable, metaclass=_BuildsByKind):
    """Base class: ``regularizer(weight) -> scalar penalty``.

    Called directly as ``Regularizer(kind, factor)`` it builds that penalty, e.g.
    ``Regularizer('l2', 0.01)`` equals ``L2(0.01)``.
    """

    #: Names of the factor attributes the penalty scales by (built-in penalties).
    _factors: tuple[str, ...] = ()

    def __call__(self, weight: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def is_zero(self) -> bool:
        """Whether the penalty is zero for any weight (every factor is 0, e.g. a searched ``l2=0.0``), so
        training can skip it."""
        return bool(self._factors) and not any(getattr(self, name) for name in self._factors)


def _factor(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"Regularization factor `{name}` must be a non-negative number. Received: {value!r}.")
    return float(value)


@REGULARIZERS.register("l1_l2", aliases=("l1l2",))
class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``."""

    _factors = ("l1", "l2")

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, weight: Tensor) -> Tensor:
        penalty = weight.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * weight.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * torch.square(weight).sum()
        return penalty


@REGULARIZERS.register("l1")
class L1(Regularizer):
    """``l1 * sum(|w|)``; Keras default factor 0.01."""

    _factors = ("l1",)

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = _factor(l1, "l1")

    def __call__(self, weight: Tensor) -> Tensor:
        return self.l1 * weight.abs().sum()


@REGULARIZERS.register("l2")
class L2(Regularizer):
    """``l2 * sum(w ** 2)``; Keras default factor 0.01."""

    _factors = ("l2",)

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _factor(l2, "l2")

    def __call__(self, weight: Tensor) -> Tensor:
        return self.l2 * torch.square(weight).sum()


l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier: str | dict | Regularizer | None) -> Regularizer | None:
    """A regularizer from a name (``'l2'``), a ``{"class_name", "config"}`` dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return REGULARIZERS.get(identifier)()
    if isinstance(identifier, dict):
        return REGULARIZERS.get(identifier.get("class_name", "")).from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ConfigError(f"Expected a regularizer name, dict or instance. Received: {identifier!r}.")


serialize, deserialize = serializers(get, "regularizer")
