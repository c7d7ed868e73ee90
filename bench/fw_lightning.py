"""PyTorch Lightning: the same torch module in a ``LightningModule``, trained by ``Trainer.fit``.

As Lightning users write it: a ``DataLoader`` over a ``TensorDataset`` (shuffled), ``training_step``
returning ``cross_entropy`` on the logits and logging it with ``self.log(on_epoch=True)`` (the epoch's mean
loss, as the other frameworks report), ``configure_optimizers`` returning the same ``torch.optim``
optimizer. The trainer is quiet and does no extra work: CPU, one device, no logger, no checkpointing, no
progress bar, no model summary, no sanity validation.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import lightning as L
import torch
import workloads
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from workloads import Data, Workload

logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # "GPU available: False ..." banners
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # torch 2.14 deprecation inside Lightning 2.6


class Classifier(L.LightningModule):
    def __init__(self, net: torch.nn.Module, workload: Workload) -> None:
        super().__init__()
        self.net = net
        self.workload = workload

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return workloads.torch_optimizer(self.workload, self.parameters())


def fitter(w: Workload, data: Data) -> Callable[[], float]:
    """The timed call: tensors, ``DataLoader``, ``Trainer`` and ``trainer.fit``; returns the epoch's loss."""
    model = Classifier(workloads.torch_module(w, workloads.keras_weights(w)), w)

    def fit() -> float:
        dataset = TensorDataset(torch.as_tensor(data.x_torch, dtype=torch.float32),
                                torch.as_tensor(data.y, dtype=torch.float32))
        loader = DataLoader(dataset, batch_size=w.batch, shuffle=True)
        trainer = L.Trainer(max_epochs=w.epochs, accelerator="cpu", devices=1, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            num_sanity_val_steps=0)
        trainer.fit(model, loader)
        return float(trainer.callback_metrics["loss"])

    return fit
