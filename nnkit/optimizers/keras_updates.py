"""Keras 3 update rules that ``torch.optim`` lacks (Adafactor, Ftrl, Lamb, Lion), as ``torch.optim`` optimizers.

The nnkit specs (``nnkit.optimizers.Adafactor``, ``Ftrl``, ``Lamb``, ``Lion``) build them from Keras's
argument names; the constructor arguments here use torch's spellings (``lr``, ``betas``, ``eps``). Each keeps
its moments and step count in ``self.state[p]``, so ``state_dict()`` / ``load_state_dict()``,
nnkit's model files and ``BackupAndRestore`` carry them. Gradient clipping, decoupled weight decay and
learning-rate schedules are applied by the nnkit spec before :meth:`step`, as Keras does before its update.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


class _KerasUpdate(torch.optim.Optimizer):
    """The step every update rule here shares: each parameter group's tensors that have gradients, to
    :meth:`_update`."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None if closure is None else closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params, [p.grad for p in params])
        return loss

    def _update(self, group: dict[str, Any], params: list[nn.Parameter], grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


def _count_step(state: dict[str, Any]) -> float:
    """Advance and return the per-tensor step count (a CPU tensor named ``step``, as torch's Adam keeps it,
    so ``load_state_dict`` leaves it on the CPU)."""
    state["step"] += 1
    return float(state["step"])


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.square().mean().sqrt()


class KerasLion(_KerasUpdate):
    """Lion: ``w -= lr * sign(beta_1 * m + (1 - beta_1) * g)``, then ``m = beta_2 * m + (1 - beta_2) * g``."""

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.99)
                 ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas})

    def _update(self, group: dict[str, Any], params: list[nn.Parameter], grads: list[torch.Tensor]) -> None:
        for p in params:
            if not self.state[p]:
                self.state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        beta_1, beta_2 = group["betas"]
        moments = [self.state[p]["exp_avg"] for p in params]
        direction = torch._foreach_mul(moments, beta_1)
        torch._foreach_add_(direction, grads, alpha=1 - beta_1)
        torch._foreach_sign_(direction)
        torch._foreach_add_(params, direction, alpha=-group["lr"])
        torch._foreach_mul_(moments, beta_2)
        torch._foreach_add_(moments, grads, alpha=1 - beta_2)


class KerasLamb(_KerasUpdate):
    """Lamb: Adam's bias-corrected step ``m_hat / (sqrt(v_hat) + eps)`` scaled per tensor by the trust ratio
    ``||w|| / ||step||`` (1 when either norm is zero)."""

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    def _update(self, group: dict[str, Any], params: list[nn.Parameter], grads: list[torch.Tensor]) -> None:
        beta_1, beta_2 = group["betas"]
        corrections_1, corrections_2 = [], []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            t = _count_step(state)
            corrections_1.append(1.0 - beta_1**t)
            corrections_2.append(1.0 - beta_2**t)
        exp_avg = [self.state[p]["exp_avg"] for p in params]
        exp_avg_sq = [self.state[p]["exp_avg_sq"] for p in params]
        torch._foreach_lerp_(exp_avg, grads, 1 - beta_1)
        torch._foreach_lerp_(exp_avg_sq, torch._foreach_mul(grads, grads), 1 - beta_2)
        denominator = torch._foreach_div(exp_avg_sq, corrections_2)
        torch._foreach_sqrt_(denominator)
        torch._foreach_add_(denominator, group["eps"])
        update = torch._foreach_div(exp_avg, corrections_1)
        torch._foreach_div_(update, denominator)
        weight_norms = torch.stack(torch._foreach_norm(params))
        update_norms = torch.stack(torch._foreach_norm(update))
        ratios = torch.where((weight_norms > 0) & (update_norms > 0), weight_norms / update_norms, 1.0)
        torch._foreach_mul_(update, list(ratios.unbind()))
        torch._foreach_add_(params, update, alpha=-group["lr"])


class KerasFtrl(_KerasUpdate):
    """FTRL-Proximal with Keras's online L2 (``l2``, ``beta``) and shrinkage L2 (``l2_shrinkage``):

    ``n' = n + g**2``; ``z += g + 2 * l2_shrinkage * w - (n'**-p - n**-p) / lr * w``;
    ``w = (clip(z, -l1, l1) - z) / (n'**-p / lr + 2 * (l2 + beta / (2 * lr)))`` with ``p = lr_power``.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 0.001, lr_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1: float = 0.0, l2: float = 0.0,
                 l2_shrinkage: float = 0.0, beta: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "lr_power": lr_power, "initial_accumulator_value": initial_accumulator_value,
                                  "l1": l1, "l2": l2, "l2_shrinkage": l2_shrinkage, "beta": beta})

    def _update(self, group: dict[str, Any], params: list[nn.Parameter], grads: list[torch.Tensor]) -> None:
        for p in params:
            state = self.state[p]
            if not state:
                state["accumulator"] = torch.full_like(p, group["initial_accumulator_value"],
                                                       memory_format=torch.preserve_format)
                state["linear"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        lr, power, l1 = group["lr"], -group["lr_power"], group["l1"]
        accumulators = [self.state[p]["accumulator"] for p in params]
        linears = [self.state[p]["linear"] for p in params]
        old_scale = torch._foreach_pow(accumulators, power)
        torch._foreach_addcmul_(accumulators, grads, grads)
        new_scale = torch._foreach_pow(accumulators, power)
        # sigma * w = (n'**-p - n**-p) / lr * w, subtracted from the (shrinkage-adjusted) gradient
        sigma = torch._foreach_sub(new_scale, old_scale)
        torch._foreach_div_(sigma, lr)
        torch._foreach_add_(linears, grads)
        if group["l2_shrinkage"]:
            torch._foreach_add_(linears, params, alpha=2 * group["l2_shrinkage"])
        torch._foreach_sub_(linears, torch._foreach_mul(sigma, params))
        quadratic = torch._foreach_div(new_scale, lr)
        torch._foreach_add_(quadratic, 2 * (group["l2"] + group["beta"] / (2.0 * lr)))
        clipped = torch._foreach_clamp_min(linears, -l1)
        torch._foreach_clamp_max_(clipped, l1)
        torch._foreach_sub_(clipped, linears)
        torch._foreach_div_(clipped, quadratic)
        torch._foreach_copy_(params, clipped)


class KerasAdafactor(_KerasUpdate):
    """Adafactor as Keras 3 computes it.

    Tensors of rank >= 2 keep factored second moments: a row mean over the last axis (shape ``w.shape[:-1]``)
    and a column mean over the second-to-last axis (shape ``w.shape[:-2] + w.shape[-1:]``); smaller tensors
    keep a full one. At step ``t``: ``beta_2 = 1 - t**decay``, moments of ``g**2 + eps_1``, update
    ``u = g / sqrt(v)`` clipped to RMS ``clip_threshold`` and ``w -= max(eps_2, rms(w)) * min(lr, 1/sqrt(t)) * u``.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 0.001, beta_2_decay: float = -0.8,
                 eps: tuple[float, float] = (1e-30, 1e-3), clip_threshold: float = 1.0) -> None:
        super().__init__(params, {"lr": lr, "beta_2_decay": beta_2_decay, "eps": eps,
                                  "clip_threshold": clip_threshold})

    def _update(self, group: dict[str, Any], params: list[nn.Parameter], grads: list[torch.Tensor]) -> None:
        epsilon_1, epsilon_2 = group["eps"]
        for p in params:
            state = self.state[p]
            factored = p.dim() >= 2
            if not state:
                state["step"] = torch.tensor(0.0)
                if factored:
                    state["exp_avg_sq_row"] = p.new_zeros(p.shape[:-1])
                    state["exp_avg_sq_col"] = p.new_zeros(p.shape[:-2] + p.shape[-1:])
                else:
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            t = _count_step(state)
            # Keras 3 always caps the step size at 1/sqrt(t), whatever `relative_step` says.
            step_size = _rms(p).clamp(min=epsilon_2) * min(group["lr"], 1.0 / math.sqrt(t))
            beta_2 = 1.0 - t ** group["beta_2_decay"]
            grad_sq = p.grad.square().add_(epsilon_1)
            if factored:
                row, col = state["exp_avg_sq_row"], state["exp_avg_sq_col"]
                row.lerp_(grad_sq.mean(dim=-1), 1.0 - beta_2)
                col.lerp_(grad_sq.mean(dim=-2), 1.0 - beta_2)
                velocity = (row / row.mean(dim=-1, keepdim=True)).unsqueeze(-1) * col.unsqueeze(-2)
            else:
                velocity = state["exp_avg_sq"].lerp_(grad_sq, 1.0 - beta_2)
            update = p.grad / velocity.sqrt()
            update.div_((_rms(update) / group["clip_threshold"]).clamp(min=1.0))
            p.sub_(update.mul_(step_size))
