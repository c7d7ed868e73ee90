"""The Gauss-Newton system of one batch's loss, from per-sample Jacobians computed with ``torch.func``.

For a loss ``L(z(theta))`` of the model outputs ``z``, the generalized Gauss-Newton matrix stands in for the
Hessian: ``G = sum_i J_i^T H_i J_i`` with ``J_i = dz_i / dtheta`` (one sample's outputs) and ``H_i`` the
Hessian of the loss in that sample's outputs (positive semi-definite for squared errors and for
cross-entropy on logits or probabilities). Weight penalties add their gradient and the diagonal of their
Hessian (exact for l1 and l2).

Both sides are scaled by ``n / 2`` (``n`` samples in the batch): with ``loss="mse"`` and one output the
system is the textbook ``J^T J`` and ``J^T r`` of the residuals ``r = sqrt(sample_weight) * (y_pred - y)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from nnkit.errors import ConfigError
from nnkit.optimizers.second_order import Objective


@dataclass
class GaussNewtonSystem:
    """``(matrix + damping * I) delta = -gradient`` is the damped Gauss-Newton step.

    Attributes:
        matrix: ``(P, P)`` float64 Gauss-Newton matrix of ``n / 2`` times the loss.
        gradient: ``(P,)`` float64 gradient of ``n / 2`` times the loss.
        loss: The loss with penalties at the current weights (a scalar tensor).
        outputs: The outputs the loss saw at the current weights.
    """

    matrix: Tensor
    gradient: Tensor
    loss: Tensor
    outputs: Tensor


class _Calls(nn.Module):
    """``forward`` as a module owning ``module``, so ``functional_call`` swaps the weights ``forward`` reads."""

    def __init__(self, module: nn.Module, forward: Callable[[Any], Any]) -> None:
        super().__init__()
        self.module = module
        object.__setattr__(self, "call", forward)  # not a child: forward shares module's layers

    def forward(self, x: Any) -> Any:
        return self.call(x)


def parameter_names(module: nn.Module, params: list[nn.Parameter]) -> list[str]:
    """The names ``module.named_parameters()`` gives ``params``, in order."""
    names = {id(p): name for name, p in module.named_parameters()}
    return [names[id(p)] for p in params]


def flat(tensors: list[Tensor | None], params: list[nn.Parameter]) -> Tensor:
    """One float64 vector of ``tensors`` (zeros where ``None``), in the order of ``params``."""
    parts = [torch.zeros(p.numel(), dtype=torch.float64, device=p.device) if t is None
             else t.detach().reshape(-1).to(torch.float64) for t, p in zip(tensors, params)]
    return torch.cat(parts)


def _rows(x: Any, index: slice) -> Any:
    return tuple(part[index] for part in x) if isinstance(x, tuple) else x[index]


def _count(x: Any) -> int:
    return x[0].shape[0] if isinstance(x, tuple) else x.shape[0]


class Jacobians:
    """Per-sample Jacobians ``dz_i / dtheta`` of a forward pass, in chunks of samples that fit a budget.

    Args:
        module: The module whose named parameters ``forward`` reads.
        forward: The forward pass the loss sees.
        params: The trainable weights (the Jacobian's columns, in this order).
        max_elements: Most Jacobian elements held at once (a chunk has ``samples * outputs * P`` of them).
    """

    def __init__(self, module: nn.Module, forward: Callable[[Any], Any], params: list[nn.Parameter],
                 max_elements: int) -> None:
        self.caller = _Calls(module, forward)
        self.names = ["module." + name for name in parameter_names(module, params)]
        self.params = params
        self.max_elements = max_elements

        def one_sample(weights: dict[str, Tensor], x: Any) -> Tensor:
            batch = tuple(part.unsqueeze(0) for part in x) if isinstance(x, tuple) else x.unsqueeze(0)
            return functional_call(self.caller, weights, (batch,)).reshape(-1)

        self._per_sample = vmap(jacrev(one_sample), in_dims=(None, 0), randomness="different")

    def chunks(self, x: Any, outputs: int) -> Iterator[tuple[slice, Tensor]]:
        """``(rows, J)`` pairs covering the batch ``x``: ``J`` is ``(len(rows), outputs, P)``."""
        n = _count(x)
        size = sum(p.numel() for p in self.params)
        step = max(1, min(n, self.max_elements // max(1, outputs * size)))
        weights = {name: p.detach() for name, p in zip(self.names, self.params)}
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            blocks = self._per_sample(weights, _rows(x, rows))
            m = rows.stop - rows.start
            yield rows, torch.cat([blocks[name].reshape(m, outputs, -1) for name in self.names], dim=2)


def output_curvature(loss: Callable[[Tensor], Tensor], outputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss, gradient, hessian)`` of ``loss`` in each sample's outputs.

    The gradient is ``(n, K)`` and the Hessian ``(n, K, K)`` per sample (``K`` outputs per sample); the loss
    is taken to add up per-sample terms, so cross-sample second derivatives are left out.
    """
    n = outputs.shape[0]
    z = outputs.detach().reshape(n, -1).requires_grad_()
    with torch.enable_grad():
        value = loss(z.reshape(outputs.shape))
        (grad,) = torch.autograd.grad(value, z, create_graph=True)
        if not grad.requires_grad:  # a loss linear in the outputs: no curvature
            return value.detach(), grad.detach(), torch.zeros(n, z.shape[1], z.shape[1], dtype=z.dtype, device=z.device)
        rows = [torch.autograd.grad(grad[:, j].sum(), z, retain_graph=True, allow_unused=True)[0]
                for j in range(z.shape[1])]
    hessian = torch.stack([torch.zeros_like(z) if row is None else row for row in rows], dim=1)
    return value.detach(), grad.detach(), hessian.detach()


def penalty_curvature(penalty: Tensor, params: list[nn.Parameter]) -> tuple[Tensor, Tensor]:
    """``(gradient, diagonal)``: the penalty's gradient and the (non-negative) row sums of its Hessian,
    which are its diagonal for penalties that add up per-weight terms (l1, l2)."""
    with torch.enable_grad():
        grads = torch.autograd.grad(penalty, params, create_graph=True, allow_unused=True)
        live = [g.sum() for g in grads if g is not None and g.requires_grad]
        rows = torch.autograd.grad(torch.stack(live).sum(), params, allow_unused=True) if live else [None] * len(
            params)
    return flat(list(grads), params), flat(list(rows), params).clamp_min(0.0)


def gauss_newton_system(objective: Objective, jacobians: Jacobians) -> GaussNewtonSystem:
    """The Gauss-Newton system of ``objective`` at the current weights."""
    params = jacobians.params
    with torch.no_grad():
        outputs = objective.forward(objective.x)
    if not isinstance(outputs, Tensor):
        raise ConfigError(f"A Gauss-Newton step needs a model whose forward pass returns one tensor, but it returned "
                          f"a {type(outputs).__name__}. Use optimizer='lbfgs' for this model.")
    n = outputs.shape[0]
    value, grad, hessian = output_curvature(objective.data_loss, outputs)
    size = sum(p.numel() for p in params)
    matrix = torch.zeros(size, size, dtype=torch.float64, device=outputs.device)
    gradient = torch.zeros(size, dtype=torch.float64, device=outputs.device)
    for rows, jac in jacobians.chunks(objective.x, grad.shape[1]):
        # products in the model's precision (J carries no more), sums over chunks and the solve in float64
        curvature = hessian[rows].to(jac.dtype)
        weighted = jac * curvature if grad.shape[1] == 1 else torch.bmm(curvature, jac)  # H_i J_i
        matrix += (jac.reshape(-1, size).T @ weighted.reshape(-1, size)).to(torch.float64)
        gradient += torch.einsum("nk,nkp->p", grad[rows].to(jac.dtype), jac).to(torch.float64)
    total = value
    with torch.enable_grad():  # the step itself runs under no_grad
        penalty = objective.penalty()
    if penalty is not None:
        penalty_grad, penalty_diag = penalty_curvature(penalty, params)
        gradient += penalty_grad
        matrix.diagonal().add_(penalty_diag)
        total = value + penalty.detach()
    scale = n / 2.0
    matrix.mul_(scale)
    gradient.mul_(scale)
    return GaussNewtonSystem(matrix, gradient, total, outputs)
