"""Network outputs for scikit-learn's predict methods.

On CPU the forward pass runs on a float64 copy of the trained module: float32 matrix products round
differently for different batch sizes, so a sample's prediction would depend on which other samples
it was predicted with (scikit-learn requires that it does not), and float64 probabilities of a
saturated softmax keep their ordering. On other devices the module runs as trained, in float32.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from nnkit import config, losses
from nnkit.models.sequential import Sequential

_ACTIVATIONS = {nn.Softmax: "softmax", nn.Sigmoid: "sigmoid"}

#: Rows per forward pass when the user sets no ``predict__batch_size``.
PREDICT_BATCH_SIZE = 1024


def _without_final_activation(module: nn.Sequential) -> tuple[nn.Module, str | None]:
    """The module minus a final softmax/sigmoid, and that activation's name (or the module, ``None``)."""
    if not isinstance(module, nn.Sequential) or not len(module):
        return module, None
    last = module[-1]
    if type(last) in _ACTIVATIONS:
        activation, body = last, list(module)[:-1]
    elif type(last) is nn.Sequential and len(last) and type(last[-1]) in _ACTIVATIONS:
        activation, body = last[-1], [*list(module)[:-1], *list(last)[:-1]]
    else:
        return module, None
    if isinstance(activation, nn.Softmax) and activation.dim not in (-1, 1, None):
        return module, None
    return type(module)(*body), _ACTIVATIONS[type(activation)]


def _logits_loss(loss: losses.Loss | None) -> str | None:
    """The activation a ``from_logits=True`` loss implies for the raw outputs."""
    if not getattr(loss, "fn_kwargs", {}).get("from_logits", False):
        return None
    return "sigmoid" if isinstance(loss, losses.BinaryCrossentropy) else "softmax"


def forward(model: Sequential, x: np.ndarray, *, logits: bool, batch_size: int | None = None
            ) -> tuple[np.ndarray, str | None]:
    """Outputs of ``model`` on ``x`` as a float64 ``(n_samples, units)`` array.

    With ``logits=True`` a final softmax/sigmoid is left out when the model ends with one (or its loss
    says the outputs are logits); the second value names that activation, ``None`` if the values are
    the model's outputs.
    """
    module, activation = _without_final_activation(model.module) if logits else (model.module, None)
    if logits and activation is None:
        activation = _logits_loss(model.loss)
    if model.device.type == "cpu":
        module = copy.deepcopy(module).to(torch.float64)
        inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    else:
        inputs = torch.as_tensor(np.asarray(x), dtype=config.float_dtype()).to(model.device)
    module.eval()
    with torch.inference_mode():
        outputs = [module(chunk) for chunk in inputs.split(batch_size or PREDICT_BATCH_SIZE)]
    values = torch.cat(outputs).to(torch.float64).cpu().numpy()
    return values.reshape(len(values), -1), activation
