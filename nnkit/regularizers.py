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


@REGULARIZERS.register("orthogonal_regularizer")
class OrthogonalRegularizer(Regularizer):
    """``factor / 2`` times the mean absolute cosine between every pair of distinct rows (``mode='rows'``)
    or columns (``mode='columns'``) of a rank-2 kernel in Keras layout (a Dense kernel is ``(inputs, units)``).

    Args:
        factor: The penalty's scale (Keras default 0.01).
        mode: ``'rows'`` or ``'columns'``.
    """

    _factors = ("factor",)

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ConfigError(f"OrthogonalRegularizer expects mode 'rows' or 'columns'. Received: mode={mode!r}.")
        self.mode = mode

    def __call__(self, weight: Tensor) -> Tensor:
        if weight.dim() != 2:
            raise ConfigError(
                f"OrthogonalRegularizer needs a rank-2 weight (a Dense kernel). Received a weight of shape "
                f"{tuple(weight.shape)}; use it as the kernel_regularizer of a Dense layer."
            )
        vectors = weight if self.mode == "rows" else weight.T
        unit = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
        cosines = (unit @ unit.T).abs()
        size = unit.shape[0]
        if size < 2:
            return weight.new_zeros(())
        off_diagonal = cosines.sum() - cosines.diagonal().sum()
        return self.factor * 0.5 * off_diagonal / (size * (size - 1) / 2.0)


class KerasLayout(Regularizer):
    """A penalty applied to a torch weight seen in Keras layout (``weight.permute(dims)``)."""

    def __init__(self, regularizer: Any, dims: tuple[int, ...]) -> None:
        self.regularizer, self.dims = regularizer, tuple(dims)

    def __call__(self, weight: Tensor) -> Tensor:
        return self.regularizer(weight.permute(self.dims))

    @property
    def is_zero(self) -> bool:
        return bool(getattr(self.regularizer, "is_zero", False))


def in_keras_layout(identifier: Any, dims: tuple[int, ...]) -> Any:
    """The penalty ``identifier`` names, handed the weight in Keras layout. Sums of elementwise terms
    (L1/L2) do not depend on the layout and are returned as they are; any other penalty (orthogonality, a
    user's function) sees the kernel as Keras would give it."""
    regularizer = get(identifier)
    if regularizer is None or type(regularizer) in (L1, L2, L1L2):
        return regularizer
    return KerasLayout(regularizer, dims)


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer


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
