"""Early stopping, best-model checkpoint, CSV log and crash recovery on scikit-learn's bundled digits.

The first run "crashes" in the middle of an epoch (a callback raises, as a killed process would stop
without cleaning up). Training is then started again exactly as a re-run of the script would start it:
``BackupAndRestore`` finds the backup and continues from it, with the early-stopping counters, the CSV log
and the random number generators where they were. Finally the best checkpoint (a whole-model file) is loaded
with ``load_model`` and evaluated.

Run: ``python examples/early_stopping_checkpoint.py [--workdir DIR] [--epochs N] [--crash-at EPOCH]``.
To try a real crash instead, pass ``--crash-at 0`` and press Ctrl-C (or ``kill -9`` the process) during
training, then run the same command again.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nnkit as keras
from nnkit.callbacks import BackupAndRestore, Callback, CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint
from nnkit.layers import Dense, Dropout, Input
from nnkit.models import Sequential, load_model


class SimulatedCrash(Callback):
    """Stops the process's training abruptly in the middle of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.crash_epoch, self.epoch = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == self.crash_epoch and batch == 10:
            raise KeyboardInterrupt(f"simulated crash in epoch {self.epoch + 1}")


def build_model() -> Sequential:
    model = Sequential([Input(shape=(64,)), Dense(64, activation="relu"), Dropout(0.2),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(workdir: Path, data: tuple, epochs: int, crash_at: int | None) -> tuple[keras.callbacks.History, int]:
    """What the training script does each time it is started; returns the History and the first epoch run."""
    keras.utils.set_random_seed(0)
    x_train, y_train = data
    model = build_model()
    started: list[int] = []
    callbacks = [
        EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True, verbose=1),
        ModelCheckpoint(workdir / "best.safetensors", monitor="val_accuracy", save_best_only=True),
        CSVLogger(workdir / "log.csv"),
        BackupAndRestore(workdir / "backup"),  # deleted once training finishes
        LambdaCallback(on_epoch_begin=lambda epoch, logs: started.append(epoch)),
    ]
    if crash_at is not None:
        callbacks.append(SimulatedCrash(crash_at))
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2, callbacks=callbacks,
                        verbose=2)
    return history, started[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="where files go (default: a temporary folder)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--crash-at", type=int, default=4, help="0-based epoch of the simulated crash; 0 disables")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nnkit-example-"))

    digits = load_digits()
    y = keras.utils.to_categorical(digits.target, num_classes=10)
    x_train, x_test, y_train, y_test = train_test_split(digits.data / 16.0, y, test_size=0.25, random_state=0,
                                                        stratify=digits.target)
    if args.crash_at:
        print(f"== first run: crashes during epoch {args.crash_at + 1}")
        try:
            train(workdir, (x_train, y_train), args.epochs, crash_at=args.crash_at)
        except KeyboardInterrupt as crash:
            print(f"!! {crash}; the backup in {workdir / 'backup'} survives")
        print("== second run: the same script started again")
    history, first = train(workdir, (x_train, y_train), args.epochs, crash_at=None)
    print(f"this run started at epoch {first + 1}; its History holds epochs {history.epoch[0] + 1} to "
          f"{history.epoch[-1] + 1} (the earlier ones restored from the backup)")

    with open(workdir / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    print(f"{workdir / 'log.csv'} holds {len(rows)} epochs, one row each, across both runs")

    best = load_model(workdir / "best.safetensors")  # architecture, weights, compile settings, optimizer state
    loss, accuracy = best.evaluate(x_test, y_test, verbose=0)
    print(f"best checkpoint ({workdir / 'best.safetensors'}): test loss {loss:.4f}, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
