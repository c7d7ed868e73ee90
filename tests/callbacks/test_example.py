"""examples/early_stopping_checkpoint.py runs, resumes after its simulated crash, and ends like a run
that never crashed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from nnkit.callbacks.checkpointing import read_checkpoint

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "early_stopping_checkpoint.py"


def _example():
    spec = importlib.util.spec_from_file_location("early_stopping_checkpoint", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_resumes_and_matches_an_uninterrupted_run(tmp_path, capsys):
    example = _example()
    example.main(["--workdir", str(tmp_path / "crashed"), "--epochs", "6", "--crash-at", "2"])
    out = capsys.readouterr().out
    assert "simulated crash in epoch 3" in out and "this run started at epoch 3" in out
    assert "holds 6 epochs" in out and "test accuracy" in out
    example.main(["--workdir", str(tmp_path / "clean"), "--epochs", "6", "--crash-at", "0"])
    assert (tmp_path / "crashed" / "log.csv").read_bytes() == (tmp_path / "clean" / "log.csv").read_bytes()
    ours, theirs = (read_checkpoint(tmp_path / run / "best.safetensors")["weights"] for run in ("crashed", "clean"))
    assert all(a.equal(b) for a, b in zip(ours.values(), theirs.values(), strict=True))  # layer names differ
    assert not (tmp_path / "crashed" / "backup").exists()
