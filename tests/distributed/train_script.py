"""A training script run unchanged by one process or by ``torchrun --nproc_per_node=2`` (see the tests).

Usage: python train_script.py OUTDIR
Each rank writes OUTDIR/rank<r>.json with its final weights and History; rank 0's callbacks write
OUTDIR/log.csv and OUTDIR/model.keras.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import nnkit
from nnkit.callbacks import (
    BackupAndRestore,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    TerminateOnNaN,
)
from nnkit.layers import Dense
from nnkit.models import Sequential


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


def train(outdir: Path, shuffle: bool = False) -> tuple[Sequential, dict]:
    nnkit.config.set_device("cpu")
    nnkit.utils.set_random_seed(0)
    x, y = data()
    model = Sequential([Dense(8, activation="tanh", input_dim=6), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy", "f1_macro"])
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=shuffle, validation_split=0.25, verbose=0,
                        callbacks=[CSVLogger(outdir / "log.csv"), ModelCheckpoint(outdir / "model.keras"),
                                   EarlyStopping(monitor="val_loss", patience=5)])
    return model, history.history


def one_batch() -> list:
    """``train_on_batch`` before anything else joined the process group; returns the new weights."""
    nnkit.config.set_device("cpu")
    nnkit.utils.set_random_seed(0)
    x, y = data()
    model = Sequential([Dense(8, activation="tanh", input_dim=6), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x[:16], y[:16])
    return [w.tolist() for w in model.get_weights()]


def nan_on_one_rank() -> dict:
    """Sample 33 (in batch 2 of 16, the second rank's part of it) is NaN: TerminateOnNaN must stop every
    rank at that batch, with no update from it. (A DataLoader: arrays with NaN are refused up front.)"""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    nnkit.config.set_device("cpu")
    nnkit.utils.set_random_seed(0)
    x, y = data()
    x = x.copy()
    x[33] = np.nan
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16)
    model = Sequential([Dense(8, activation="tanh", input_dim=6), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen: list[int] = []
    counter = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(loader, epochs=2, verbose=0, callbacks=[counter, TerminateOnNaN()])
    return {"batches": seen, "weights": [w.tolist() for w in model.get_weights()]}


def frozen_evaluation() -> dict:
    """evaluate() of a model with nothing to train (DDP refuses such a module)."""
    nnkit.config.set_device("cpu")
    nnkit.utils.set_random_seed(0)
    x, y = data()
    model = Sequential([Dense(3, activation="softmax", input_dim=6, trainable=False)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)


def streamed() -> dict:
    """fit on an IterableDataset and on a DataLoader of the user's: every rank reads all of it and keeps
    its part of each batch, so the run equals one process on the same batches."""
    import torch
    from torch.utils.data import DataLoader, IterableDataset, TensorDataset

    x, y = data()

    class Stream(IterableDataset):
        def __iter__(self):
            yield from zip(torch.from_numpy(x), torch.from_numpy(y))

    class RowCounter(torch.nn.Module):
        """Passes its input through, counting the rows this process computes on."""

        rows = 0

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            if self.training:
                self.rows += inputs.shape[0]
            return inputs

    results = {}
    for name, source in (("stream", Stream()), ("loader", DataLoader(TensorDataset(torch.from_numpy(x),
                                                                                   torch.from_numpy(y)), 16))):
        nnkit.config.set_device("cpu")
        nnkit.utils.set_random_seed(0)
        counter = RowCounter()
        model = Sequential([nnkit.layers.Input((6,)), counter, Dense(8, activation="tanh"),
                            Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        results[name] = {"history": model.fit(source, epochs=2, batch_size=16, verbose=0).history,
                         "rows": counter.rows}
    return results


def resumed(outdir: Path) -> dict:
    """A run backed up by BackupAndRestore (rank 0 writes) and resumed on every rank, with a rank-0-only
    CSVLogger among the callbacks."""
    nnkit.config.set_device("cpu")
    x, y = data()
    backup = outdir / "backup"
    runs = []
    for epochs in (2, 3):
        nnkit.utils.set_random_seed(0)
        model = Sequential([Dense(8, activation="tanh", input_dim=6), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        runs.append([])
        counter = LambdaCallback(on_epoch_begin=lambda epoch, logs, seen=runs[-1]: seen.append(epoch))
        callbacks = [BackupAndRestore(backup, delete_checkpoint=epochs == 3), CSVLogger(outdir / "resumed.csv"),
                     EarlyStopping(monitor="loss", patience=9), counter]
        model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks)
    return {"epochs": runs, "weights": [w.tolist() for w in model.get_weights()], "backup_left": backup.exists()}


def two_outputs() -> dict:
    """A functional model of two inputs and two outputs under DDP: History and weights as in one process."""
    nnkit.config.set_device("cpu")
    nnkit.utils.set_random_seed(0)
    x, y = data()
    a, b = nnkit.Input(shape=(4,), name="a"), nnkit.Input(shape=(2,), name="b")
    hidden = Dense(8, activation="tanh")(nnkit.layers.concatenate([a, b]))
    model = nnkit.Model([a, b], {"label": Dense(3, activation="softmax")(hidden), "score": Dense(1)(hidden)})
    model.compile(optimizer="sgd", loss={"label": "sparse_categorical_crossentropy", "score": "mse"},
                  metrics={"label": ["accuracy"]})
    history = model.fit({"a": x[:, :4], "b": x[:, 4:]}, {"label": y, "score": x[:, :1] * 2.0}, epochs=2,
                        batch_size=16, shuffle=False, verbose=0)
    return {"history": history.history, "weights": [w.tolist() for w in model.get_weights()]}


def main(outdir: Path) -> None:
    from nnkit import distributed

    first_step = one_batch()  # before fit: train_on_batch must join the process group itself
    model, history = train(outdir)
    # a shuffled pass: ranks must still agree (one permutation, drawn on rank 0)
    model.fit(*data(), epochs=1, batch_size=16, shuffle=True, verbose=0)
    evaluation = model.evaluate(*data(), verbose=0, return_dict=True)
    record = {"rank": distributed.rank(), "world_size": distributed.world_size(), "history": history,
              "evaluation": evaluation, "weights": [w.tolist() for w in model.get_weights()],
              "one_batch": first_step, "nan": nan_on_one_rank(), "frozen": frozen_evaluation(),
              "streamed": streamed(), "resumed": resumed(outdir), "two_outputs": two_outputs()}
    (outdir / f"rank{distributed.rank()}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
