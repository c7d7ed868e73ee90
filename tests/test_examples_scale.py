"""examples/scale_out.py: the same model trains in one process and searches sequentially (torchrun and
Dask runs of the same code are tested in tests/distributed and tests/wrappers/test_dask.py)."""

from __future__ import annotations

import runpy
from pathlib import Path

from nnkit.models import load_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scale_out.py"


def test_train_saves_the_model_and_search_finds_a_best_candidate(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    example = runpy.run_path(str(EXAMPLE))
    accuracy = example["train"](epochs=3)
    assert 0.5 < accuracy <= 1.0
    x, _ = example["data"]()
    assert load_model(tmp_path / "scale_out.keras").predict(x[:5], verbose=0).shape == (5, 10)
    result = example["search"](epochs=2)
    assert len(result.cv_results_["params"]) == 4 and result.best_params_ in result.cv_results_["params"]
    out = capsys.readouterr().out
    assert "1 process(es): validation accuracy" in out and "searched 4 candidates x 3 folds on this process" in out
