"""A model file written by nnkit before layers became modules (commit 6e644cb, a Sequential convnet with
BatchNormalization, compiled with Adam and trained two epochs) loads and predicts as it did then."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnkit import layers
from nnkit.models import Sequential, load_model

FILES = Path(__file__).with_name("files")


def test_a_file_saved_before_the_redesign_loads_predicts_and_trains_on():
    model = load_model(FILES / "before_redesign.keras")
    x = np.load(FILES / "before_redesign_x.npy")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.load(FILES / "before_redesign_pred.npy"),
                               rtol=1e-6, atol=1e-7)
    assert model.name == "before_redesign" and model.compiled and model.optimizer.iterations == 2
    history = model.fit(x, np.arange(16) % 3, epochs=1, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]


def test_its_weights_load_into_a_model_built_today():
    model = Sequential([layers.Input(shape=(6, 6, 1)), layers.Conv2D(2, 3, activation="relu"),
                        layers.BatchNormalization(), layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.load_weights(FILES / "before_redesign.keras")
    x = np.load(FILES / "before_redesign_x.npy")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.load(FILES / "before_redesign_pred.npy"),
                               rtol=1e-6, atol=1e-7)
