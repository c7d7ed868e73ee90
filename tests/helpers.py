"""Helpers shared by tests."""

from __future__ import annotations

import numpy as np
import torch


def assert_close(actual, expected, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Compare numbers, arrays or tensors."""
    to_np = lambda v: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)  # noqa: E731
    np.testing.assert_allclose(to_np(actual), to_np(expected), rtol=rtol, atol=atol)
