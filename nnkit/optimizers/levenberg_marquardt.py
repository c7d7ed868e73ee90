"""Levenberg-Marquardt: damped Gauss-Newton steps with Marquardt's adaptive damping, for small networks.

Each step solves ``(G + damping * I) delta = -g`` with the Gauss-Newton matrix ``G`` and gradient ``g`` of
:mod:`nnkit.optimizers.gauss_newton` (``J^T J`` and ``J^T r`` for mse), tries ``weights + delta`` and keeps
it only if the loss goes down: an accepted step multiplies the damping by ``damping_decrease``, a rejected
one by ``damping_increase`` and tries again (MATLAB's ``trainlm`` defaults).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from nnkit.errors import ConfigError
from nnkit.optimizers.base import OPTIMIZERS, Optimizer, _positive
from nnkit.optimizers.gauss_newton import Jacobians, gauss_newton_system
from nnkit.optimizers.second_order import Objective, refuse_gradients, reject_gradient_options

# keeps a long run of accepted steps from driving the damping to 0.0 (then nothing could raise it again)
_SMALLEST_DAMPING = 1e-20
_FLOAT64_BYTES = 8


class DampedGaussNewton(torch.optim.Optimizer):
    """The torch optimizer of :class:`LevenbergMarquardt`; ``step(objective)`` takes the batch's
    :class:`~nnkit.optimizers.second_order.Objective` (a callable returning the loss, like a closure).

    The damping lives in ``param_groups[0]["damping"]``, so ``state_dict()`` carries it.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 1.0, damping: float = 1e-3,
                 damping_increase: float = 10.0, damping_decrease: float = 0.1, max_damping: float = 1e10,
                 jacobian_elements: int = 1 << 24) -> None:
        defaults = {"lr": lr, "damping": damping, "damping_increase": damping_increase,
                    "damping_decrease": damping_decrease, "max_damping": max_damping,
                    "jacobian_elements": jacobian_elements}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ConfigError("LevenbergMarquardt takes one group of weights; pass model.parameters() as a whole.")

    def _jacobians(self, objective: Objective) -> Jacobians:
        """The Jacobian builder of this forward pass (kept while the training loop is the same)."""
        key = (id(objective.module), id(objective.forward))
        cached = self.__dict__.get("_cached_jacobians")
        if cached is None or cached[0] != key:
            group = self.param_groups[0]
            cached = (key, Jacobians(objective.module, objective.forward, group["params"], group["jacobian_elements"]))
            self.__dict__["_cached_jacobians"] = cached
        return cached[1]

    @torch.no_grad()
    def step(self, closure: Objective) -> torch.Tensor:  # type: ignore[override]
        """One Levenberg-Marquardt iteration on ``closure``'s batch; returns the loss before it.

        The step is retried with growing damping until the loss decreases; when the damping would pass
        ``max_damping`` the weights stay as they were and the damping stays at ``max_damping``.
        """
        group = self.param_groups[0]
        params = group["params"]
        system = gauss_newton_system(closure, self._jacobians(closure))
        record = getattr(closure, "record", None)
        if record is not None:
            record(system.outputs, system.loss)
        start = [p.detach().clone() for p in params]
        before = float(system.loss)
        damping = float(group["damping"])
        identity = torch.ones(system.gradient.shape[0], dtype=torch.float64, device=system.gradient.device)
        while True:
            factor, info = torch.linalg.cholesky_ex(system.matrix + torch.diag(damping * identity))
            if int(info) == 0:  # else not positive definite at this damping: more damping
                delta = torch.cholesky_solve(-system.gradient.unsqueeze(1), factor).squeeze(1)
                _add(params, delta)
                after = float(closure())
                if math.isfinite(after) and after < before:
                    group["damping"] = max(damping * group["damping_decrease"], _SMALLEST_DAMPING)
                    return system.loss
                for param, value in zip(params, start):
                    param.copy_(value)
            damping *= group["damping_increase"]
            if damping > group["max_damping"]:
                group["damping"] = float(group["max_damping"])
                return system.loss


def _add(params: list[nn.Parameter], delta: torch.Tensor) -> None:
    """``params += delta`` with ``delta`` the flat float64 step in the order of ``params``."""
    offset = 0
    for param in params:
        size = param.numel()
        param.add_(delta[offset:offset + size].reshape(param.shape).to(param.dtype))
        offset += size


@OPTIMIZERS.register("levenberg_marquardt", aliases=("lm", "LevenbergMarquardt", "levenberg-marquardt"))
class LevenbergMarquardt(Optimizer):
    """Levenberg-Marquardt for small networks: one ``fit`` epoch is one damped Gauss-Newton step on the
    whole training set (or one per batch when ``fit`` gets a ``batch_size``).

    Works with squared-error losses (``mse``: the step solves ``(J^T J + damping * I) delta = -J^T r``
    for the residuals ``r = sqrt(sample_weight) * (y_pred - y)``) and with cross-entropy through the
    generalized Gauss-Newton matrix ``J^T H J`` (``H``: the loss's Hessian in the outputs); weight penalties
    join with their gradient and Hessian diagonal. The damping is on the scale of ``n / 2`` times the loss
    (``J^T J`` above), and is part of the optimizer state that ``model.save`` and ``BackupAndRestore`` keep.

    Args:
        damping: Starting damping ``lambda``.
        damping_increase: Factor applied to the damping after a rejected step (``> 1``).
        damping_decrease: Factor applied to the damping after an accepted step (in ``(0, 1)``).
        max_damping: Largest damping; past it the step is skipped (the loss is at a minimum to working
            precision).
        max_params: Most trainable weights allowed: each step solves a ``P x P`` system.
        memory_budget: Bytes the Gauss-Newton matrix, its factor and a chunk of Jacobian rows may use.
        name: Name of the optimizer.

    Raises:
        ConfigError: An argument is out of range; at build time, a network with more than ``max_params``
            weights or whose ``P x P`` matrices exceed ``memory_budget``.

    Example:
        >>> model.compile(optimizer="levenberg_marquardt", loss="mse")  # doctest: +SKIP
        >>> model.fit(x, y, epochs=100)  # 100 full-batch steps  # doctest: +SKIP
    """

    torch_class = DampedGaussNewton
    steps_with_closure = True  # the training loop hands it the batch's objective (nnkit.training.closure)
    full_batch = True  # fit without a batch_size trains on all the data at once

    def __init__(self, damping: float = 1e-3, damping_increase: float = 10.0, damping_decrease: float = 0.1,
                 max_damping: float = 1e10, max_params: int = 5000, memory_budget: int = 1 << 30,
                 name: str | None = None, **kwargs: Any) -> None:
        reject_gradient_options("LevenbergMarquardt", kwargs)
        for key in ("learning_rate", "lr"):
            if key in kwargs:
                raise ConfigError(f"LevenbergMarquardt has no learning rate (the damping sets its step length). "
                                  f"Received: {key}={kwargs[key]!r}. Set `damping` instead.")
        super().__init__(learning_rate=1.0, name=name or "levenberg_marquardt", **kwargs)
        _positive(damping, "damping", "LevenbergMarquardt")
        _positive(max_damping, "max_damping", "LevenbergMarquardt")
        if not isinstance(damping_increase, (int, float)) or damping_increase <= 1:
            raise ConfigError("LevenbergMarquardt expects `damping_increase` > 1 (the damping grows after a "
                              f"rejected step). Received: damping_increase={damping_increase!r}.")
        if not isinstance(damping_decrease, (int, float)) or not 0 < damping_decrease < 1:
            raise ConfigError("LevenbergMarquardt expects `damping_decrease` in (0, 1) (the damping shrinks after an "
                              f"accepted step). Received: damping_decrease={damping_decrease!r}.")
        for key, value in (("max_params", max_params), ("memory_budget", memory_budget)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"LevenbergMarquardt expects `{key}` to be a positive int. Received: {key}={value!r}.")
        self.damping, self.damping_increase, self.damping_decrease = damping, damping_increase, damping_decrease
        self.max_damping, self.max_params, self.memory_budget = max_damping, max_params, memory_budget

    def build(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The torch optimizer for ``params``, after checking the network is small enough for the method."""
        params = [p for p in params if p.requires_grad]
        size = sum(p.numel() for p in params)
        matrices = 3 * _FLOAT64_BYTES * size * size  # G, G + damping * I and its Cholesky factor
        if size > self.max_params or matrices > self.memory_budget:
            limit = (f"max_params={self.max_params:,}" if size > self.max_params
                     else f"memory_budget={self.memory_budget:,} bytes, and its {size:,} x {size:,} matrices "
                          f"need {matrices:,}")
            raise ConfigError(
                f"LevenbergMarquardt cannot train this network: it has {size:,} trainable weights and each step "
                f"solves a {size:,} x {size:,} system; the limit is {limit}. Use optimizer='lbfgs' or 'adam' "
                "for a network this size, or raise max_params / memory_budget if the memory allows it.")
        return super().build(params)

    def _torch_kwargs(self) -> dict[str, Any]:
        size = sum(p.numel() for p in getattr(self, "_params", [])) or 1
        spare = self.memory_budget - 3 * _FLOAT64_BYTES * size * size
        # a chunk of Jacobian rows exists in float32, in float64 and multiplied by H: about 20 bytes an element
        return {"damping": self.damping, "damping_increase": self.damping_increase,
                "damping_decrease": self.damping_decrease, "max_damping": self.max_damping,
                "jacobian_elements": max(size, spare // 20)}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"damping": self.damping, "damping_increase": self.damping_increase,
                "damping_decrease": self.damping_decrease, "max_damping": self.max_damping,
                "max_params": self.max_params, "memory_budget": self.memory_budget}

    @property
    def current_damping(self) -> float:
        """The damping the next step starts from."""
        if self.torch_optimizer is not None:
            return float(self.torch_optimizer.param_groups[0]["damping"])
        pending = self._pending_torch_state()
        return float(pending["param_groups"][0]["damping"]) if pending else float(self.damping)

    def check_model(self, name: str, *, activity_penalties: bool, added_losses: bool, outputs: int) -> None:
        """Refuse, before training, what per-sample Jacobians cannot see (called by the training loop's build).

        Raises:
            ConfigError: The model has several outputs, activity regularizers or layers calling ``add_loss``.
        """
        found = [what for what, present in (("several outputs", outputs > 1),
                                            ("an activity_regularizer", activity_penalties),
                                            ("layers that call add_loss()", added_losses)) if present]
        if found:
            raise ConfigError(
                f"LevenbergMarquardt cannot train model '{name}': it has {' and '.join(found)}, which its "
                "Gauss-Newton step (per-sample Jacobians of one output) cannot include. Use optimizer='lbfgs', "
                "which takes any loss, or remove them.")

    def closure_step(self, objective: Objective) -> None:
        """One Levenberg-Marquardt iteration on the batch ``objective`` describes."""
        self.torch_optimizer.step(objective)

    def apply(self, grads: Any, trainable_variables: Any = None) -> None:
        """Refused: see :func:`~nnkit.optimizers.second_order.refuse_gradients`."""
        refuse_gradients("LevenbergMarquardt")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self._hyperparameters()}
