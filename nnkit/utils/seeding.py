"""Seed every random number generator a training run uses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices).

    With the same seed, two identical fits on CPU produce bit-identical weights.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise TypeError(f"set_random_seed expects a non-negative int. Received: {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if torch.cuda.is_available() or torch.backends.mps.is_available() or _has_xpu():
        torch.manual_seed(seed)
    else:  # CPU only: torch.manual_seed would also queue lazy seeding of absent devices, a stack trace each
        torch.default_generator.manual_seed(seed)


def _has_xpu() -> bool:
    xpu = getattr(torch, "xpu", None)
    return bool(xpu is not None and xpu.is_available())


@contextmanager
def generators_kept() -> Iterator[None]:
    """Run the block, then put Python's, NumPy's and torch's global generators (every device's) back as
    they were before it."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
