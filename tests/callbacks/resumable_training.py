"""A training script for the crash tests: run it, SIGKILL it mid-epoch, run it again, compare.

Usage: ``python resumable_training.py WORKDIR SAVE_FREQ [PAUSE_EPOCH PAUSE_BATCH]``. With a pause point,
the script writes ``WORKDIR/paused`` at the start of that batch and sleeps until it is killed. At the end
it writes the final weights, History and first epoch it ran to ``WORKDIR/result.npz``.

Tests may also call :func:`main` in their own process, where a pause raises ``KeyboardInterrupt`` (a
crash that skips ``on_train_end``) instead of sleeping.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch

import nnkit
from nnkit.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from nnkit.layers import Dense, Dropout

# val_loss as the callbacks see it: the plateau lowers the learning rate (with a cooldown running across
# epochs), and early stopping's wait count is non-zero at the pause points, so a resume that lost any of
# that state would diverge.
SCRIPTED_VAL_LOSS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]


class Script(Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = SCRIPTED_VAL_LOSS[epoch]


class Probe(Callback):
    """Records the first epoch run; pauses at a given batch so the test can kill the process there."""

    def __init__(self, workdir: str, pause: tuple[int, int] | None, crash: bool) -> None:
        super().__init__()
        self.workdir, self.pause, self.crash, self.first_epoch, self.epoch = workdir, pause, crash, None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.first_epoch is None:
            self.first_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.pause:
            if self.crash:
                raise KeyboardInterrupt
            with open(os.path.join(self.workdir, "paused"), "w") as f:
                f.write("paused")
            time.sleep(600)


def main(argv: list[str], crash: bool = False) -> None:
    workdir, save_freq = argv[0], argv[1]
    pause = (int(argv[2]), int(argv[3])) if len(argv) > 3 else None
    torch.set_num_threads(1)
    nnkit.config.set_device("cpu")
    nnkit.utils.set_random_seed(42)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6))
    y = x @ rng.normal(size=(6, 2)) + 0.1 * rng.normal(size=(120, 2))
    model = nnkit.Sequential([Dense(16, activation="relu", input_dim=6), Dropout(0.25), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    probe = Probe(workdir, pause, crash)
    callbacks = [
        Script(),
        EarlyStopping(patience=4, restore_best_weights=True),
        ReduceLROnPlateau(factor=0.5, patience=1, cooldown=3),
        ModelCheckpoint(os.path.join(workdir, "best.safetensors"), save_best_only=True),
        CSVLogger(os.path.join(workdir, "log.csv")),
        probe,
        BackupAndRestore(os.path.join(workdir, "backup"), save_freq="epoch" if save_freq == "epoch" else int(save_freq)),
    ]
    history = model.fit(x, y, epochs=12, batch_size=16, validation_split=0.25, callbacks=callbacks, verbose=0)
    np.savez(os.path.join(workdir, "result.npz"), *model.get_weights(),
             history=json.dumps(history.history), epochs=json.dumps(history.epoch),
             first_epoch=probe.first_epoch, iterations=model.optimizer.iterations)


if __name__ == "__main__":
    main(sys.argv[1:])
