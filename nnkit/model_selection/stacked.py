"""Training a group of same-shaped networks as one stacked model.

The members' weights are stacked along a leading axis (``torch.func.stack_module_state``), one step runs
every member's forward pass and loss at once (``vmap`` over ``functional_call``), and the optimizer's
update is written once over the stacked tensors with each member's own learning rate and L1/L2 factors.
Each member keeps its own initial weights and batch order, and each step computes its gradient with the
same kernels as training it alone, so it ends with the same weights, bit for bit, on the CPU. Members that
differ in ``epochs`` share a run, each saved when its own epochs end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from nnkit.model_selection.members import Member

#: Batched products with fewer multiply-adds per matrix than this take a different CPU kernel (ATen's small
#: ``bmm`` loop) from a lone ``mm``, and round differently; such steps run member by member.
_SMALL_PRODUCT = 400


def train_group(members: Sequence[Member]) -> list[list[float]]:
    """Train ``members`` (which share a group key) together, writing each one's trained weights into its
    model when its epochs end; returns each member's loss per epoch (penalties in, as ``fit`` logs it)."""
    first = members[0]
    body, loss_fn = first.body, first.loss
    names = [name for name, _ in body.named_parameters()]
    params, _ = stack_module_state([m.body for m in members])
    weights = [params[name].detach().clone() for name in names]
    n_members, n_rows = len(members), first.x.shape[0]
    device, dtype = first.x.device, weights[0].dtype
    x = torch.stack([m.x for m in members])
    y = torch.stack([m.y for m in members])
    rows = torch.arange(n_members, device=device)[:, None]
    # the weights any member penalizes, in the order the layers list them (the order of the sum alone)
    penalized = [i for i in range(len(names)) if any(any(m.penalties[i]) for m in members)]
    factors = torch.tensor([[m.penalties[i] for i in penalized] for m in members], device=device, dtype=dtype)
    factors = factors.reshape(n_members, len(penalized), 2)
    update = _Adam(first, members) if first.key[0][0] == "adam" else _SGD(first, members)

    def member_loss(member_weights: tuple[Tensor, ...], x_batch: Tensor, y_batch: Tensor,
                    member_factors: Tensor) -> Tensor:
        y_pred = functional_call(body, dict(zip(names, member_weights)), (x_batch,))
        loss = loss_fn(y_batch, y_pred, None)
        if not penalized:
            return loss
        # L1L2's arithmetic; a zero factor adds an exact 0 where training alone skips the term
        values = [member_weights[i].new_zeros(()) + member_factors[k, 0] * member_weights[i].abs().sum()
                  + member_factors[k, 1] * torch.square(member_weights[i]).sum() for k, i in enumerate(penalized)]
        return loss + (values[0] if len(values) == 1 else torch.stack(values).sum())

    # vmap over grad (not autograd through vmap) keeps each member's gradient bit for bit its own
    step_of = vmap(grad_and_value(member_loss))
    one_by_one = grad_and_value(member_loss)
    smallest = min((m.in_features * m.out_features for m in body.modules() if isinstance(m, nn.Linear)),
                   default=0)
    history: list[list[float]] = [[] for _ in members]
    in_order = torch.arange(n_rows, device=device)
    for epoch in range(max(m.epochs for m in members)):
        # a member whose epochs are done keeps stepping (cheaper than reshaping the stack); its weights
        # were saved when its last epoch ended
        order = torch.stack([m.orders[epoch] if m.orders is not None and epoch < m.epochs else in_order
                             for m in members])
        total = torch.zeros(n_members, device=device, dtype=torch.float64)
        for start in range(0, n_rows, first.batch_size):
            index = order[:, start:start + first.batch_size]
            x_batch, y_batch = x[rows, index], y[rows, index]
            if index.shape[1] * smallest < _SMALL_PRODUCT:
                grads, losses = _member_by_member(one_by_one, weights, x_batch, y_batch, factors)
            else:
                grads, losses = step_of(tuple(weights), x_batch, y_batch, factors)
            update.step(weights, grads)
            total += losses.double() * index.shape[1]
        for i, (member, value) in enumerate(zip(members, (total / n_rows).tolist())):
            if epoch < member.epochs:
                history[i].append(value)
            if epoch + 1 == member.epochs:
                _save(member, weights, i)
    return history


def _save(member: Member, weights: list[Tensor], i: int) -> None:
    """Write the ``i``-th member's slice of the stacked weights into its own model."""
    with torch.no_grad():
        for param, weight in zip(member.body.parameters(), weights):
            param.copy_(weight[i])


def _member_by_member(step: Any, weights: list[Tensor], x: Tensor, y: Tensor,
                      factors: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
    """One step member after member: what a step too small for batched products costs alone."""
    results = [step(tuple(w[i] for w in weights), x[i], y[i], factors[i]) for i in range(len(x))]
    grads = tuple(torch.stack([r[0][k] for r in results]) for k in range(len(weights)))
    return grads, torch.stack([r[1] for r in results])


def _column(values: list[float], like: Tensor) -> Tensor:
    """Per-member values shaped to broadcast over a stacked weight."""
    return torch.tensor(values, device=like.device, dtype=like.dtype).reshape(-1, *([1] * (like.dim() - 1)))


class _Adam:
    """Adam as nnkit runs it: torch's update with Keras's epsilon placement (``eps / sqrt(1 - beta_2 ** t)``
    added to ``sqrt(v_hat)``), per-member learning rates."""

    def __init__(self, first: Member, members: Sequence[Member]) -> None:
        _, self.beta_1, self.beta_2, self.epsilon = first.key[0]
        self.rates = [m.learning_rate for m in members]
        self.m: list[Tensor] = []
        self.v: list[Tensor] = []
        self.t = 0

    def step(self, weights: list[Tensor], grads: Sequence[Tensor]) -> None:
        if not self.m:
            self.m, self.v = [torch.zeros_like(w) for w in weights], [torch.zeros_like(w) for w in weights]
        self.t += 1
        correction_1 = 1 - self.beta_1 ** self.t
        correction_2 = 1 - self.beta_2 ** self.t
        eps = self.epsilon / math.sqrt(correction_2)
        root_2 = correction_2 ** 0.5
        steps = [-rate / correction_1 for rate in self.rates]  # in double, as torch computes its step size
        for weight, grad, m, v in zip(weights, grads, self.m, self.v):
            m.lerp_(grad, 1 - self.beta_1)
            v.mul_(self.beta_2).addcmul_(grad, grad, value=1 - self.beta_2)
            denominator = (v.sqrt() / root_2).add_(eps)
            weight.add_(_column(steps, weight) * m / denominator)  # torch's addcdiv: w + (value * m) / d


class _SGD:
    """SGD as nnkit runs it (torch's rule: ``buf = momentum * buf + g``, ``w -= lr * buf``), per-member rates."""

    def __init__(self, first: Member, members: Sequence[Member]) -> None:
        _, self.momentum, self.nesterov = first.key[0]
        self.steps = [-m.learning_rate for m in members]
        self.buffers: list[Tensor | None] = []

    def step(self, weights: list[Tensor], grads: Sequence[Tensor]) -> None:
        first = not self.buffers
        for i, (weight, grad) in enumerate(zip(weights, grads)):
            if self.momentum:
                if first:
                    self.buffers.append(grad.clone())
                else:
                    self.buffers[i].mul_(self.momentum).add_(grad)
                buffer = self.buffers[i]
                grad = grad.add(buffer, alpha=self.momentum) if self.nesterov else buffer
            weight.addcmul_(_column(self.steps, weight), grad)  # torch's add(grad, alpha=-lr), fused the same way
