"""Searches over config paths: parameter names, distributions and a regression search."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.base import clone

from nnkit.runs import ConfigModel, prepare, search
from nnkit.runs.searching import make_search, param_name
from tests.runs.helpers import iris


@pytest.mark.parametrize(("path", "name"), [
    ("fit.epochs", "epochs"), ("fit.batch_size", "batch_size"), ("fit.validation_freq", "fit__validation_freq"),
    ("model.layers[0].units", "model__model.layers[0].units"),
    ("compile.optimizer.learning_rate", "model__compile.optimizer.learning_rate"),
])
def test_config_paths_map_to_estimator_parameters(path, name):
    assert param_name(path) == name


def test_the_estimator_is_a_clonable_scikit_learn_estimator():
    run = prepare(iris(search={"params": {"model.layers[0].units": [4, 8]}}))
    searcher, names = make_search(run)
    assert names == {"model__model.layers[0].units": "model.layers[0].units"}
    estimator = clone(searcher.estimator).set_params(**{"model__model.layers[0].units": 5, "batch_size": 8})
    assert isinstance(estimator.model, ConfigModel) and estimator.get_params()["batch_size"] == 8
    built = estimator.model(**{"model.layers[0].units": 5})
    assert [layer.name for layer in built.layers] == ["input_normalization", "dense", "dense_1"]
    assert built.layers[1].units == 5 and built.compiled


def test_random_search_of_a_regression_samples_the_distributions(tmp_path):
    config = iris(data={"dataset": "diabetes", "limit": 120}, compile={"loss": "mse", "metrics": ["mae"]},
                  fit={"epochs": 1},
                  search={"method": "random", "n_iter": 3, "cv": 2,
                          "params": {"compile.optimizer.learning_rate": {"distribution": "loguniform", "low": 1e-3,
                                                                         "high": 1e-1},
                                     "model.layers[0].units": {"distribution": "randint", "low": 2, "high": 6}}})
    config["model"]["layers"][-1] = {"type": "Dense", "units": 1}
    found = search(prepare(config), output_dir=str(tmp_path / "run"))
    with open(tmp_path / "run" / "cv_results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 == len(found.table)
    for row in rows:
        assert 1e-3 <= float(row["compile.optimizer.learning_rate"]) <= 1e-1
        assert int(row["model.layers[0].units"]) in range(2, 6)
        folds = [float(row["split0_test_score"]), float(row["split1_test_score"])]
        assert float(row["mean_test_score"]) == pytest.approx(np.mean(folds))
    assert set(found.best_params) == {"compile.optimizer.learning_rate", "model.layers[0].units"}
    assert "confusion_matrix.png" not in {p.name for p in (tmp_path / "run").iterdir()}


@pytest.mark.parametrize("terminal", [False, True])
def test_a_search_shows_its_progress_over_candidates_and_folds(tmp_path, monkeypatch, capsys, terminal):
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal, raising=False)
    config = iris(fit={"epochs": 1}, data={"limit": 60},
                  search={"params": {"model.layers[0].units": [2, 4, 6]}, "cv": 2})
    found = search(prepare(config), output_dir=str(tmp_path / "run"))
    out = capsys.readouterr().out
    best = max(row["mean_test_score"] for row in found.table)
    assert "Stacked training: 6 of 6 fits in 3 stacks" in out  # one per layer width
    if terminal:
        assert "Search" in out and "6/6" in out and f"best mean score {best:.4f}" in out
    else:
        lines = [line for line in out.splitlines() if line.startswith("Candidate ")]
        assert len(lines) == 3 and lines[0].startswith("Candidate 1/3: mean score ")
        assert lines[-1].endswith(f"(best so far {best:.4f})")
    search(prepare(config), output_dir=str(tmp_path / "quiet"), progress=False)
    assert capsys.readouterr().out == ""


def test_a_config_search_trains_its_candidates_stacked_with_scikit_learns_results(capsys):
    """`nnkit search` uses nnkit.model_selection: the config's model (its input normalization applied to the
    data once) is trained stacked, with the cv_results_ of scikit-learn's search on the same estimator."""
    from sklearn import model_selection as sk

    run = prepare(iris(fit={"epochs": 2}, search={"params": {"model.layers[0].units": [4, 8],
                                                            "compile.optimizer.learning_rate": [0.01, 0.1]}}))
    searcher, _ = make_search(run)
    searcher.set_params(verbose=1).fit(run.data.x_train, run.data.y_train)
    assert "Stacked training: 12 of 12 fits in 2 stacks" in capsys.readouterr().out  # one per layer width
    theirs = sk.GridSearchCV(searcher.estimator, searcher.param_grid, cv=searcher.cv, scoring=searcher.scoring,
                             error_score="raise").fit(run.data.x_train, run.data.y_train)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(searcher.cv_results_[key], theirs.cv_results_[key])
