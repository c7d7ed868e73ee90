"""Keras's RMSprop update as a ``torch.optim`` optimizer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop with Keras's update ``w -= lr * g / sqrt(v + eps)`` (torch's ``RMSprop`` uses
    ``sqrt(v) + eps``, which moves near-zero gradients far more on the first steps)."""

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 0.001, alpha: float = 0.9, eps: float = 1e-7,
                 momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum, "centered": centered})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None if closure is None else closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            states = [self.state[p] for p in params]
            for p, state in zip(params, states):
                if not state:
                    state["square_avg"] = torch.zeros_like(p)
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
            rho = group["alpha"]
            square_avg = [s["square_avg"] for s in states]
            torch._foreach_mul_(square_avg, rho)
            torch._foreach_addcmul_(square_avg, grads, grads, value=1 - rho)
            if group["centered"]:
                grad_avg = [s["grad_avg"] for s in states]
                torch._foreach_mul_(grad_avg, rho)
                torch._foreach_add_(grad_avg, grads, alpha=1 - rho)
                denominator = torch._foreach_addcmul(square_avg, grad_avg, grad_avg, value=-1)
                torch._foreach_add_(denominator, group["eps"])
            else:
                denominator = torch._foreach_add(square_avg, group["eps"])
            torch._foreach_sqrt_(denominator)
            increment = torch._foreach_div(grads, denominator)
            torch._foreach_mul_(increment, group["lr"])
            if group["momentum"] > 0:
                buffers = [s["momentum_buffer"] for s in states]
                torch._foreach_mul_(buffers, group["momentum"])
                torch._foreach_add_(buffers, increment)
                increment = buffers
            torch._foreach_sub_(params, increment)
        return loss
