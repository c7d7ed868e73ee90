"""L-BFGS: ``torch.optim.LBFGS`` with its closure hidden behind ``fit``."""

from __future__ import annotations

from typing import Any

import torch

from nnkit.errors import ConfigError
from nnkit.optimizers.base import OPTIMIZERS, Optimizer, _positive
from nnkit.optimizers.second_order import Objective, refuse_gradients, reject_gradient_options

_LINE_SEARCHES = ("strong_wolfe", None)


@OPTIMIZERS.register("lbfgs", aliases=("LBFGS", "l-bfgs", "l_bfgs"))
class LBFGS(Optimizer):
    """Limited-memory BFGS for full-batch (or large-batch) training: one ``fit`` epoch is one call of
    ``torch.optim.LBFGS.step``, up to ``max_iter`` quasi-Newton iterations on the whole training set (or on
    each batch when ``fit`` gets a ``batch_size``).

    The curvature history is part of the optimizer state that ``model.save`` and ``BackupAndRestore`` keep.

    Args:
        learning_rate: Step length the line search starts from (torch's ``lr``).
        max_iter: Most iterations per step (per epoch, full batch).
        max_eval: Most loss evaluations per step (``None``: ``max_iter * 5 / 4``).
        history_size: Number of curvature pairs kept.
        line_search: ``"strong_wolfe"`` or ``None`` (fixed steps of ``learning_rate``).
        tolerance_grad: Stop a step when the largest gradient element is below this.
        tolerance_change: Stop a step when the loss or the weights change less than this.
        name: Name of the optimizer.

    Raises:
        ConfigError: An unknown ``line_search``, a non-positive count or tolerance, or a gradient-step option
            (``weight_decay``, ``clipnorm``, ...).

    Example:
        >>> model.compile(optimizer=LBFGS(max_iter=50), loss="mse")  # doctest: +SKIP
    """

    torch_class = torch.optim.LBFGS
    steps_with_closure = True  # the training loop hands it the batch's objective (nnkit.training.closure)
    full_batch = True  # fit without a batch_size trains on all the data at once

    def __init__(self, learning_rate: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 history_size: int = 100, line_search: str | None = "strong_wolfe", tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, name: str | None = None, **kwargs: Any) -> None:
        reject_gradient_options("LBFGS", kwargs)
        super().__init__(learning_rate=learning_rate, name=name or "lbfgs", **kwargs)
        if line_search not in _LINE_SEARCHES:
            raise ConfigError(f"LBFGS expects `line_search` to be 'strong_wolfe' or None. "
                              f"Received: line_search={line_search!r}.")
        for key, value in (("max_iter", max_iter), ("history_size", history_size), ("max_eval", max_eval)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"LBFGS expects `{key}` to be a positive int. Received: {key}={value!r}.")
        _positive(tolerance_grad, "tolerance_grad", "LBFGS", allow_zero=True)
        _positive(tolerance_change, "tolerance_change", "LBFGS", allow_zero=True)
        self.max_iter, self.max_eval, self.history_size = max_iter, max_eval, history_size
        self.line_search, self.tolerance_grad, self.tolerance_change = line_search, tolerance_grad, tolerance_change

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"max_iter": self.max_iter, "max_eval": self.max_eval, "history_size": self.history_size,
                "line_search_fn": self.line_search, "tolerance_grad": self.tolerance_grad,
                "tolerance_change": self.tolerance_change}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"max_iter": self.max_iter, "max_eval": self.max_eval, "history_size": self.history_size,
                "line_search": self.line_search, "tolerance_grad": self.tolerance_grad,
                "tolerance_change": self.tolerance_change}

    def closure_step(self, objective: Objective) -> None:
        """One ``torch.optim.LBFGS.step`` on the batch ``objective`` describes."""
        self.torch_optimizer.step(objective.closure)

    def apply(self, grads: Any, trainable_variables: Any = None) -> None:
        """Refused: see :func:`~nnkit.optimizers.second_order.refuse_gradients`."""
        refuse_gradients("LBFGS")

    def get_config(self) -> dict[str, Any]:
        learning_rate = self._learning_rate if self._schedule is None else super().get_config()["learning_rate"]
        return {"name": self.name, "learning_rate": learning_rate, **self._hyperparameters()}
