"""Keras's ``Variable`` API on the weights ``add_weight`` returns (``torch.nn.Parameter``).

Keras code updates a layer's state in ``call`` with ``self.total.assign(self.total + ops.sum(x))`` and reads
it with ``variable.numpy()``. nnkit's weights stay plain torch Parameters (so every torch tool takes them);
this module gives the Parameter class those methods, once, when the layers package is imported. Updates
happen in place without recording gradients, as a Keras variable assignment does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


def _as_value(variable: nn.Parameter, value: Any, method: str) -> Tensor:
    value = torch.as_tensor(value.detach() if isinstance(value, Tensor) else value,
                            dtype=variable.dtype, device=variable.device)
    if value.shape != variable.shape and value.numel() != 1:
        raise ValueError(f"variable.{method}(value) needs a value of the variable's shape {tuple(variable.shape)}; "
                         f"received shape {tuple(value.shape)}.")
    return value


def assign(self: nn.Parameter, value: Any) -> nn.Parameter:
    """Set the variable to ``value`` in place (Keras's ``Variable.assign``); returns the variable."""
    with torch.no_grad():
        self.copy_(_as_value(self, value, "assign"))
    return self


def assign_add(self: nn.Parameter, delta: Any) -> nn.Parameter:
    """Add ``delta`` in place (Keras's ``Variable.assign_add``); returns the variable."""
    with torch.no_grad():
        self.add_(_as_value(self, delta, "assign_add"))
    return self


def assign_sub(self: nn.Parameter, delta: Any) -> nn.Parameter:
    """Subtract ``delta`` in place (Keras's ``Variable.assign_sub``); returns the variable."""
    with torch.no_grad():
        self.sub_(_as_value(self, delta, "assign_sub"))
    return self


def numpy(self: nn.Parameter, *, force: bool = False) -> np.ndarray:
    """The value as a NumPy array, also of a trainable weight (Keras's ``Variable.numpy``)."""
    return Tensor.numpy(self.detach(), force=force)


for _name, _method in (("assign", assign), ("assign_add", assign_add), ("assign_sub", assign_sub), ("numpy", numpy)):
    if _name not in nn.Parameter.__dict__:
        setattr(nn.Parameter, _name, _method)
