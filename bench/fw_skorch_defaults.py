"""skorch as it comes: ``NeuralNetClassifier`` with only the network, loss, optimizer, learning rate, batch
size and epochs set, so skorch's defaults hold: a 20% stratified validation split scored every epoch
(``train_split=ValidSplit(5)``, ``valid_loss`` and ``valid_acc``), an epoch table printed (``verbose=1``;
captured here, not shown) and no shuffling. It trains on 80% of the rows, so the timed work differs from
the other columns; it is here to show what skorch's defaults cost next to :mod:`fw_skorch`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import numpy as np
import torch
import workloads
from skorch import NeuralNetClassifier
from torch import nn
from workloads import Data, Workload


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``net.fit(x.astype(float32), labels)``; returns the last epoch's ``train_loss``."""
    module = workloads.torch_module(w, workloads.keras_weights(w))
    optimizer_args = {"optimizer__eps": workloads.ADAM_EPS} if w.optimizer == "adam" else {}
    net = NeuralNetClassifier(
        module, criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD if w.optimizer == "sgd" else torch.optim.Adam,
        lr=workloads.SGD_LR if w.optimizer == "sgd" else workloads.ADAM_LR, **optimizer_args,
        max_epochs=w.epochs, batch_size=w.batch, device="cpu")

    def fit() -> float:
        with contextlib.redirect_stdout(io.StringIO()):
            net.fit(data.x_torch.astype(np.float32), data.labels)
        return net.history[-1, "train_loss"]

    return fit
