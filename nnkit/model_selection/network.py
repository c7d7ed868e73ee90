"""A group's network computed for a stack of runs: each run's loss and gradients in one step.

The body (linear maps, dropouts, element-wise activations) runs for every run at once with batched matrix
products. Gradients are taken with autograd, through a linear map whose backward takes ``nn.Linear``'s own
products, or for the common case (ReLU/tanh/sigmoid networks under cross-entropy on logits, L1 or L2
penalties) written out step by step: autograd's own formulas in its order, without building a graph. Each
run's gradient equals its own to float rounding, and bit for bit wherever the batched kernels round as the
lone ones do (the CPU's vectorized loops and matrix kernels can differ in the last bit for some shapes).
Batches whose products are tiny (where the CPU's batched product takes another kernel than a lone one) run
run by run on fresh copies, with ``nn.Linear``'s own ``F.linear``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import vmap

from nnkit.losses.probabilistic import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy

#: Batched products with fewer multiply-adds per matrix than this take a different CPU kernel (ATen's small
#: ``bmm`` loop) from a lone ``mm``, and round differently; such steps run run by run.
_SMALL_PRODUCT = 400
_LINEAR, _DROPOUT = "linear", "dropout"
_PROBABILITIES, _LABELS, _BINARY = "probabilities", "labels", "binary"
#: Activations whose backward the hand-written path calls directly: autograd's formula (on the result).
_BACKWARDS = {nn.ReLU: lambda grad, out: torch.ops.aten.threshold_backward(grad, out, 0),
              nn.Tanh: torch.ops.aten.tanh_backward, nn.Sigmoid: torch.ops.aten.sigmoid_backward}


class StackedNetwork:
    """The loss and gradients of a group's network for a stack of runs.

    Args:
        body: The module one training step computes (as :func:`nnkit.models.steps.loss_path` gives it).
        loss: The loss on its output.
        weighted: Whether batches carry sample weights.
        penalized: Indices (into ``body``'s parameters) of the weights any run penalizes.
        kinds: Per penalized weight, whether any run puts an L1 and an L2 penalty on it.
        targets: A run's training targets (their dtype and rank choose the cross-entropy's arithmetic).
    """

    def __init__(self, body: nn.Module, loss: Any, weighted: bool, penalized: list[int],
                 kinds: list[tuple[bool, bool]], targets: Tensor) -> None:
        self.ops = _operations(body)
        self.loss = loss
        self.penalized, self.kinds = penalized, kinds
        self.cross_entropy = _plain_cross_entropy(loss, weighted, targets)
        self.batched_loss = _batched_loss(loss, weighted, self.cross_entropy)
        self.by_hand = self.cross_entropy is not None and not any(l1 and l2 for l1, l2 in kinds) and all(
            isinstance(op, tuple) or type(op) in _BACKWARDS or type(op) is nn.Identity for op in self.ops)
        smallest = min((m.in_features * m.out_features for m in body.modules() if isinstance(m, nn.Linear)),
                       default=0)
        self.small_below = math.ceil(_SMALL_PRODUCT / smallest) if smallest else 0  # batch rows

    def loss_and_gradients(self, weights: Sequence[Tensor], x: Tensor, y: Tensor, w: Tensor | None,
                           masks: Sequence[Tensor | None], factors: Tensor) -> tuple[Tensor, Sequence[Tensor]]:
        """Each run's training loss (penalties in) on its batch, and its gradients (stacked like ``weights``)."""
        if x.shape[1] < self.small_below:
            return self._run_by_run(weights, x, y, w, masks, factors)
        if self.by_hand:
            return _by_hand(self, weights, x, y, masks, factors)
        losses = self.losses(weights, x, y, w, masks, factors, True)
        return losses.detach(), torch.autograd.grad(losses.sum(), weights)

    def _run_by_run(self, weights: Sequence[Tensor], x: Tensor, y: Tensor, w: Tensor | None,
                    masks: Sequence[Tensor | None], factors: Tensor) -> tuple[Tensor, list[Tensor]]:
        """:meth:`loss_and_gradients` one run after another, on fresh copies (aligned as a lone fit's tensors
        are: the CPU's matrix kernels round differently for operands that are not)."""
        losses, grads = [], []
        for k in range(x.shape[0]):
            own = [t[k].detach().clone().requires_grad_() for t in weights]
            loss = self.losses(own, x[k].clone(), y[k].clone(), None if w is None else w[k].clone(),
                               [None if m is None else m[k].clone() for m in masks], factors[k], False)
            losses.append(loss.detach())
            grads.append(torch.autograd.grad(loss, own))
        return torch.stack(losses), [torch.stack(parts) for parts in zip(*grads)]

    def losses(self, weights: Sequence[Tensor], x: Tensor, y: Tensor, w: Tensor | None,
               masks: Sequence[Tensor | None], factors: Tensor, stacked: bool, dropout: bool = True) -> Tensor:
        """The training loss (penalties in) of one run, or of a stack of runs (a vector), through autograd."""
        y_pred = _forward(self.ops, weights, x, masks, stacked, dropout)
        if stacked:
            loss = self.batched_loss(y, y_pred, w) if w is not None else self.batched_loss(y, y_pred)
        else:
            loss = self.loss(y, y_pred, w)
        return loss + self.penalties(weights, factors, stacked) if self.penalized else loss

    def penalties(self, weights: Sequence[Tensor], factors: Tensor, stacked: bool) -> Tensor:
        """The weight penalties of one run, or of a stack of runs (a vector), with their ``factors``."""
        values = []
        for k, i in enumerate(self.penalized):  # L1L2's arithmetic; a kind no run uses is left out
            weight = weights[i]
            dims = tuple(range(1, weight.dim())) if stacked else tuple(range(weight.dim()))
            l1, l2 = self.kinds[k]
            terms = ([factors[..., k, 0] * weight.abs().sum(dims)] if l1 else []) + (
                [factors[..., k, 1] * weight.square().sum(dims)] if l2 else [])
            values.append(terms[0] if len(terms) == 1 else terms[0] + terms[1])
        return values[0] if len(values) == 1 else torch.stack(values, -1).sum(-1)


def _by_hand(network: StackedNetwork, weights: Sequence[Tensor], x: Tensor, y: Tensor,
             masks: Sequence[Tensor | None], factors: Tensor) -> tuple[Tensor, list[Tensor]]:
    """:meth:`StackedNetwork.loss_and_gradients` written out: the forward pass keeping what the backward
    needs, then autograd's backward formulas in autograd's order (as training alone runs them)."""
    saved: list[Any] = []
    h, k, d = x, 0, 0
    with torch.no_grad():
        for op in network.ops:
            if isinstance(op, tuple) and op[0] == _LINEAR:
                kernel, bias = weights[k], weights[k + 1] if op[1] else None
                saved.append((_LINEAR, h, k, op[1]))
                k += 2 if op[1] else 1
                h = (torch.bmm(h, kernel.transpose(1, 2)) if bias is None
                     else torch.baddbmm(bias.unsqueeze(1), h, kernel.transpose(1, 2)))
            elif isinstance(op, tuple):
                mask = masks[d] if d < len(masks) else None
                d += 1
                if mask is not None:
                    saved.append((_DROPOUT, mask))
                    h = h * mask
            elif type(op) is not nn.Identity:
                h = op(h)
                saved.append((type(op), h))
        losses, log_probabilities = _plain_loss(h, y, network.cross_entropy)
        grad = _plain_loss_gradient(h, y, network.cross_entropy, log_probabilities)
        grads: list[Tensor | None] = [None] * len(weights)
        for kind, *values in reversed(saved):
            if kind == _LINEAR:
                h_in, k, has_bias = values
                grads[k] = torch.bmm(grad.transpose(1, 2), h_in)
                if has_bias:
                    grads[k + 1] = grad.sum(1)
                if not k:  # the first layer's input (and anything before it) needs no gradient
                    break
                grad = torch.bmm(grad, weights[k])
            elif kind == _DROPOUT:
                grad = grad * values[0]
            else:
                grad = _BACKWARDS[kind](grad, values[0])
        if network.penalized:
            losses = losses + network.penalties(weights, factors, True)
            for j, i in enumerate(network.penalized):
                weight, (l1, _) = weights[i], network.kinds[j]
                factor = factors[:, j, 0 if l1 else 1].reshape(-1, *([1] * (weight.dim() - 1)))
                # abs: grad * sgn(w); square (pow 2): grad * (2 * w ** 1)
                penalty = factor * weight.sgn() if l1 else factor * (2.0 * weight)
                grads[i] = grads[i] + penalty
    return losses, grads


def _plain_loss(h: Tensor, y: Tensor, kind: str) -> tuple[Tensor, Tensor | None]:
    """Each run's plain cross-entropy (as ``F.cross_entropy`` or ``F.binary_cross_entropy_with_logits`` in
    training alone, a mean) on its logits ``h``, and the log-probabilities it took (softmax kinds)."""
    if kind == _BINARY:
        return F.binary_cross_entropy_with_logits(h, y, reduction="none").mean((1, 2)), None
    log_probabilities = torch.log_softmax(h, -1)
    picked = log_probabilities * y if kind == _PROBABILITIES else log_probabilities.gather(-1, y[..., None])
    return -picked.sum((1, 2)) / h.shape[1], log_probabilities


def _plain_loss_gradient(h: Tensor, y: Tensor, kind: str, log_probabilities: Tensor | None) -> Tensor:
    """The gradient autograd's backward gives ``h`` for :func:`_plain_loss` in training alone."""
    if kind == _BINARY:  # autograd's formula: (sigmoid(h) - y) * grad, divided by the number of values
        return ((h.sigmoid() - y) * torch.ones((), dtype=h.dtype, device=h.device)) / (h.shape[1] * h.shape[2])
    # backward of -(sum) / rows: -(1 / rows) per run, spread over its batch
    grad = -(torch.ones(h.shape[0], device=h.device, dtype=h.dtype) / h.shape[1])
    if kind == _PROBABILITIES:  # times y (the product's backward)
        grad = grad[:, None, None].expand_as(h) * y
    else:  # nll_loss's backward: the value at each row's label, zeros elsewhere
        labels = y[..., None]
        grad = torch.zeros_like(h).scatter_(-1, labels, grad[:, None, None].expand_as(labels))
    return torch._log_softmax_backward_data(grad, log_probabilities, -1, h.dtype)


def _plain_cross_entropy(loss: Any, weighted: bool, targets: Tensor) -> str | None:
    """Whether ``loss`` is unweighted mean cross-entropy on logits (``F.cross_entropy`` in training alone)
    over one-hot or soft targets (``"probabilities"``) or integer labels (``"labels"``), else ``None``."""
    if weighted or not getattr(loss, "fn_kwargs", {}).get("from_logits") or loss.reduction not in ("sum_over_batch_size", "mean"):
        return None
    if type(loss) is CategoricalCrossentropy and not loss.fn_kwargs["label_smoothing"] and targets.is_floating_point():
        return _PROBABILITIES
    if type(loss) is SparseCategoricalCrossentropy and targets.dtype == torch.int64 and targets.dim() == 1:
        return _LABELS
    if type(loss) is BinaryCrossentropy and not loss.fn_kwargs["label_smoothing"] and targets.is_floating_point() \
            and targets.dim() == 2:
        return _BINARY
    return None


def _batched_loss(loss: Any, weighted: bool, cross_entropy: str | None) -> Any:
    """Each run's loss over a stack of batches: ``vmap`` of the loss, or for plain cross-entropy the same
    arithmetic per run, without vmap's overhead."""
    if cross_entropy is not None:
        return lambda y, y_pred: _plain_loss(y_pred, y, cross_entropy)[0]
    if weighted:
        return vmap(lambda y, y_pred, w: loss(y, y_pred, w))
    return vmap(lambda y, y_pred: loss(y, y_pred, None))


def _operations(body: nn.Module) -> list[Any]:
    """``body``'s leaves in order: linear maps (with whether they have a bias), dropouts, and activations."""
    ops: list[Any] = []
    for leaf in (m for m in body.modules() if not list(m.children())):
        if isinstance(leaf, nn.Linear):
            ops.append((_LINEAR, leaf.bias is not None))
        elif isinstance(leaf, nn.Dropout):
            ops.append((_DROPOUT, None))
        else:
            ops.append(leaf)
    return ops


def _forward(ops: Sequence[Any], weights: Sequence[Tensor], x: Tensor, masks: Sequence[Tensor | None],
             stacked: bool, dropout: bool = True) -> Tensor:
    """The body's output: for one run (2-D weights, ``F.linear`` as ``nn.Linear`` computes it) or a stack of
    runs (``baddbmm``, which runs the same matrix kernel per run)."""
    h, k, d = x, 0, 0
    for op in ops:
        if isinstance(op, tuple) and op[0] == _LINEAR:
            kernel, bias = weights[k], weights[k + 1] if op[1] else None
            k += 2 if op[1] else 1
            h = F.linear(h, kernel, bias) if not stacked else _StackedLinear.apply(h, kernel, bias)
        elif isinstance(op, tuple):
            mask = masks[d] if dropout and d < len(masks) else None
            d += 1
            if mask is not None:
                h = h * mask
        else:
            h = op(h)
    return h


class _StackedLinear(torch.autograd.Function):
    """``nn.Linear`` for a stack of runs, whose gradients take the same products as ``nn.Linear``'s backward
    (``grad_kernel = grad.T @ input``, not autograd's ``(input.T @ grad).T`` for a batched product)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, kernel)
        ctx.has_bias = bias is not None
        if bias is None:
            return torch.bmm(x, kernel.transpose(1, 2))
        return torch.baddbmm(bias.unsqueeze(1), x, kernel.transpose(1, 2))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, kernel = ctx.saved_tensors
        grad_x = torch.bmm(grad, kernel) if ctx.needs_input_grad[0] else None
        grad_kernel = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_kernel, grad_bias
