"""The optimizer updates of a stack of runs: Adam and SGD written once over the runs' flat weights (one row
per run), with each run's own settings, in the arithmetic of torch's single-tensor updates (so each run's
update equals its own optimizer's, bit for bit, given the same gradient)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def _per_run(values: np.ndarray, like: Tensor) -> float | Tensor:
    """A setting every run shares as a Python number (the scalar torch's optimizers use), else a column of
    the runs' values in the weights' precision."""
    if (values == values[0]).all():
        return float(values[0])
    return torch.from_numpy(values).to(like).reshape(-1, 1)


class Adam:
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

    def keep(self, runs: list[int], flat: Tensor) -> None:
        """Go on with the ``runs`` only (their rows of the state), whose weights are now ``flat``."""
        index = torch.tensor(runs, device=flat.device)
        self.settings, self.t = self.settings[runs], self.t[runs]
        self.flat, self.m, self.v = flat, self.m[index], self.v[index]
        self.factors = self.factors[:, index]
        self.keep_1, self.beta_2, self.keep_2 = (c if isinstance(c, float) else c[index]
                                                 for c in (self.keep_1, self.beta_2, self.keep_2))

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


class SGD:
    """SGD as nnkit runs it (torch's rule: ``buf = momentum * buf + g``, ``w -= lr * buf``), per-run rates and
    momentums, over the runs' flat weights."""

    def __init__(self, kind: tuple, settings: np.ndarray, flat: Tensor) -> None:
        _, self.uses_momentum, self.nesterov = kind
        self.steps = torch.from_numpy(-settings[:, 0]).to(flat).reshape(-1, 1)
        self.momentum = _per_run(settings[:, 1], flat)
        self.flat, self.buffer = flat, torch.zeros_like(flat)
        self.started = np.zeros(len(settings), dtype=bool)

    def keep(self, runs: list[int], flat: Tensor) -> None:
        """Go on with the ``runs`` only (their rows of the state), whose weights are now ``flat``."""
        index = torch.tensor(runs, device=flat.device)
        self.flat, self.buffer, self.steps = flat, self.buffer[index], self.steps[index]
        self.started = self.started[runs]
        if not isinstance(self.momentum, float):
            self.momentum = self.momentum[index]

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
