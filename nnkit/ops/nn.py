"""``keras.ops``'s neural-network functions on torch tensors: activations, one-hot, cross-entropies (per
sample, no reduction, as ``keras.ops`` computes them), ``top_k``, ``moments`` and a channels-last ``conv``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from nnkit.config import epsilon
from nnkit.errors import ConfigError
from nnkit.ops.core import convert_to_tensor, dtype_of, floating


def relu(x: Any) -> Tensor:
    return F.relu(floating(x))


def relu6(x: Any) -> Tensor:
    return F.relu6(floating(x))


def sigmoid(x: Any) -> Tensor:
    return torch.sigmoid(floating(x))


def softplus(x: Any) -> Tensor:
    return F.softplus(floating(x))


def silu(x: Any) -> Tensor:
    return F.silu(floating(x))


swish = silu


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return F.elu(floating(x), alpha=alpha)


def selu(x: Any) -> Tensor:
    return F.selu(floating(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    return F.leaky_relu(floating(x), negative_slope)


def gelu(x: Any, approximate: bool = True) -> Tensor:
    """Keras's default is the tanh approximation."""
    return F.gelu(floating(x), approximate="tanh" if approximate else "none")


def softmax(x: Any, axis: int = -1) -> Tensor:
    return torch.softmax(floating(x), dim=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return torch.log_softmax(floating(x), dim=axis)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> Tensor:
    """Rows of ``num_classes`` with a one at each index (``float32``; a negative index gives zeros)."""
    ids = convert_to_tensor(x).long()
    valid = (ids >= 0) & (ids < num_classes)
    out = F.one_hot(ids.clamp(0, num_classes - 1), num_classes) * valid.unsqueeze(-1)
    out = out.to(torch.float32 if dtype is None else dtype_of(dtype))
    return out if axis == -1 else out.movedim(-1, axis)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Per-element binary cross-entropy (probabilities clipped to ``[1e-7, 1 - 1e-7]``)."""
    target, output = floating(target), floating(output)
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target.to(output.dtype), reduction="none")
    output = output.clamp(epsilon(), 1.0 - epsilon())
    return -(target * torch.log(output) + (1.0 - target) * torch.log(1.0 - output))


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> Tensor:
    """Cross-entropy of one-hot (or soft) targets along ``axis``, one value per sample."""
    target, output = floating(target), floating(output)
    if target.shape != output.shape:
        raise ConfigError(f"categorical_crossentropy needs target and output of the same shape; received "
                          f"{tuple(target.shape)} and {tuple(output.shape)}.")
    if from_logits:
        return -(target * torch.log_softmax(output, dim=axis)).sum(dim=axis)
    output = output / output.sum(dim=axis, keepdim=True)
    return -(target * torch.log(output.clamp(epsilon(), 1.0 - epsilon()))).sum(dim=axis)


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> Tensor:
    """Cross-entropy of integer class targets, one value per sample."""
    output = floating(output)
    return categorical_crossentropy(one_hot(target, output.shape[axis], dtype=output.dtype), output, from_logits, axis)


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Tensor, Tensor]:
    """The ``k`` largest values along the last axis and their indices (``int32``)."""
    values, indices = torch.topk(convert_to_tensor(x), k, dim=-1, sorted=sorted)
    return values, indices.to(torch.int32)


def moments(x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False) -> tuple[Tensor, Tensor]:
    """Mean and (biased) variance over ``axes``."""
    x = floating(x)
    dims = (axes,) if isinstance(axes, int) else tuple(axes)
    mean = x.mean(dim=dims, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=dims, keepdim=keepdims)
    return (mean if keepdims else mean.squeeze(dims)), variance


def conv(inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid", data_format: str | None = None,
         dilation_rate: Any = 1) -> Tensor:
    """An N-D convolution of channels-last ``inputs`` with a Keras-layout kernel ``(*window, in, out)``."""
    x, w = floating(inputs), floating(kernel)
    rank = w.ndim - 2
    if rank not in (1, 2, 3) or x.ndim != rank + 2:
        raise ConfigError(f"conv takes inputs of rank {rank + 2} for a kernel of rank {rank + 2}; received inputs of "
                          f"shape {tuple(x.shape)} and a kernel of shape {tuple(w.shape)}.")
    channels_last = (data_format or "channels_last") == "channels_last"
    x = x.movedim(-1, 1) if channels_last else x
    weight = w.permute(rank + 1, rank, *range(rank))
    strides = (strides,) * rank if isinstance(strides, int) else tuple(strides)
    dilation = (dilation_rate,) * rank if isinstance(dilation_rate, int) else tuple(dilation_rate)
    if padding.lower() == "same":  # TensorFlow's padding: the extra cell at the end
        pads = []
        for size, window, stride, rate in zip(reversed(x.shape[2:]), reversed(w.shape[:rank]), reversed(strides),
                                              reversed(dilation)):
            effective = (window - 1) * rate + 1
            total = max(0, (-(-size // stride) - 1) * stride + effective - size)
            pads += [total // 2, total - total // 2]
        x = F.pad(x, pads)
    convolve = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    out = convolve(x, weight, stride=strides, dilation=dilation, groups=x.shape[1] // weight.shape[1])
    return out.movedim(1, -1) if channels_last else out
