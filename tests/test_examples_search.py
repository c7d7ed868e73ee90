"""examples/stacked_search.py runs its stacked random search and gets scikit-learn's scores one by one."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stacked_search.py"


def test_stacked_search_example_stacks_every_fit_with_scikit_learns_scores(capsys, one_thread):
    example = runpy.run_path(str(EXAMPLE), run_name="stacked_search")
    seconds = example["main"](candidates=4, epochs=3, compare=True)
    out = capsys.readouterr().out
    assert "Stacked training: 12 of 12 fits in 1 stack (12 fits in 12 runs)" in out
    assert "same scores: True" in out and "Held-out accuracy of the refitted best pipeline" in out
    assert set(seconds) == {"stacked", "one by one"}
