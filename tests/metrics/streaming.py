"""Helpers for metric tests: random classification data and streaming it in random batch splits."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from hypothesis import strategies as st


@st.composite
def cut_points(draw: st.DrawFn, n: int) -> list[int]:
    """Batch boundaries ``[0, ..., n]`` splitting ``n`` rows into up to five random batches."""
    cuts = draw(st.lists(st.integers(0, n), max_size=4))
    return [0, *sorted(cuts), n]


def stream(metric, bounds: list[int], y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None):
    """Update ``metric`` batch by batch (empty batches skipped) and return its result."""
    metric.reset_state()
    for start, stop in itertools.pairwise(bounds):
        if start == stop:
            continue
        part = slice(start, stop)
        metric.update_state(torch.as_tensor(y_true[part]), torch.as_tensor(y_pred[part]),
                            None if weight is None else torch.as_tensor(weight[part]))
    return metric.result()


def weights_or_none(rng: np.random.Generator, n: int, weighted: bool) -> np.ndarray | None:
    """Random non-negative sample weights (some exactly zero, not all: scikit-learn refuses that), or ``None``."""
    if not weighted:
        return None
    weight = rng.random(n) * 3
    weight[rng.random(n) < 0.15] = 0.0
    weight[rng.integers(n)] += 0.5
    return weight


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
