"""Training a group of same-shaped networks as one stacked model.

Members that would train identically up to their ``epochs`` (same initial weights, data, random stream and
hyperparameters) share one *run*, saved at each member's epoch count. The runs' weights are stacked along a
leading axis; one step computes every run's batch with batched matrix products (``baddbmm``), each run's
loss (``vmap`` of the compiled loss), its weight penalties, and one optimizer update over the stacked
tensors with each run's own learning rate and L1/L2 factors. Each run keeps its own batch order and dropout
masks (drawn from a copy of the generator its own ``fit`` would use) and computes its gradient with the
kernels training it alone uses, so on the CPU it ends with the same weights, bit for bit. The data is
stored once per fold, not once per run. Runs whose training set is shorter take their last, smaller batch in
a step of their own; runs stopped early (``EarlyStopping``) leave the stack.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import vmap

from nnkit.losses.probabilistic import CategoricalCrossentropy
from nnkit.model_selection.members import Member, dropout_widths, fingerprint

#: Batched products with fewer multiply-adds per matrix than this take a different CPU kernel (ATen's small
#: ``bmm`` loop) from a lone ``mm``, and round differently; such steps run run by run.
_SMALL_PRODUCT = 400


@dataclass
class _Run:
    """One training trajectory, shared by the members it serves (they differ at most in ``epochs``)."""

    members: list[Member]
    generator: torch.Generator
    epochs: int
    going: bool = True


def shared_runs(members: Sequence[Member]) -> list[_Run]:
    """The distinct trainings among ``members``: those equal but for ``epochs`` share a run."""
    runs: dict[tuple, _Run] = {}
    for member in members:
        signature = (member.data_key, member.optimizer, tuple(member.penalties), tuple(member.rates), member.shuffle,
                     bytes(member.generator.get_state().numpy()),
                     tuple(fingerprint(p.detach()) for p in member.body.parameters()))
        run = runs.get(signature)
        if run is None:
            generator = torch.Generator(device=member.x.device)
            generator.set_state(member.generator.get_state())
            runs[signature] = _Run([member], generator, member.epochs)
        else:
            run.members.append(member)
            run.epochs = max(run.epochs, member.epochs)
    return list(runs.values())


def train_runs(runs: Sequence[_Run]) -> None:
    """Train ``runs`` (whose members share a group key) together; each member ends with its trained model and
    its losses (``member.losses``)."""
    _Stack(runs).train()


class _Stack:
    """The runs' stacked weights, data, optimizer state, and the training loop over them."""

    def __init__(self, runs: Sequence[_Run]) -> None:
        self.runs = list(runs)
        first = self.runs[0].members[0]
        self.first, self.body, self.loss = first, first.body, first.loss
        self.device = first.x.device
        params = [list(run.members[0].body.parameters()) for run in self.runs]
        # every run's weights in one row of a flat tensor (one optimizer op per step covers them all), seen
        # through a view per weight (what the forward pass uses)
        self.shapes = [tuple(p.shape) for p in params[0]]
        self.flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in run]) for run in params])
        self.weights = _views(self.flat, self.shapes)
        self.ops = _operations(self.body)
        self.widths = dropout_widths(self.body)
        self.rates = [run.members[0].rates for run in self.runs]
        self.x, self.y, self.w, self.x_at = _shared([run.members[0] for run in self.runs])
        self.rows = [run.members[0].x.shape[0] for run in self.runs]
        n_params = len(self.weights)
        self.penalized = [i for i in range(n_params) if any(any(r.members[0].penalties[i]) for r in self.runs)]
        factors = [[run.members[0].penalties[i] for i in self.penalized] for run in self.runs]
        self.factors = torch.tensor(factors, device=self.device, dtype=self.weights[0].dtype).reshape(
            len(self.runs), len(self.penalized), 2)
        # which kinds of penalty any run puts on each penalized weight: a term no run uses is left out (its
        # zero factor would add exact zeros to the loss and the gradients)
        self.kinds = [(bool(self.factors[:, k, 0].any()), bool(self.factors[:, k, 1].any()))
                      for k in range(len(self.penalized))]
        self.batched_loss = _batched_loss(self.loss, self.w is not None)
        settings = np.array([run.members[0].optimizer for run in self.runs], dtype=np.float64)
        kind = first.key[0]
        self.update = _Adam(settings, self.flat) if kind[0] == "adam" else _SGD(kind, settings, self.flat)
        smallest = min((m.in_features * m.out_features for m in self.body.modules() if isinstance(m, nn.Linear)),
                       default=0)
        self.small_below = math.ceil(_SMALL_PRODUCT / smallest) if smallest else 0  # batch rows

    def train(self) -> None:
        batch_size = self.first.batch_size
        for member in (m for run in self.runs for m in run.members):
            member.losses = {"loss": []}
            if member.validation is not None:
                member.losses["val_loss"] = []
            member.model.stop_training = False
            for callback in member.early_stopping:
                callback.set_model(member.model)
                callback.on_train_begin()
        self.ended: set[int] = set()
        epoch = 0
        while any(run.going for run in self.runs):
            index = self._epoch_rows()
            totals = torch.zeros(len(self.runs), dtype=torch.float64, device=self.device)
            for start in range(0, max(self.rows), batch_size):
                by_size: dict[int, list[int]] = defaultdict(list)
                for r, (run, rows) in enumerate(zip(self.runs, self.rows)):
                    if run.going and start < rows:
                        by_size[min(batch_size, rows - start)].append(r)
                for size, which in by_size.items():
                    whole = len(which) == len(self.runs)
                    chosen = None if whole else torch.tensor(which, device=self.device)
                    rows_now = index[:, start:start + size] if whole else index[chosen, start:start + size]
                    losses = self._step(chosen, which, rows_now)
                    totals[which] += losses.double() * size
            self._end_epoch(epoch, (totals / torch.tensor(self.rows, device=self.device)).tolist())
            epoch += 1

    def _epoch_rows(self) -> Tensor:
        """Each run's rows of the shared data in this epoch's order (shuffled with the run's own generator)."""
        longest = max(self.rows)
        index = torch.zeros(len(self.runs), longest, dtype=torch.long, device=self.device)
        for r, (run, rows, at) in enumerate(zip(self.runs, self.rows, self.x_at)):
            if not run.going:
                continue
            order = (torch.randperm(rows, generator=run.generator, device=self.device) if run.members[0].shuffle
                     else torch.arange(rows, device=self.device))
            index[r, :rows] = order + at
        return index

    def _step(self, chosen: Tensor | None, which: list[int], rows: Tensor) -> Tensor:
        """One optimizer step of the runs ``which`` (all when ``chosen`` is None) on their ``rows``; returns
        each one's loss."""
        flat = self.flat if chosen is None else self.flat[chosen]
        weights = self.weights if chosen is None else _views(flat, self.shapes)
        x, y = self.x[rows], self.y[rows]
        w = None if self.w is None else self.w[rows]
        masks = self._masks(which, rows.shape[1])
        factors = self.factors if chosen is None else self.factors[chosen]
        if rows.shape[1] < self.small_below:  # run by run, as each would alone
            losses = torch.stack([self._loss([t[k] for t in weights], x[k], y[k], None if w is None else w[k],
                                             [None if m is None else m[k] for m in masks], factors[k], False)
                                  for k in range(len(which))])
        else:
            losses = self._loss(weights, x, y, w, masks, factors, True)
        grads = torch.autograd.grad(losses.sum(), weights)
        with torch.no_grad():
            self.update.step(chosen, which, flat, torch.cat([g.reshape(len(which), -1) for g in grads], 1))
        return losses.detach()

    def _masks(self, which: list[int], rows: int) -> list[Tensor | None]:
        """Per dropout, the masks of the runs ``which`` for a batch of ``rows``, stacked: each run's drawn from
        its own generator as ``nn.Dropout`` draws it (``bernoulli_(1 - p)``, then scaled by ``1 / (1 - p)``);
        ``None`` where no run drops anything."""
        masks: list[Tensor | None] = []
        for d, width in enumerate(self.widths):
            rates = [self.rates[r][d] for r in which]
            if not any(rates):
                masks.append(None)
                continue
            mask = torch.ones(len(which), rows, width, device=self.device)
            for k, (r, rate) in enumerate(zip(which, rates)):
                if rate:
                    mask[k].bernoulli_(1 - rate, generator=self.runs[r].generator)
            # ATen divides the 0/1 draws by (1 - p) in float32: 1 becomes 1 / (1 - p), as here
            keep = torch.tensor([1 - rate for rate in rates], device=self.device)
            masks.append(mask.div_(keep.reshape(-1, 1, 1)))
        return masks

    def _loss(self, weights: Sequence[Tensor], x: Tensor, y: Tensor, w: Tensor | None, masks: Sequence[Tensor | None],
              factors: Tensor, stacked: bool) -> Tensor:
        """The training loss (penalties in) of one run, or of a stack of runs (a vector)."""
        y_pred = _forward(self.ops, weights, x, masks, stacked)
        if stacked:
            loss = self.batched_loss(y, y_pred, w) if w is not None else self.batched_loss(y, y_pred)
        else:
            loss = self.loss(y, y_pred, w)
        if not self.penalized:
            return loss
        values = []
        for k, i in enumerate(self.penalized):  # L1L2's arithmetic
            weight = weights[i]
            dims = tuple(range(1, weight.dim())) if stacked else tuple(range(weight.dim()))
            l1, l2 = self.kinds[k]
            if l1 and l2:
                values.append(factors[..., k, 0] * weight.abs().sum(dims) + factors[..., k, 1] * weight.square().sum(dims))
            else:
                values.append(factors[..., k, 0] * weight.abs().sum(dims) if l1 else
                              factors[..., k, 1] * weight.square().sum(dims))
        return loss + (values[0] if len(values) == 1 else torch.stack(values, -1).sum(-1))

    def _end_epoch(self, epoch: int, losses: list[float]) -> None:
        """Log each member's epoch, run its early stopping, and save the members whose training ends."""
        validation = self._validation_losses() if self.first.validation is not None else None
        for r, run in enumerate(self.runs):
            if not run.going:
                continue
            going = False
            for member in run.members:
                if id(member) in self.ended:
                    continue
                logs = {"loss": losses[r]}
                if validation is not None:
                    logs["val_loss"] = validation[r]
                for name, value in logs.items():
                    member.losses[name].append(value)
                ends = epoch + 1 == member.epochs
                if member.early_stopping:
                    self._save(member, r)
                    for callback in member.early_stopping:
                        callback.on_epoch_end(epoch, logs)
                    ends = ends or member.model.stop_training
                if ends:
                    self.ended.add(id(member))
                    self._save(member, r)
                    for callback in member.early_stopping:
                        callback.on_train_end()
                else:
                    going = True
            run.going = going

    def _validation_losses(self) -> list[float]:
        """Each run's loss on its held-out rows, as ``fit`` logs ``val_loss`` (no dropout, penalties in)."""
        with torch.no_grad():
            held = [run.members[0].validation for run in self.runs]
            out = []
            for r, (x, y, w) in enumerate(held):
                weights = [t[r] for t in self.weights]
                y_pred = _forward(self.ops, weights, x, [], False, dropout=False)
                loss = self.loss(y, y_pred, w)
                for k, i in enumerate(self.penalized):
                    loss = loss + self.factors[r, k, 0] * weights[i].abs().sum() + self.factors[r, k, 1] * (
                        weights[i].square().sum())
                out.append(float(loss))
            return out

    def _save(self, member: Member, r: int) -> None:
        """Write run ``r``'s weights into the member's own model."""
        with torch.no_grad():
            for param, weight in zip(member.body.parameters(), self.weights):
                param.copy_(weight[r])


def _views(flat: Tensor, shapes: Sequence[tuple[int, ...]]) -> list[Tensor]:
    """Each weight of every run, as a view of the runs' flat rows (a leaf of autograd: gradients are taken
    with respect to it, and updates of ``flat`` show through it)."""
    views, at = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(flat[:, at:at + size].view(-1, *shape).requires_grad_())
        at += size
    return views


def _batched_loss(loss: Any, weighted: bool) -> Any:
    """Each run's loss over a stack of batches: ``vmap`` of the loss, or for cross-entropy on logits (the
    fused softmax output) the same arithmetic as ``F.cross_entropy`` on probabilities, per run, without vmap's
    overhead."""
    if (type(loss) is CategoricalCrossentropy and loss.fn_kwargs["from_logits"] and not weighted
            and not loss.fn_kwargs["label_smoothing"] and loss.reduction in ("sum_over_batch_size", "mean")):
        # ATen's cross_entropy with probability targets: -(log_softmax(x) * y).sum() / rows
        return lambda y, y_pred: -(torch.log_softmax(y_pred, -1) * y).sum((1, 2)) / y_pred.shape[1]
    if weighted:
        return vmap(lambda y, y_pred, w: loss(y, y_pred, w))
    return vmap(lambda y, y_pred: loss(y, y_pred, None))


def _shared(members: Sequence[Member]) -> tuple[Tensor, Tensor, Tensor | None, list[int]]:
    """The distinct training sets of ``members`` (equal ones stored once, as the runs of one fold) concatenated
    along rows: inputs, targets, sample weights, and where each member's rows start."""
    distinct: dict[tuple, int] = {}
    parts: list[Member] = []
    starts = []
    for member in members:
        key = member.data_key
        if key not in distinct:
            distinct[key] = sum(part.x.shape[0] for part in parts)
            parts.append(member)
        starts.append(distinct[key])
    weights = None if parts[0].sample_weight is None else torch.cat([part.sample_weight for part in parts])
    return torch.cat([part.x for part in parts]), torch.cat([part.y for part in parts]), weights, starts


_LINEAR, _DROPOUT = "linear", "dropout"


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


def _per_run(values: np.ndarray, like: Tensor) -> float | Tensor:
    """A setting every run shares as a Python number (the scalar torch's optimizers use), else a column of
    the runs' values in the weights' precision."""
    if (values == values[0]).all():
        return float(values[0])
    return torch.from_numpy(values).to(like).reshape(-1, 1)


class _Adam:
    """Adam as nnkit runs it: torch's update with Keras's epsilon placement (``eps / sqrt(1 - beta_2 ** t)``
    added to ``sqrt(v_hat)``), per-run learning rates, betas, epsilons and step counts, over the runs' flat
    weights."""

    def __init__(self, settings: np.ndarray, flat: Tensor) -> None:
        self.settings = settings  # (learning_rate, beta_1, beta_2, epsilon) per run
        self.flat, self.m, self.v = flat, torch.zeros_like(flat), torch.zeros_like(flat)
        self.t = np.zeros(len(settings), dtype=np.int64)
        self.factors = torch.zeros(3, len(settings), 1, dtype=flat.dtype, device=flat.device)
        self.keep_1 = _per_run(1 - settings[:, 1], flat)  # 1 - beta_1, in double as torch computes it
        self.beta_2 = _per_run(settings[:, 2], flat)
        self.keep_2 = _per_run(1 - settings[:, 2], flat)

    def _factors(self, which: list[int]) -> np.ndarray:
        """Per run (columns): the step (``-lr / (1 - beta_1 ** t)``), ``sqrt(1 - beta_2 ** t)`` and the epsilon,
        computed in double with the same Python arithmetic as torch's Adam."""
        cache: dict[tuple, tuple[float, float, float]] = {}
        values = np.empty((3, len(which)))
        for k, (step, (rate, beta_1, beta_2, epsilon)) in enumerate(zip(self.t[which].tolist(),
                                                                        self.settings[which].tolist())):
            key = (step, beta_1, beta_2, epsilon)
            if key not in cache:
                correction_1, correction_2 = 1 - beta_1 ** step, 1 - beta_2 ** step
                cache[key] = (correction_1, correction_2 ** 0.5, epsilon / math.sqrt(correction_2))
            correction_1, root_2, eps = cache[key]
            values[:, k] = (-rate / correction_1, root_2, eps)
        return values[:, :, None]

    def step(self, chosen: Tensor | None, which: list[int], flat: Tensor, grad: Tensor) -> None:
        self.t[which] += 1
        values = torch.from_numpy(self._factors(which))
        if chosen is None:
            factors, m, v = self.factors, self.m, self.v
            factors.copy_(values)  # rounded to the weights' precision, as torch casts its scalars
            keep_1, beta_2, keep_2 = self.keep_1, self.beta_2, self.keep_2
        else:
            factors, m, v = values.to(self.factors), self.m[chosen], self.v[chosen]
            keep_1, beta_2, keep_2 = (c if isinstance(c, float) else c[chosen]
                                      for c in (self.keep_1, self.beta_2, self.keep_2))
        steps, roots, eps = factors
        m.lerp_(grad, keep_1)
        if isinstance(keep_2, float):
            v.mul_(beta_2).addcmul_(grad, grad, value=keep_2)
        else:  # addcmul's value * t1 * t2, with the value per run
            v.mul_(beta_2).addcmul_(keep_2 * grad, grad)
        denominator = (v.sqrt() / roots).add_(eps)
        flat.add_(steps * m / denominator)  # torch's addcdiv: w + (value * m) / d
        if chosen is not None:
            for full, part in ((self.m, m), (self.v, v), (self.flat, flat)):
                full.index_copy_(0, chosen, part)


class _SGD:
    """SGD as nnkit runs it (torch's rule: ``buf = momentum * buf + g``, ``w -= lr * buf``), per-run rates and
    momentums, over the runs' flat weights."""

    def __init__(self, kind: tuple, settings: np.ndarray, flat: Tensor) -> None:
        _, self.uses_momentum, self.nesterov = kind
        self.steps = torch.from_numpy(-settings[:, 0]).to(flat).reshape(-1, 1)
        self.momentum = _per_run(settings[:, 1], flat)
        self.flat, self.buffer = flat, torch.zeros_like(flat)
        self.started = np.zeros(len(settings), dtype=bool)

    def step(self, chosen: Tensor | None, which: list[int], flat: Tensor, grad: Tensor) -> None:
        buffer = self.buffer if chosen is None else self.buffer[chosen]
        momentum = self.momentum if chosen is None or isinstance(self.momentum, float) else self.momentum[chosen]
        if self.uses_momentum:
            if not self.started[which].any():  # torch's first step: the buffer is the gradient
                buffer.copy_(grad)
            else:
                buffer.mul_(momentum).add_(grad)
            self.started[which] = True
            if not self.nesterov:
                grad = buffer
            elif isinstance(momentum, float):
                grad = grad.add(buffer, alpha=momentum)
            else:
                grad = grad.addcmul(momentum, buffer)  # grad + momentum * buffer, per run
        # torch's add(grad, alpha=-lr), fused the same way
        flat.addcmul_(self.steps if chosen is None else self.steps[chosen], grad)
        if chosen is not None:
            for full, part in ((self.buffer, buffer), (self.flat, flat)):
                full.index_copy_(0, chosen, part)
