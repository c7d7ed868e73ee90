"""Training a group of same-shaped networks as one stacked model.

Members that would train identically up to their ``epochs`` (same initial weights, data, random stream and
hyperparameters) share one *run*, saved at each member's epoch count. Each run's weights are one row of a
flat tensor; one step computes every run's loss and gradients (:mod:`nnkit.model_selection.network`) and
one optimizer update over the rows with each run's own settings (:mod:`nnkit.model_selection.updates`).
Each run keeps its own batch order and dropout masks (drawn from a copy of the generator its own ``fit``
would use), so it ends with the weights training it alone gives, to float rounding. The data is stored
once per fold, not once per run. Runs whose training set is shorter take their last, smaller batch in a
step of their own; runs stopped early (``EarlyStopping``) leave the stack.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nnkit.model_selection.members import Member, dropout_widths, fingerprint
from nnkit.model_selection.network import StackedNetwork
from nnkit.model_selection.updates import SGD, Adam


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
        self.first = first
        self.device = first.x.device
        params = [list(run.members[0].body.parameters()) for run in self.runs]
        # every run's weights in one row of a flat tensor (one optimizer op per step covers them all), seen
        # through a view per weight (what the forward pass uses)
        self.shapes = [tuple(p.shape) for p in params[0]]
        self.flat = torch.stack([torch.cat([p.detach().reshape(-1) for p in run]) for run in params])
        self.weights = _views(self.flat, self.shapes)
        self.widths = dropout_widths(first.body)
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
        self.network = StackedNetwork(first.body, first.loss, self.w is not None, self.penalized, self.kinds,
                                      first.y)
        settings = np.array([run.members[0].optimizer for run in self.runs], dtype=np.float64)
        kind = first.key[0]
        self.update = Adam(settings, self.flat) if kind[0] == "adam" else SGD(kind, settings, self.flat)

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
        for run in self.runs:  # fit trains nothing for epochs=0: the initial weights stay
            for member in run.members:
                if member.epochs == 0:
                    self.ended.add(id(member))
            run.going = any(id(member) not in self.ended for member in run.members)
        self._drop_ended_runs()
        epoch = 0
        while any(run.going for run in self.runs):
            index = self._epoch_rows()
            totals = torch.zeros(len(self.runs), dtype=torch.float64, device=self.device)
            everyone, shortest = list(range(len(self.runs))), min(self.rows)  # every run is going
            for start in range(0, max(self.rows), batch_size):
                by_size: dict[int, list[int]] = defaultdict(list)
                if start + batch_size <= shortest:  # a full batch for every run
                    by_size[batch_size] = everyone
                else:  # near the end of the shorter training sets
                    for r, rows in enumerate(self.rows):
                        if start < rows:
                            by_size[min(batch_size, rows - start)].append(r)
                for size, which in by_size.items():
                    whole = len(which) == len(self.runs)
                    chosen = None if whole else torch.tensor(which, device=self.device)
                    rows_now = index[:, start:start + size] if whole else index[chosen, start:start + size]
                    losses = self._step(chosen, which, rows_now)
                    if whole:
                        totals.add_(losses.double(), alpha=size)
                    else:
                        totals[chosen] += losses.double() * size
            self._end_epoch(epoch, (totals / torch.tensor(self.rows, device=self.device)).tolist())
            self._drop_ended_runs()
            epoch += 1

    def _drop_ended_runs(self) -> None:
        """Shrink the stack to the runs still going (those stopped early are saved), so later steps stay whole."""
        keep = [r for r, run in enumerate(self.runs) if run.going]
        if not keep or len(keep) == len(self.runs):
            return
        index = torch.tensor(keep, device=self.device)
        self.runs = [self.runs[r] for r in keep]
        self.flat = self.flat[index]
        self.weights = _views(self.flat, self.shapes)
        self.rates, self.rows, self.x_at = ([values[r] for r in keep] for values in (self.rates, self.rows, self.x_at))
        self.factors = self.factors[index]
        self.update.keep(keep, self.flat)

    def _epoch_rows(self) -> Tensor:
        """Each run's rows of the shared data in this epoch's order (shuffled with the run's own generator)."""
        longest = max(self.rows)
        index = torch.zeros(len(self.runs), longest, dtype=torch.long, device=self.device)
        for r, (run, rows, at) in enumerate(zip(self.runs, self.rows, self.x_at)):
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
        losses, grads = self.network.loss_and_gradients(weights, x, y, w, masks, factors)
        with torch.no_grad():
            self.update.step(chosen, which, flat, torch.cat([g.reshape(len(which), -1) for g in grads], 1))
        return losses

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
        """Each run's loss on its held-out rows, as ``fit`` logs ``val_loss``: the mean over batches of
        ``batch_size`` rows (no dropout, penalties in) weighted by their sizes, in float64; the runs whose
        held-out sets have the same length at once."""
        held = [run.members[0].validation for run in self.runs]
        by_length: dict[int, list[int]] = defaultdict(list)
        for r, (x, _, _) in enumerate(held):
            by_length[x.shape[0]].append(r)
        losses = torch.zeros(len(self.runs), dtype=torch.float64)
        batch_size = self.first.batch_size
        with torch.no_grad():
            for length, which in by_length.items():
                index = torch.tensor(which, device=self.device)
                weights, factors = [t[index] for t in self.weights], self.factors[index]
                for start in range(0, length, batch_size):
                    part = slice(start, start + batch_size)
                    x, y = torch.stack([held[r][0][part] for r in which]), torch.stack([held[r][1][part] for r in which])
                    w = None if held[which[0]][2] is None else torch.stack([held[r][2][part] for r in which])
                    batch = self.network.losses(weights, x, y, w, [], factors, True, dropout=False)
                    losses[index.cpu()] += batch.double().cpu() * x.shape[1]
                losses[index.cpu()] /= length
        return losses.tolist()

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
