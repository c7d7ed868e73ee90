"""Functional models through the rest of the training machinery: exact resume after a crash, jit_compile,
mixed precision, DataLoaders of structures, validation_data as dicts, sample weights and train_on_batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import nnkit
from nnkit import layers
from nnkit.callbacks import BackupAndRestore, Callback
from nnkit.models import Model
from tests.helpers import assert_close


def two_heads():
    a, b = nnkit.Input(shape=(6,), name="a"), nnkit.Input(shape=(3,), name="b")
    hidden = layers.Dense(8, activation="relu", name="hidden")(layers.concatenate([a, b]))
    hidden = layers.Dropout(0.2)(hidden)
    return Model([a, b], {"label": layers.Dense(3, activation="softmax", name="label")(hidden),
                          "score": layers.Dense(1, name="score")(hidden)})


def _data(rng, n=40):
    x = {"a": rng.normal(size=(n, 6)).astype("float32"), "b": rng.normal(size=(n, 3)).astype("float32")}
    y = {"label": rng.integers(0, 3, n), "score": rng.normal(size=(n, 1)).astype("float32")}
    return x, y


def _compiled(**kwargs):
    nnkit.utils.set_random_seed(7)
    model = two_heads()
    model.compile(optimizer="adam", loss={"label": "sparse_categorical_crossentropy", "score": "mse"},
                  metrics={"label": ["accuracy"]}, **kwargs)
    return model


class Crash(Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.epoch = at, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_a_crashed_run_resumes_to_the_uninterrupted_weights(rng, tmp_path):
    x, y = _data(rng)
    fit = {"epochs": 3, "batch_size": 8, "verbose": 0}
    reference = _compiled()
    nnkit.utils.set_random_seed(1)
    reference_history = reference.fit(x, y, callbacks=[BackupAndRestore(tmp_path / "ref", save_freq=2)], **fit)
    crashed = _compiled()
    nnkit.utils.set_random_seed(1)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(x, y, callbacks=[BackupAndRestore(tmp_path / "run", save_freq=2), Crash((1, 3))], **fit)
    resumed = _compiled()
    history = resumed.fit(x, y, callbacks=[BackupAndRestore(tmp_path / "run", save_freq=2)], **fit)
    for ours, theirs in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert history.history["label_loss"][-1] == reference_history.history["label_loss"][-1]


def test_jit_compile_and_mixed_precision_train_a_graph(rng):
    x, y = _data(rng)
    eager = _compiled()
    compiled = _compiled(jit_compile=True)
    assert_close(compiled.evaluate(x, y, verbose=0), eager.evaluate(x, y, verbose=0), rtol=1e-4, atol=1e-5)
    nnkit.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = _compiled()
        history = mixed.fit(x, y, epochs=2, verbose=0)
    finally:
        nnkit.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"]).all()
    assert mixed.get_layer("hidden").weights[0].dtype == torch.float32


class Pairs(Dataset):
    """Yields ((a, b), (label, score)) samples, as a user's Dataset for a two-input, two-output model."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y["label"])

    def __getitem__(self, i):
        return ((self.x["a"][i], self.x["b"][i]), (self.y["label"][i], self.y["score"][i]))


def test_dataloader_batches_of_structures_match_arrays(rng):
    x, y = _data(rng)
    arrays, loaded = _compiled(), _compiled()
    loaded.set_weights(arrays.get_weights())
    expected = arrays.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    result = loaded.evaluate(DataLoader(Pairs(x, y), batch_size=8), verbose=0, return_dict=True)
    assert result.keys() == expected.keys()
    for key in expected:
        assert result[key] == pytest.approx(expected[key], rel=1e-5)
    predicted = loaded.predict(DataLoader(Pairs(x, y), batch_size=8), verbose=0)
    assert set(predicted) == {"label", "score"} and predicted["label"].shape == (40, 3)


def test_validation_data_sample_weight_and_batch_calls(rng):
    x, y = _data(rng)
    model = _compiled()
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert "val_label_accuracy" in history.history and "val_score_loss" in history.history
    weights = np.zeros(40, dtype="float32")
    weights[:20] = 1.0
    first_half = model.evaluate({k: v[:20] for k, v in x.items()}, {k: v[:20] for k, v in y.items()},
                                batch_size=40, verbose=0, return_dict=True)
    weighted = model.evaluate(x, y, sample_weight=weights, batch_size=40, verbose=0, return_dict=True)
    # Keras's sum_over_batch_size: weighted losses summed, divided by all 40 samples (zero weights count)
    assert weighted["score_loss"] == pytest.approx(first_half["score_loss"] / 2, rel=1e-5)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"label_accuracy", "label_loss", "loss", "score_loss"}
    assert model.predict_on_batch(x)["score"].shape == (40, 1)
    with pytest.raises(nnkit.errors.DataError, match="class_weight is only supported for models with one output"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 1.0}, verbose=0)
