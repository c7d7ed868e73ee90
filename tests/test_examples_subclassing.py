"""The subclassing examples: a custom layer saved and reloaded, a VAE whose custom layer adds the KL loss."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_custom_layer_example_trains_saves_and_reloads(capsys):
    accuracy = runpy.run_path(str(EXAMPLES / "custom_layer.py"), run_name="custom_layer")["main"](epochs=60)
    assert accuracy >= 0.9
    assert "linear (Linear)" in capsys.readouterr().out


def test_vae_example_lowers_reconstruction_and_kl_loss():
    history = runpy.run_path(str(EXAMPLES / "vae.py"), run_name="vae")["main"](epochs=8, verbose=0)
    assert history["loss"][-1] < history["loss"][0] and np.isfinite(history["val_loss"]).all()
