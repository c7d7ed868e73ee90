"""The convnet example trains to at least 97% test accuracy on scikit-learn's 8x8 digits."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_convnet.py"


def test_digits_convnet_reaches_97_percent(capsys):
    namespace = runpy.run_path(str(EXAMPLE), run_name="digits_convnet")  # defines main() without running it
    accuracy = namespace["main"](verbose=0)
    assert accuracy >= 0.97
    assert f"test accuracy: {accuracy:.4f}" in capsys.readouterr().out
