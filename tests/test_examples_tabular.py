"""examples/regularization_tabular.py runs and shows regularization shrinking the train/val gap."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "regularization_tabular.py"


def test_regularized_model_has_a_smaller_train_validation_gap(capsys):
    example = runpy.run_path(str(EXAMPLE))  # defines the functions without running main
    plain, regularized = example["main"]()
    assert plain.train_accuracy > 0.99  # the plain MLP memorizes the noisy labels ...
    assert regularized.gap < plain.gap - 0.03  # ... the regularized one much less
    assert regularized.val_accuracy > 0.75
    out = capsys.readouterr().out
    assert "plain" in out and "regularized" in out and "shrinks the train/val gap" in out
