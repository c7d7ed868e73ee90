"""The training loop: epochs, steps, validation and logs. It knows nothing about layers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nnkit import distributed
from nnkit.callbacks.callback import CallbackList
from nnkit.metrics.base import Metric
from nnkit.training import closure, data
from nnkit.training.data import Batch
from nnkit.training.tracker import RunningLogs


@dataclass
class StepFunctions:
    """Everything one training or test step needs, resolved once before the loop.

    Attributes:
        module: The model's ``torch.nn.Module`` (train/eval mode is switched on it).
        forward: What the loss is computed on; may stop before a final softmax/sigmoid.
        output_activation: Turns ``forward`` outputs into model outputs for metrics (or ``None``).
        loss: ``loss(y_true, y_pred, sample_weight)`` returning a scalar.
        penalty: Regularization added to the loss, or ``None``.
        optimizer: The nnkit optimizer (its ``torch_optimizer`` is built).
        metrics: ``(metric, weighted)`` pairs.
        scaler: A ``torch.amp.GradScaler`` scaling the loss (``mixed_float16``), or ``None``.
        loss_parts: With several outputs, the names of the per-output losses that ``loss.parts`` holds
            after each call (logged beside the total); ``None`` with one output.
        train_step, test_step: A model's own steps (Keras's ``train_step(data) -> logs``), run instead of
            the loop's own; ``reset_metrics`` is called before each pass of them.
    """

    module: nn.Module
    forward: Callable[[Tensor], Tensor]
    output_activation: Callable[[Tensor], Tensor] | None
    loss: Callable[..., Tensor]
    penalty: Callable[[], Tensor] | None
    optimizer: Any
    metrics: list[tuple[Metric, bool]]
    scaler: Any = None
    loss_parts: list[str] | None = None
    train_step: Callable[[Any], dict[str, float]] | None = None
    test_step: Callable[[Any], dict[str, float]] | None = None
    reset_metrics: Callable[[], None] | None = None


class Loop:
    """Runs fit / evaluate / predict passes for one compiled model.

    Args:
        steps: The resolved step functions.
        control: Object whose ``stop_training`` attribute callbacks may set (the model).
    """

    def __init__(self, steps: StepFunctions, control: Any) -> None:
        self.steps = steps
        self.control = control

    def _losses(self, y_pred: Any, y_true: Any, sample_weight: Tensor | None) -> Tensor:
        loss = self.steps.loss(y_true, y_pred, sample_weight)
        if self.steps.penalty is not None:
            extra = self.steps.penalty()
            if extra is not None:
                loss = loss + extra
        return loss

    def _logged(self, loss: Tensor) -> Tensor:
        """What the logs record of a step's loss: the total, and with several outputs each output's loss."""
        if self.steps.loss_parts is None:
            return loss.detach()
        return torch.cat([loss.detach().reshape(1), self.steps.loss.parts.to(loss.dtype)])

    def _logs(self) -> RunningLogs:
        return RunningLogs(self.steps.metrics, self.steps.output_activation, self.steps.loss_parts)

    def train_pass(self, batches: Iterable[Batch], callbacks: CallbackList, first_step: int = 0) -> dict[str, float]:
        """One epoch of optimisation; returns the epoch's logs.

        ``first_step`` > 0 resumes an interrupted epoch: that many batches are drawn (so a shuffled
        epoch keeps its order) but not trained on, and batch hooks count on from ``first_step``.
        """
        s = self.steps
        if s.train_step is not None:
            return self._step_pass(batches, callbacks, s.train_step, training=True, first_step=first_step)
        if getattr(s.optimizer, "steps_with_closure", False):  # L-BFGS, Levenberg-Marquardt
            return closure.train_pass(self, batches, callbacks, first_step)
        s.module.train()
        logs = self._logs()
        logged, several = self._logged, s.loss_parts is not None
        optimizer = s.optimizer
        torch_optimizer = optimizer.torch_optimizer
        hooks = optimizer.needs_hooks
        forward, loss_of = s.forward, self._losses
        batch_begin, batch_end = callbacks.train_batch_begin, callbacks.train_batch_end
        guard = callbacks.skip_non_finite_updates
        scaler = s.scaler
        # in distributed training, per-batch decisions must be the same on every rank (or DDP's collectives hang)
        synchronized = distributed.world_size() > 1
        agree_on_stop = synchronized and callbacks.may_stop_in_epoch
        if first_step:
            batches = itertools.islice(batches, first_step, None)
        for step, (x, y, weight) in enumerate(batches, first_step):
            if batch_begin:
                callbacks.on_train_batch_begin(step)
            y_pred = forward(x)
            loss = loss_of(y_pred, y, weight)
            torch_optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                self._scaled_update(loss)
            elif not guard or self._finite_everywhere(loss, synchronized):  # TerminateOnNaN: skip NaN/inf steps
                loss.backward()
                if hooks:
                    optimizer.before_step()
                torch_optimizer.step()
                optimizer.iterations += 1
            if several:
                logs.add(logged(loss), data.count(x), tuple(p.detach() for p in y_pred), y, weight)
            else:
                logs.add(loss.detach(), x.shape[0] if isinstance(x, Tensor) else data.count(x), y_pred.detach(), y,
                         weight)
            if batch_end:
                callbacks.on_train_batch_end(step, logs.lazy())
            if agree_on_stop:
                self.control.stop_training = distributed.any_rank(bool(self.control.stop_training))
            if self.control.stop_training:
                break
        return logs.results(synchronize=True)

    @staticmethod
    def _finite_everywhere(loss: Tensor, synchronized: bool) -> bool:
        """Whether the loss is finite (on every rank, in distributed training: all ranks skip the step together)."""
        finite = bool(torch.isfinite(loss))
        return not distributed.any_rank(not finite) if synchronized else finite

    def _scaled_update(self, loss: Tensor) -> None:
        """A float16 step: the scaled loss's gradients are unscaled before clipping, and a step whose
        gradients overflowed is skipped while the scale shrinks (Keras's ``LossScaleOptimizer``)."""
        optimizer, scaler = self.steps.optimizer, self.steps.scaler
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer.torch_optimizer)
        if optimizer.needs_hooks:
            optimizer.before_step()
        scale = scaler.get_scale()
        scaler.step(optimizer.torch_optimizer)
        scaler.update()
        if scaler.get_scale() >= scale:  # the step was applied (an overflow halves the scale)
            optimizer.iterations += 1

    def test_pass(self, batches: Iterable[Batch], callbacks: CallbackList | None) -> dict[str, float]:
        """Loss and metrics over ``batches`` without updating weights."""
        s = self.steps
        if s.test_step is not None:
            return self._step_pass(batches, callbacks, s.test_step, training=False)
        s.module.eval()
        logs = self._logs()
        batch_begin = callbacks is not None and callbacks.test_batch_begin
        batch_end = callbacks is not None and callbacks.test_batch_end
        if callbacks is not None:
            callbacks.on_test_begin()
        with torch.no_grad():
            for step, (x, y, weight) in enumerate(batches):
                if batch_begin:
                    callbacks.on_test_batch_begin(step)
                y_pred = s.forward(x)
                logs.add(self._logged(self._losses(y_pred, y, weight)), data.count(x), y_pred, y, weight)
                if batch_end:
                    callbacks.on_test_batch_end(step, logs.lazy())
        results = logs.results(synchronize=True)
        if callbacks is not None:
            callbacks.on_test_end(results)
        return results

    def _step_pass(self, batches: Iterable[Batch], callbacks: CallbackList | None, step: Callable[[Any], Any], *,
                   training: bool, first_step: int = 0) -> dict[str, float]:
        """A pass of the model's own ``train_step``/``test_step``: the logs are what its last call returned."""
        s = self.steps
        s.module.train(training)
        if s.reset_metrics is not None:
            s.reset_metrics()
        begin, end = ("on_train_batch_begin", "on_train_batch_end") if training else (
            "on_test_batch_begin", "on_test_batch_end")
        if callbacks is not None and not training:
            callbacks.on_test_begin()
        if first_step:
            batches = itertools.islice(batches, first_step, None)
        logs: dict[str, float] = {}
        for index, batch in enumerate(batches, first_step):
            if callbacks is not None:
                getattr(callbacks, begin)(index)
            logs = step(batch)
            if callbacks is not None:
                getattr(callbacks, end)(index, logs)
            if training and self.control.stop_training:
                break
        if callbacks is not None and not training:
            callbacks.on_test_end(logs)
        return logs

    def predict_pass(self, batches: Iterator[Batch], callbacks: CallbackList | None) -> Any:
        """Model outputs for every batch, concatenated on the device (a tuple for several outputs)."""
        module, forward = self.steps.module, self.steps.forward
        module.eval()
        outputs = []
        batch_begin = callbacks is not None and callbacks.predict_batch_begin
        batch_end = callbacks is not None and callbacks.predict_batch_end
        if callbacks is not None:
            callbacks.on_predict_begin()
        with torch.inference_mode():
            for step, (x, _, _) in enumerate(batches):
                if batch_begin:
                    callbacks.on_predict_batch_begin(step)
                outputs.append(forward(x))
                if batch_end:
                    callbacks.on_predict_batch_end(step, {"outputs": outputs[-1]})
        if callbacks is not None:
            callbacks.on_predict_end()
        return data.concatenate(outputs)

    def fit(self, make_batches: Callable[[], Iterable[Batch]], *, epochs: int, initial_epoch: int,
            callbacks: CallbackList, validation: Callable[[], Iterable[Batch]] | None,
            validation_freq: int | Iterable[int]) -> None:
        """Train from ``initial_epoch`` to ``epochs``, validating on the epochs ``validation_freq`` picks.

        After ``on_train_begin``, a backup callback may restore an interrupted run; training then resumes
        at its epoch (and batch).
        """
        self.control.stop_training = False
        callbacks.on_train_begin()
        first_step = 0
        resume = callbacks.restore_backup()
        if resume is not None:
            initial_epoch, first_step = resume
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            callbacks.on_epoch_begin(epoch)
            logs = self.train_pass(make_batches(), callbacks, first_step)
            first_step = 0
            if validation is not None and _validates(epoch, validation_freq):
                val_logs = self.test_pass(validation(), callbacks)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, logs)
            if self.control.stop_training:
                break
        self.steps.module.eval()
        callbacks.on_train_end(logs)


def _validates(epoch: int, freq: int | Iterable[int]) -> bool:
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in set(freq)
