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
from nnkit.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
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


def main(outdir: Path) -> None:
    from nnkit import distributed

    model, history = train(outdir)
    # a shuffled pass: ranks must still agree (one permutation, drawn on rank 0)
    model.fit(*data(), epochs=1, batch_size=16, shuffle=True, verbose=0)
    evaluation = model.evaluate(*data(), verbose=0, return_dict=True)
    record = {"rank": distributed.rank(), "world_size": distributed.world_size(), "history": history,
              "evaluation": evaluation, "weights": [w.tolist() for w in model.get_weights()]}
    (outdir / f"rank{distributed.rank()}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
