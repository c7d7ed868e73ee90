"""examples/levenberg_marquardt.py runs, plots its curves and shows the second-order methods ahead."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "levenberg_marquardt.py"


def test_levenberg_marquardt_example_plots_and_beats_first_order_methods(tmp_path, capsys):
    import torch

    threads = torch.get_num_threads()
    example = runpy.run_path(str(EXAMPLE), run_name="levenberg_marquardt")
    try:
        # an epoch budget (the time budget is never reached) keeps the comparison independent of machine load
        final = example["main"](seconds=600.0, output=str(tmp_path / "curves.png"), epochs=25)
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert final["Levenberg-Marquardt"] < 0.1 * min(final["Adam (lr 0.01)"], final["SGD (lr 0.1)"])
    assert final["L-BFGS"] < 0.5 * min(final["Adam (lr 0.01)"], final["SGD (lr 0.1)"])
    out = capsys.readouterr().out
    assert "Levenberg-Marquardt: training MSE" in out and "saved" in out
