"""The benchmark's workloads: their data, their initial weights, and the same network in torch modules.

Every framework trains the same network on the same data from the same weights. The data are generated
from a fixed seed as float64 NumPy arrays, as a user holds them: ``x`` in Keras's layout (channels-last
images), one-hot ``y`` for the Keras-style frameworks and integer ``labels`` for the PyTorch-style ones.
The initial weights are drawn once, in Keras's layout (a Dense kernel is ``(inputs, units)``), and
converted here for torch modules, so nnkit, Keras, the hand loop, skorch and Lightning all start from the
same numbers. This module imports only NumPy at the top: the measured processes import their framework.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

SEED = 0


@dataclass(frozen=True)
class Workload:
    """One training job: a network, its data and its optimizer.

    Attributes:
        key: Short name used on the command line and in ``results.json``.
        title: What the README table calls it.
        kind: ``"mlp"``, ``"cnn"`` or ``"lstm"``.
        rows: Number of training samples.
        sample_shape: Shape of one sample, Keras layout.
        hidden: Hidden sizes (Dense units for an MLP, LSTM units, convolution filters).
        classes: Number of classes (softmax outputs).
        batch: Batch size.
        epochs: Epochs per fit.
        optimizer: ``"sgd"`` (learning rate 0.01) or ``"adam"`` (1e-3, betas 0.9/0.999, epsilon 1e-7).
    """

    key: str
    title: str
    kind: str
    rows: int
    sample_shape: tuple[int, ...]
    hidden: tuple[int, ...]
    classes: int
    batch: int
    epochs: int
    optimizer: str

    def scaled(self, factor: float) -> Workload:
        """The same workload on ``factor`` of the rows and one epoch (the ``--quick`` smoke run)."""
        return replace(self, rows=max(self.batch * 4, int(self.rows * factor)), epochs=1)


WORKLOADS = {
    w.key: w for w in (
        Workload("seed_mlp", "seed MLP 20-64-10, 10,000 rows, batch 32, SGD, 3 epochs",
                 "mlp", 10_000, (20,), (64,), 10, 32, 3, "sgd"),
        Workload("mnist_mlp", "MNIST-sized MLP 784-256-128-10, 30,000 rows, batch 128, Adam, 1 epoch",
                 "mlp", 30_000, (784,), (256, 128), 10, 128, 1, "adam"),
        Workload("cnn", "CNN 28x28x1 conv16-pool-conv32-pool-dense10, 4,000 rows, batch 64, Adam, 2 epochs",
                 "cnn", 4_000, (28, 28, 1), (16, 32), 10, 64, 2, "adam"),
        Workload("lstm", "LSTM(32)-dense10 on 30 steps x 8 features, 4,000 rows, batch 64, Adam, 2 epochs",
                 "lstm", 4_000, (30, 8), (32,), 10, 64, 2, "adam"),
    )
}
SEARCH_KEY = "grid_search"
SEARCH_TITLE = "seed grid search, 27 candidates x 3 folds + refit, 1,000 x 20 rows, Adam 0.01"
SEARCH_GRID = {"batch_size": [16, 32, 64], "epochs": [5, 10, 15], "l2": [0.0, 0.01, 0.1]}
QUICK_SEARCH_GRID = {"batch_size": [64], "epochs": [1], "l2": [0.0, 0.01]}
SGD_LR, ADAM_LR, ADAM_EPS, SEARCH_LR = 0.01, 1e-3, 1e-7, 0.01


@dataclass
class Data:
    """One workload's data, as a user holds it (float64 NumPy).

    Attributes:
        x: Inputs in Keras's layout (images channels-last).
        x_torch: The same inputs in PyTorch's layout (images NCHW, a contiguous copy); ``x`` otherwise.
        y: One-hot targets (float64), what a Keras program passes.
        labels: Integer class labels (int64), what a PyTorch program passes.
    """

    x: np.ndarray
    x_torch: np.ndarray
    y: np.ndarray
    labels: np.ndarray

    def head(self, rows: int) -> Data:
        """The first ``rows`` samples (the warm-up fit's data)."""
        return Data(self.x[:rows], self.x_torch[:rows], self.y[:rows], self.labels[:rows])


def make_data(rows: int, sample_shape: tuple[int, ...], classes: int, seed: int = SEED) -> Data:
    """Uniform [0, 1) inputs and uniformly drawn labels, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.random((rows, *sample_shape))
    labels = rng.integers(classes, size=rows).astype(np.int64)
    y = np.eye(classes)[labels]
    x_torch = np.ascontiguousarray(np.moveaxis(x, -1, 1)) if len(sample_shape) == 3 else x
    return Data(x, x_torch, y, labels)


def workload_data(w: Workload) -> Data:
    return make_data(w.rows, w.sample_shape, w.classes)


def search_data() -> Data:
    """The seed grid search's data: 1,000 x 20 features, 10 classes."""
    return make_data(1_000, (20,), 10)


# -- initial weights, Keras layout --------------------------------------------------------------------------
def _glorot(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def _cnn_flat_features(w: Workload) -> tuple[int, int, int]:
    """(height, width, channels) entering Flatten: two 'valid' 3x3 convolutions, each with a 2x2 pool."""
    side = w.sample_shape[0]
    for _ in w.hidden:
        side = (side - 2) // 2
    return side, side, w.hidden[-1]


def keras_weights(w: Workload, seed: int = SEED + 1) -> list[np.ndarray]:
    """Glorot-uniform kernels and zero biases (LSTM: forget-gate bias 1), in ``get_weights()`` order."""
    rng = np.random.default_rng(seed)
    weights: list[np.ndarray] = []
    if w.kind == "mlp":
        sizes = [w.sample_shape[0], *w.hidden, w.classes]
        for a, b in itertools.pairwise(sizes):
            weights += [_glorot(rng, (a, b), a, b), np.zeros(b, np.float32)]
    elif w.kind == "cnn":
        channels = w.sample_shape[-1]
        for filters in w.hidden:
            weights += [_glorot(rng, (3, 3, channels, filters), 9 * channels, 9 * filters),
                        np.zeros(filters, np.float32)]
            channels = filters
        flat = math.prod(_cnn_flat_features(w))
        weights += [_glorot(rng, (flat, w.classes), flat, w.classes), np.zeros(w.classes, np.float32)]
    elif w.kind == "lstm":
        features, units = w.sample_shape[-1], w.hidden[0]
        bias = np.zeros(4 * units, np.float32)
        bias[units:2 * units] = 1.0  # Keras's unit_forget_bias (gate order i, f, c, o in Keras and torch)
        weights += [_glorot(rng, (features, 4 * units), features, 4 * units),
                    _glorot(rng, (units, 4 * units), units, 4 * units), bias,
                    _glorot(rng, (units, w.classes), units, w.classes), np.zeros(w.classes, np.float32)]
    else:
        raise ValueError(f"Unknown workload kind {w.kind!r}.")
    return weights


# -- the same network as a torch module (hand loop, skorch, Lightning) ---------------------------------------
def torch_module(w: Workload, weights: list[np.ndarray] | None = None):
    """The workload's network as a PyTorch user writes it: logits out, NCHW images, batch-first sequences.

    With ``weights`` (Keras layout, from :func:`keras_weights`), the parameters are set to them.
    """
    import torch
    from torch import nn

    if w.kind == "mlp":
        sizes = [w.sample_shape[0], *w.hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        module = nn.Sequential(*layers, nn.Linear(sizes[-1], w.classes))
        linears = [m for m in module if isinstance(m, nn.Linear)]
        params = [t for lin in linears for t in (lin.weight, lin.bias)]
        converted = None if weights is None else [a.T if a.ndim == 2 else a for a in weights]
    elif w.kind == "cnn":
        first, second = w.hidden
        module = nn.Sequential(
            nn.Conv2d(w.sample_shape[-1], first, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(math.prod(_cnn_flat_features(w)), w.classes))
        params = [module[0].weight, module[0].bias, module[3].weight, module[3].bias, module[7].weight,
                  module[7].bias]
        converted = None
        if weights is not None:
            h, wd, c = _cnn_flat_features(w)
            dense = weights[4].reshape(h, wd, c, w.classes).transpose(2, 0, 1, 3).reshape(h * wd * c, w.classes)
            converted = [weights[0].transpose(3, 2, 0, 1), weights[1], weights[2].transpose(3, 2, 0, 1),
                         weights[3], dense.T, weights[5]]
    elif w.kind == "lstm":
        module = last_step_lstm()(w.sample_shape[-1], w.hidden[0], w.classes)
        lstm = module.lstm
        params = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0, module.out.weight,
                  module.out.bias]
        converted = None
        if weights is not None:
            converted = [weights[0].T, weights[1].T, weights[2], np.zeros_like(weights[2]), weights[3].T,
                         weights[4]]
    else:
        raise ValueError(f"Unknown workload kind {w.kind!r}.")
    if converted is not None:
        with torch.no_grad():
            for param, value in zip(params, converted, strict=True):
                param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


@functools.cache
def last_step_lstm() -> type:
    """The LSTM network's class (defined on first use: this module does not import torch at the top)."""
    from torch import nn

    class LastStepLSTM(nn.Module):
        """``nn.LSTM`` (batch first) and a Linear layer on the last step's hidden state."""

        def __init__(self, features: int, units: int, classes: int) -> None:
            super().__init__()
            self.lstm = nn.LSTM(features, units, batch_first=True)
            self.out = nn.Linear(units, classes)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.out(h[-1])

    return LastStepLSTM


def torch_optimizer(w: Workload, params):
    """The workload's optimizer as ``torch.optim`` (the hand loop, skorch and Lightning use it)."""
    import torch

    if w.optimizer == "sgd":
        return torch.optim.SGD(params, lr=SGD_LR)
    return torch.optim.Adam(params, lr=ADAM_LR, betas=(0.9, 0.999), eps=ADAM_EPS)
