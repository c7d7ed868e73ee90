"""A .csv file is read as written: header-less files lose no row, and predictions match columns by name."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from nnkit import datasets
from nnkit.cli import main
from nnkit.errors import ConfigError, DataError
from nnkit.models import load_model
from tests.runs.helpers import iris

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """`nnkit train` on iris.csv (named columns and a species column), then the run folder."""
    folder = tmp_path_factory.mktemp("csv")
    x, y = datasets.load("iris")
    write_csv(folder / "iris.csv", [*NAMES, "species"], [[*map(float, row), int(c)] for row, c in zip(x, y)])
    config = iris(data={"dataset": None, "path": str(folder / "iris.csv"), "target": "species"}, fit={"epochs": 30})
    (folder / "exp.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(folder / "exp.yaml"), "--output", str(folder / "run"), "--quiet"]) == 0
    return folder / "run", x[:7].astype("float32")


def predicted(run, path, *extra):
    out = str(run.parent / "out.csv")
    assert main(["predict", str(run / "model.nnkit"), path, "--output", out, *extra]) == 0
    with open(out, newline="") as f:
        return np.array([[float(v) for v in row] for row in list(csv.reader(f))[1:]])


def test_the_run_folder_records_the_training_columns(run_folder):
    run, _ = run_folder
    assert json.loads((run / "columns.json").read_text()) == {"features": NAMES, "target": "species"}


def test_reordered_columns_give_the_same_predictions(run_folder, tmp_path):
    run, x = run_folder
    expected = load_model(str(run / "model.nnkit")).predict(x, verbose=0)
    as_trained = predicted(run, write_csv(tmp_path / "a.csv", NAMES, x.tolist()))
    order = [3, 1, 0, 2]
    reordered = predicted(run, write_csv(tmp_path / "b.csv", [NAMES[i] for i in order], x[:, order].tolist()))
    np.testing.assert_allclose(as_trained, expected, rtol=1e-5)
    np.testing.assert_allclose(reordered, expected, rtol=1e-5)
    labelled = predicted(run, write_csv(tmp_path / "c.csv", ["species", *NAMES], [[0, *r] for r in x.tolist()]))
    np.testing.assert_allclose(labelled, expected, rtol=1e-5)  # the training label column is not an input


def test_renamed_or_missing_columns_are_an_error_listing_them(run_folder, tmp_path, capsys):
    run, x = run_folder
    renamed = write_csv(tmp_path / "r.csv", ["a", "b", "petal_length", "petal_width"], x.tolist())
    assert main(["predict", str(run / "model.nnkit"), renamed, "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "missing 'sepal_length', 'sepal_width'; unknown 'a', 'b'" in err
    assert not (tmp_path / "o.csv").exists()


def test_a_csv_without_a_header_keeps_every_row(run_folder, tmp_path):
    """A header-less file lost its first row ("Wrote 4 predictions" for 5 rows); now every row is data."""
    run, x = run_folder
    expected = load_model(str(run / "model.nnkit")).predict(x[:5], verbose=0)
    plain = write_csv(tmp_path / "plain.csv", None, x[:5].tolist())
    np.testing.assert_allclose(predicted(run, plain), expected, rtol=1e-5)
    np.testing.assert_allclose(predicted(run, plain, "--no-header"), expected, rtol=1e-5)
    # Told that the first row is a header, the file's "names" are numbers that match no training column.
    assert main(["predict", str(run / "model.nnkit"), plain, "--header", "--output", str(tmp_path / "o.csv")]) == 2


def test_load_csv_detects_headers():
    rows = [[5.1, 3.5], [4.9, 3.0]]
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        table = datasets.load_csv(write_csv(f"{folder}/x.csv", None, rows))
        assert table.x.tolist() == np.float32(rows).tolist() and table.feature_names is None
        pandas_names = datasets.load_csv(write_csv(f"{folder}/p.csv", ["0", "1"], rows))
        assert pandas_names.feature_names == ["0", "1"] and len(pandas_names.x) == 2
        with pytest.raises(ConfigError, match=r"has no header row .* cannot name a column"):
            datasets.load_csv(f"{folder}/x.csv", target="label")
        x, y = datasets.load_file(f"{folder}/x.csv", target=-1)
        assert x.shape == (2, 1) and y.tolist() == np.float32([3.5, 3.0]).tolist()
        with pytest.raises(DataError, match="needs a header row and at least one data row"):
            datasets.load_csv(write_csv(f"{folder}/h.csv", ["a", "b"], []))


def test_training_on_a_header_less_csv_uses_every_row(tmp_path):
    from nnkit.runs import prepare

    x, y = datasets.load("iris")
    path = write_csv(tmp_path / "iris.csv", None, [[*map(float, row), int(c)] for row, c in zip(x, y)])
    run = prepare(iris(data={"dataset": None, "path": path, "target": -1, "test_size": 0.2}))
    assert len(run.data.x_train) + len(run.data.x_test) == len(x) and run.data.columns is None
    with pytest.raises(ConfigError, match=r"data\.header: only a \.csv file"):
        prepare(iris(data={"dataset": "iris", "header": False}))
