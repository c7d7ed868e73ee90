"""``load_file``: .csv, .npy and .npz files, with clear errors and no unpickling."""

from __future__ import annotations

import csv
import os
import pickle

import numpy as np
import pytest
import sklearn.datasets

from nnkit.datasets import load_file
from nnkit.errors import ConfigError, DataError


class _Payload:
    """Unpickling this creates the folder ``marker``: proof that pickled code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_round_trip_of_iris_with_a_string_target(tmp_path):
    data = sklearn.datasets.load_iris()
    path = tmp_path / "iris.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*data.feature_names, "species"])
        for row, label in zip(data.data, data.target):
            writer.writerow([*(repr(float(v)) for v in row), data.target_names[label]])

    X, y = load_file(path, target="species")
    assert (X.dtype, X.shape, y.shape) == (np.float32, (150, 4), (150,))
    np.testing.assert_array_equal(X, data.data.astype(np.float32))
    assert y.dtype.kind == "U"
    np.testing.assert_array_equal(y, data.target_names[data.target])


def test_csv_numeric_targets_by_index(tmp_path):
    path = _write(tmp_path / "d.csv", "label,a,b,score\n1,0.5,2,1.25\n0, -1.5 ,3,2\n2,4e-1,5,-0.5\n")
    X, y = load_file(path, target=0)
    np.testing.assert_array_equal(X, np.array([[0.5, 2, 1.25], [-1.5, 3, 2], [0.4, 5, -0.5]], dtype=np.float32))
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 2]

    X, y = load_file(path, target=-1)  # the last column
    assert X.shape == (3, 3) and X[:, 0].tolist() == [1, 0, 2]
    assert y.dtype == np.float32 and y.tolist() == [1.25, 2.0, -0.5]

    X, y = load_file(path)
    assert X.shape == (3, 4) and y is None


def test_csv_target_typo_suggests_the_column_and_lists_them(tmp_path):
    path = _write(tmp_path / "d.csv", "height,weight,species\n1,2,cat\n")
    with pytest.raises(ConfigError, match="Did you mean 'species'") as caught:
        load_file(path, target="specis")
    assert "height, weight, species" in str(caught.value)
    with pytest.raises(ConfigError, match="out of range"):
        load_file(path, target=3)


def test_csv_non_numeric_feature_names_the_column_and_row(tmp_path):
    path = _write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,abc,1\n5,,1\n")
    with pytest.raises(DataError) as caught:
        load_file(path, target="y")
    message = str(caught.value)
    assert "'b'" in message and "row 2" in message and "line 3" in message and "'abc'" in message


def test_csv_ragged_and_empty_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="line 3 has 2 values, but the header has 3 columns"):
        load_file(_write(tmp_path / "r.csv", "a,b,c\n1,2,3\n4,5\n"))
    with pytest.raises(DataError, match="header row and at least one data row"):
        load_file(_write(tmp_path / "e.csv", "a,b\n"))
    with pytest.raises(DataError, match="target column 'y' is empty at line 2"):
        load_file(_write(tmp_path / "t.csv", "a,y\n1,\n"), target="y")


def test_unsupported_suffix_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"unsupported suffix '\.parquet'.*\.csv, \.npy, \.npz"):
        load_file(tmp_path / "data.parquet")
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError, match="does not exist") as caught:
        load_file(missing)
    assert str(missing) in str(caught.value)


def test_npy_returns_the_array_unchanged(tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    np.save(tmp_path / "x.npy", array)
    X, y = load_file(tmp_path / "x.npy")
    assert y is None and X.dtype == np.int16
    np.testing.assert_array_equal(X, array)
    with pytest.raises(ConfigError, match=r"target= picks a column of a \.csv file"):
        load_file(tmp_path / "x.npy", target=0)


def test_npz_default_and_custom_keys(tmp_path):
    x, y = np.eye(3, dtype=np.float32), np.array([0, 1, 2])
    np.savez(tmp_path / "a.npz", X=x, y=y)
    X, Y = load_file(tmp_path / "a.npz")
    np.testing.assert_array_equal(X, x)
    np.testing.assert_array_equal(Y, y)

    np.savez(tmp_path / "b.npz", x_train=x, y_train=y)
    X, Y = load_file(tmp_path / "b.npz", x_key="x_train", y_key="y_train")
    np.testing.assert_array_equal(X, x)
    np.testing.assert_array_equal(Y, y)

    np.savez(tmp_path / "c.npz", x=x)
    X, Y = load_file(tmp_path / "c.npz")
    assert Y is None


def test_npz_missing_keys_list_the_arrays_found(tmp_path):
    np.savez(tmp_path / "b.npz", x_train=np.zeros(2), y_train=np.zeros(2))
    with pytest.raises(DataError, match=r"no features array named 'x' or 'X'\. Arrays found: x_train, y_train"):
        load_file(tmp_path / "b.npz")
    with pytest.raises(DataError, match=r"no array 'labels'.*Arrays found: x_train, y_train"):
        load_file(tmp_path / "b.npz", x_key="x_train", y_key="labels")


def test_pickled_object_arrays_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "payload-ran"
    np.save(tmp_path / "evil.npy", np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "evil.npz", x=np.zeros(3), y=np.array([_Payload(str(marker))], dtype=object))
    with open(tmp_path / "raw.npy", "wb") as f:
        pickle.dump(_Payload(str(marker)), f)

    with pytest.raises(DataError, match="pickled Python objects, which nnkit does not load"):
        load_file(tmp_path / "evil.npy")
    with pytest.raises(DataError, match=r"pickled Python objects \(array 'y'\)"):
        load_file(tmp_path / "evil.npz")
    with pytest.raises(DataError, match="pickled Python objects"):
        load_file(tmp_path / "raw.npy")
    assert not marker.exists()

    np.load(tmp_path / "evil.npy", allow_pickle=True)  # control: the payload is live when unpickled
    assert marker.is_dir()
