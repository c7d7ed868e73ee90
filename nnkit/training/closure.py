"""The training pass of optimizers that evaluate the loss themselves (L-BFGS, Levenberg-Marquardt).

Such an optimizer (``optimizer.steps_with_closure``) gets one :class:`BatchObjective` per batch and runs its
own evaluations of it in ``optimizer.closure_step(objective)``; callbacks, logs and stopping behave as in
the ordinary pass, with the loss and outputs at the weights before the step in the logs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from nnkit import distributed
from nnkit.callbacks.callback import CallbackList
from nnkit.errors import ConfigError
from nnkit.training import data
from nnkit.training.data import Batch

if TYPE_CHECKING:
    from nnkit.training.loop import Loop, StepFunctions


class BatchObjective:
    """One batch's loss as a function of the weights: a callable (the loss without gradients), a torch
    ``closure`` (the loss with gradients) and its parts for Gauss-Newton methods.

    Args:
        steps: The loop's step functions.
        x, y, weight: The batch.
    """

    def __init__(self, steps: StepFunctions, x: Any, y: Any, weight: Tensor | None) -> None:
        self.steps, self.x, self.y, self.weight = steps, x, y, weight
        self.module, self.forward = steps.module, steps.forward
        self.first: tuple[Any, Tensor] | None = None

    def data_loss(self, y_pred: Any) -> Tensor:
        """The compiled loss of ``y_pred`` against the batch's targets."""
        return self.steps.loss(self.y, y_pred, self.weight)

    def penalty(self) -> Tensor | None:
        """The regularization penalties at the current weights, or ``None``."""
        return None if self.steps.penalty is None else self.steps.penalty()

    def _total(self, y_pred: Any) -> Tensor:
        loss = self.data_loss(y_pred)
        extra = self.penalty()
        return loss if extra is None else loss + extra

    def __call__(self) -> Tensor:
        with torch.no_grad():
            return self._total(self.forward(self.x))

    def closure(self) -> Tensor:
        """``zero_grad``, forward, loss, backward; the first call's outputs and loss are recorded."""
        with torch.enable_grad():
            self.steps.optimizer.torch_optimizer.zero_grad(set_to_none=True)
            y_pred = self.forward(self.x)
            loss = self._total(y_pred)
            loss.backward()
        if self.first is None:
            self.record(y_pred, loss)
        return loss

    def finite(self) -> bool:
        """Whether the loss at the current weights is finite (recorded for the logs, as the step would)."""
        with torch.no_grad():
            y_pred = self.forward(self.x)
            loss = self._total(y_pred)
        self.record(y_pred, loss)
        return bool(torch.isfinite(loss))

    def record(self, outputs: Any, loss: Tensor) -> None:
        """Keep the outputs and loss at the weights before the step, for the logs (with several outputs, the
        total followed by each output's loss, as the ordinary pass logs them)."""
        outputs = tuple(p.detach() for p in outputs) if isinstance(outputs, tuple) else outputs.detach()
        loss = loss.detach()
        if self.steps.loss_parts is not None:
            loss = torch.cat([loss.reshape(1), self.steps.loss.parts.to(loss.dtype)])
        self.first = (outputs, loss)


def train_pass(loop: Loop, batches: Iterable[Batch], callbacks: CallbackList, first_step: int = 0
               ) -> dict[str, float]:
    """One epoch of ``loop`` with a closure-taking optimizer: one ``closure_step`` per batch."""
    s = loop.steps
    optimizer = s.optimizer
    kind = type(optimizer).__name__
    if s.scaler is not None:
        raise ConfigError(f"{kind} cannot train under the 'mixed_float16' policy (its steps are not scaled "
                          "gradient steps). Use the 'float32' or 'mixed_bfloat16' policy, or a first-order optimizer.")
    if distributed.world_size() > 1:
        raise ConfigError(f"{kind} does not support distributed training ({distributed.world_size()} processes). "
                          "Train on one process, or use a first-order optimizer such as 'adam'.")
    s.module.train()
    logs = loop._logs()
    guard = callbacks.skip_non_finite_updates
    if first_step:
        batches = itertools.islice(batches, first_step, None)
    for step, (x, y, weight) in enumerate(batches, first_step):
        if callbacks.train_batch_begin:
            callbacks.on_train_batch_begin(step)
        objective = BatchObjective(s, x, y, weight)
        if not guard or objective.finite():  # TerminateOnNaN: no step from a NaN/inf loss
            if optimizer.needs_hooks:  # a learning-rate schedule
                optimizer.before_step()
            optimizer.closure_step(objective)
            optimizer.iterations += 1
        y_pred, loss = objective.first
        logs.add(loss, data.count(x), y_pred, y, weight)
        if callbacks.train_batch_end:
            callbacks.on_train_batch_end(step, logs.lazy())
        if loop.control.stop_training:
            break
    return logs.results(synchronize=True)
