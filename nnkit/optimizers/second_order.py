"""What the second-order optimizers (L-BFGS, Levenberg-Marquardt) share: the batch objective the training
loop hands them, and the gradient-step options they refuse.

An optimizer spec with ``steps_with_closure = True`` is trained by :mod:`nnkit.training.closure`: for every
batch the loop calls ``optimizer.closure_step(objective)`` with an :class:`Objective`, and the optimizer
evaluates the loss as often as its method needs. ``full_batch = True`` makes ``fit`` without a
``batch_size`` train on all the data in one batch, so that an epoch is one step of the method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from torch import Tensor, nn

from nnkit.errors import ConfigError


class Objective(Protocol):
    """One batch's training objective, as the training loop hands it to a second-order optimizer
    (:class:`nnkit.training.closure.BatchObjective`)."""

    module: nn.Module
    forward: Callable[[Any], Any]
    x: Any

    def __call__(self) -> Tensor:
        """The loss with penalties at the current weights, without gradients."""

    def closure(self) -> Tensor:
        """The loss with penalties, its gradients left in ``.grad`` (torch's closure convention)."""

    def record(self, outputs: Any, loss: Tensor) -> None:
        """Keep the outputs and loss at the weights before the step (what the logs show)."""

    def data_loss(self, y_pred: Tensor) -> Tensor:
        """The compiled loss of ``y_pred`` against the batch's targets (without penalties)."""

    def penalty(self) -> Tensor | None:
        """The weight penalties at the current weights, or ``None``."""


def reject_gradient_options(owner: str, kwargs: dict[str, Any]) -> None:
    """Refuse the gradient-step extras (decay, clipping) that a line search or a solved step cannot honour."""
    for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
        if kwargs.get(key) is not None:
            raise ConfigError(
                f"{owner} does not support `{key}` (its steps come from a line search or a solved system, not "
                f"from a gradient step). Received: {key}={kwargs[key]!r}. Use an l2 kernel_regularizer for weight "
                "decay, or a first-order optimizer such as 'adam'.")
        kwargs.pop(key, None)


def refuse_gradients(owner: str) -> None:
    """The error of ``apply`` / ``apply_gradients`` (a custom ``train_step``): these methods need the loss itself."""
    raise ConfigError(
        f"{owner} cannot apply given gradients (optimizer.apply / apply_gradients, as a custom train_step does): "
        "it evaluates the loss itself, several times per step. Train with fit's own step (no train_step "
        "override), or use a first-order optimizer such as 'adam' in a custom train_step.")
