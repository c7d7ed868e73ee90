"""Every config in configs/ loads, validates and trains briefly, and its run folder reads back."""

from __future__ import annotations

import csv
import json
import os
import re

import numpy as np
import pytest

from nnkit.models import load_model
from nnkit.runs import load_config, open_run, parse_config_text, prepare, search, train, validate_config
from nnkit.runs.inference import evaluate_model
from nnkit.runs.searching import make_search
from tests.runs.helpers import CONFIGS, shipped_configs

BRIEF = ["fit.epochs=1", "fit.verbose=0", "data.limit=150"]
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_seven_configs_are_shipped():
    names = {os.path.basename(path) for path in shipped_configs()}
    assert names == {"digits_cnn.yaml", "iris_mlp.yaml", "iris_wide_deep.yaml", "breast_cancer_binary.yaml",
                     "diabetes_regression.yaml", "sine_lstm.yaml", "wine_grid_search.yaml"}


@pytest.mark.parametrize("path", shipped_configs(), ids=os.path.basename)
def test_config_trains_briefly_and_writes_a_readable_run_folder(path, tmp_path):
    run = open_run(path, BRIEF)
    result = train(run, output_dir=str(tmp_path / "run"))
    folder = tmp_path / "run"
    classifier = run.task == "classification"
    expected = {"model.nnkit", "history.csv", "history.png", "metrics.json", "config.yaml"}
    if classifier:
        expected |= {"classes.json", "confusion_matrix.png"}
        if run.data.class_labels != [str(c) for c in run.data.classes]:  # named classes (iris's setosa, ...)
            expected.add("class_names.json")
    assert set(os.listdir(folder)) == expected

    with open(folder / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result.history["loss"]) == 1
    assert float(rows[0]["loss"]) == pytest.approx(result.history["loss"][0], rel=1e-12)

    reloaded = load_model(str(folder / "model.nnkit"))
    np.testing.assert_allclose(reloaded.predict(run.data.x_test, verbose=0), run.model.predict(run.data.x_test, verbose=0),
                               rtol=1e-6, atol=1e-7)
    metrics = json.loads((folder / "metrics.json").read_text())
    direct = run.model.evaluate(run.data.x_test, run.data.y_test, verbose=0, return_dict=True)
    assert metrics.keys() == direct.keys()
    for key in metrics:
        assert metrics[key] == pytest.approx(direct[key], rel=1e-5, abs=1e-7)
    rebuilt, _, count = evaluate_model(str(folder / "model.nnkit"))  # the test split rebuilt from config.yaml
    assert count == len(run.data.x_test)
    for key in metrics:
        assert rebuilt[key] == pytest.approx(metrics[key], rel=1e-5, abs=1e-7)

    resolved = load_config(str(folder / "config.yaml"))
    assert resolved["fit"]["epochs"] == 1 and resolved["data"]["limit"] == 150
    assert {k: v for k, v in resolved.items() if k not in ("model", "output")} == \
        {k: v for k, v in run.config.items() if k not in ("model", "output")}
    stem = os.path.splitext(os.path.basename(path))[0]  # recorded, so a rerun of config.yaml is named after it
    assert resolved["output"]["dir"] == run.config["output"]["dir"].replace("{stem}", stem)
    assert resolved["model"]["layers"] == run.config["model"]["layers"]
    assert (folder / "history.png").read_bytes()[:8] == PNG
    if classifier:
        assert json.loads((folder / "classes.json").read_text()) == run.data.classes
        assert (folder / "confusion_matrix.png").read_bytes()[:8] == PNG


def test_grid_search_config_searches_and_writes_cv_results(tmp_path):
    path = next(p for p in shipped_configs() if p.endswith("wine_grid_search.yaml"))
    run = open_run(path, [*BRIEF, "search.params={'model.layers[0].units': [4, 8], fit.batch_size: [16, 64]}",
                          "search.cv=2"])
    found = search(run, output_dir=str(tmp_path / "run"))
    folder = tmp_path / "run"
    assert "cv_results.csv" in os.listdir(folder) and "model.nnkit" in os.listdir(folder)
    with open(folder / "cv_results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 == len(found.table)
    assert {(int(r["model.layers[0].units"]), int(r["fit.batch_size"])) for r in rows} == {(4, 16), (4, 64), (8, 16),
                                                                                            (8, 64)}
    for row, entry in zip(rows, found.table):
        folds = [float(row["split0_test_score"]), float(row["split1_test_score"])]
        assert float(row["mean_test_score"]) == pytest.approx(np.mean(folds), rel=1e-12)
        assert float(row["std_test_score"]) == pytest.approx(np.std(folds), rel=1e-9, abs=1e-12)
        assert int(row["rank_test_score"]) == entry["rank"]
    assert rows[0]["rank_test_score"] == "1"
    best = {"model.layers[0].units": int(rows[0]["model.layers[0].units"]),
            "fit.batch_size": int(rows[0]["fit.batch_size"])}
    assert found.best_params == best
    assert found.best_score == pytest.approx(float(rows[0]["mean_test_score"]))
    resolved = load_config(str(folder / "config.yaml"))
    assert resolved["model"]["layers"][0]["units"] == best["model.layers[0].units"]
    assert resolved["fit"]["batch_size"] == best["fit.batch_size"]
    model = load_model(str(folder / "model.nnkit"))
    assert model.layers[1].units == best["model.layers[0].units"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(
        model.evaluate(run.data.x_test, run.data.y_test, verbose=0, return_dict=True)["accuracy"])


def readme_example() -> dict:
    """The annotated ```yaml block of configs/README.md, parsed."""
    with open(os.path.join(CONFIGS, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```yaml\n(.*?)^```$", f.read(), flags=re.S | re.M)
    assert len(blocks) == 1
    return parse_config_text(blocks[0], "configs/README.md")


def test_the_annotated_example_of_the_readme_validates_and_builds():
    example = readme_example()
    config = validate_config(example, default_name="README")
    assert config["search"]["params"]["compile.optimizer.learning_rate"] == [0.001, 0.01]
    run = prepare(config, validated=True)
    assert [layer.name for layer in run.model.layers] == ["dense", "dropout", "dense_1"]
    searcher, _ = make_search(run)
    built = searcher.estimator.model(**{"compile.optimizer.learning_rate": 0.01})
    assert built.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)


def test_the_readme_shows_the_real_defaults():
    """Everything in the example not marked as an example is the default a minimal config gets."""
    example = readme_example()
    minimal = {"data": {"dataset": "iris"}, "model": {"layers": [{"type": "Dense", "units": 3}]},
               "compile": {"loss": "mse"}, "search": {"params": {"fit.epochs": [1]}}}
    defaults = validate_config(minimal, default_name="README")
    examples = {("description",), ("task",), ("data", "dataset"), ("model",), ("compile", "loss"),
                ("compile", "metrics"), ("fit", "callbacks"), ("search", "params")}
    checked = 0
    for section, value in example.items():
        for key, shown in (value.items() if isinstance(value, dict) else [(None, value)]):
            path = (section,) if key is None else (section, key)
            if path in examples or path[:1] in examples:
                continue
            actual = defaults[section] if key is None else defaults[section][key]
            assert shown == actual, (path, shown, actual)
            checked += 1
    assert checked == 22 and example["task"] is None and defaults["task"] == "regression"  # from mse
    assert set(example) == set(defaults) | {"description"}
