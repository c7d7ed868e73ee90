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
from fw_skorch import classifier
from workloads import Data, Workload


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: ``net.fit(x.astype(float32), labels)``, its epoch table captured; returns the last
    epoch's ``train_loss``."""
    net = classifier(w)

    def fit() -> float:
        with contextlib.redirect_stdout(io.StringIO()):
            net.fit(data.x_torch.astype(np.float32), data.labels)
        return net.history[-1, "train_loss"]

    return fit
