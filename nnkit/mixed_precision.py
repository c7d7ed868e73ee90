"""Mixed precision, as ``keras.mixed_precision``: weights stay float32, layers compute in float16/bfloat16.

``set_global_policy('mixed_bfloat16')`` (or ``'mixed_float16'``) makes models compiled afterwards run their
forward pass under ``torch.autocast``: matrix products and convolutions in the low precision type, the
numerically touchy operations (softmax, reductions, losses) in float32, which is what autocast and Keras's
mixed policies both do. The loss, the metrics and ``predict``'s outputs are float32. With ``float16`` the
loss is scaled by a ``torch.amp.GradScaler`` so small gradients do not underflow (Keras's
``LossScaleOptimizer``); ``bfloat16`` has float32's range and needs no scaling.

Example:
    >>> from nnkit import mixed_precision
    >>> mixed_precision.set_global_policy("mixed_bfloat16")
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnkit.errors import ConfigError
from nnkit.registry import closest

_COMPUTE = {"float32": torch.float32, "mixed_float16": torch.float16, "mixed_bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Policy:
    """A dtype policy: the type layers compute in and the type their weights are kept in.

    Args:
        name: ``'float32'`` (the default), ``'mixed_float16'`` or ``'mixed_bfloat16'``.
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in _COMPUTE:
            guess = closest(str(self.name), list(_COMPUTE))
            raise ConfigError(
                f"Unknown dtype policy {self.name!r}." + (f" Did you mean {guess!r}?" if guess else "")
                + f" Known policies: {', '.join(_COMPUTE)}."
            )

    @property
    def compute_dtype(self) -> str:
        """``'float16'``, ``'bfloat16'`` or ``'float32'``."""
        return str(_COMPUTE[self.name]).replace("torch.", "")

    @property
    def variable_dtype(self) -> str:
        """Always ``'float32'``: the weights and the optimizer state keep full precision."""
        return "float32"

    @property
    def is_mixed(self) -> bool:
        return self.name != "float32"

    @property
    def torch_compute_dtype(self) -> torch.dtype:
        return _COMPUTE[self.name]


DTypePolicy = Policy
_global = Policy("float32")


def set_global_policy(policy: str | Policy | None) -> None:
    """Set the policy of models compiled from now on (``None`` restores ``'float32'``).

    Raises:
        ConfigError: an unknown policy name (with a did-you-mean).
    """
    global _global
    _global = Policy("float32") if policy is None else policy if isinstance(policy, Policy) else Policy(policy)


def global_policy() -> Policy:
    """The current global policy."""
    return _global
