"""The functional-API example trains both heads of its two-input model to high test accuracy."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "functional_api.py"


def test_two_input_two_output_digits_model_learns_both_heads(capsys):
    namespace = runpy.run_path(str(EXAMPLE), run_name="functional_api")  # defines main() without running it
    accuracy = namespace["main"](epochs=12, verbose=0)
    assert accuracy >= 0.95
    out = capsys.readouterr().out
    odd = float(out.split("odd/even accuracy: ")[1])
    assert odd >= 0.9
