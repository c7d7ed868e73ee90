"""imdb, reuters, boston_housing, california_housing, cifar100: Keras's files and preprocessing, offline.

Each loader reads a tiny fake file in Keras's format; the results are checked by hand and against Keras's
own loader reading the same file (its download step patched to hand over the file).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import pickle
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from nnkit.datasets import boston_housing, california_housing, cifar100, imdb, keras_files, reuters
from nnkit.errors import ConfigError, DataError
from tests.datasets.fakes import (
    object_array,
    write_fake_cifar100,
    write_fake_housing,
    write_fake_imdb,
    write_fake_reuters,
)

TRAIN = [[1, 2, 3], [4, 5, 6, 7, 8], [9], [2, 2, 10, 1]]
TEST = [[3, 4], [11, 12, 1, 2, 3, 4], [5]]


@pytest.fixture(autouse=True)
def _isolated_folders(monkeypatch, tmp_path):
    """No test reads the real ~/.nnkit, ~/.keras or $NNKIT_DATA, nor the network."""
    monkeypatch.delenv("NNKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


def keras_loader(keras, monkeypatch, name, file):
    """Keras's load_data for dataset ``name``, reading ``file`` instead of downloading."""
    module = importlib.import_module(f"keras.src.datasets.{name}")
    monkeypatch.setattr(module, "get_file", lambda *args, **kwargs: str(file))
    return module.load_data


def assert_same(ours, theirs):
    for (x_ours, y_ours), (x_theirs, y_theirs) in zip(ours, theirs):
        assert [list(s) for s in x_ours] == [list(s) for s in x_theirs]
        np.testing.assert_array_equal(y_ours, y_theirs)


def test_imdb_shifts_marks_and_shuffles_by_hand(tmp_path):
    write_fake_imdb(tmp_path / "imdb.npz", TRAIN, [0, 1, 0, 1], TEST, [1, 0, 1])
    (x_train, y_train), (x_test, y_test) = imdb.load_data(tmp_path / "imdb.npz", seed=5)
    rng = np.random.RandomState(5)
    order_train, order_test = np.arange(4), np.arange(3)
    rng.shuffle(order_train)
    rng.shuffle(order_test)
    top = max(w for s in TRAIN + TEST for w in s) + 3  # num_words=None: indices below the largest are kept (Keras)

    def encoded(seq):
        return [1] + [w + 3 if w + 3 < top else 2 for w in seq]

    assert x_train.dtype == object and x_train.shape == (4,)
    assert [list(s) for s in x_train] == [encoded(TRAIN[i]) for i in order_train]
    assert [list(s) for s in x_test] == [encoded(TEST[i]) for i in order_test]
    assert [list(s) for s in x_test][2] == [1, 14, 2, 4, 5, 6, 7]  # TEST[1]: word 12 (index 15) is the largest
    np.testing.assert_array_equal(y_train, np.array([0, 1, 0, 1])[order_train])
    np.testing.assert_array_equal(y_test, np.array([1, 0, 1])[order_test])


def test_imdb_vocabulary_limits_and_maxlen_by_hand(tmp_path):
    write_fake_imdb(tmp_path / "imdb.npz", TRAIN, [0, 1, 0, 1], TEST, [1, 0, 1])
    (x_train, y_train), (x_test, _) = imdb.load_data(tmp_path / "imdb.npz", num_words=8, skip_top=5, maxlen=5,
                                                     start_char=None, oov_char=0, index_from=2)
    # index_from=2, no start mark; length 5 or more is dropped; indices outside [5, 8) become 0
    def expected(seqs):
        kept = [[w + 2 for w in s] for s in seqs if len(s) < 5]
        return sorted([w if 5 <= w < 8 else 0 for w in s] for s in kept)

    assert sorted(list(s) for s in x_train) == expected(TRAIN)
    assert sorted(list(s) for s in x_test) == expected(TEST)
    assert len(y_train) == 3
    (x_train, _), _ = imdb.load_data(tmp_path / "imdb.npz", num_words=6, oov_char=None)
    assert all(1 <= w < 6 for s in x_train for w in s)  # out-of-vocabulary words are removed
    with pytest.raises(DataError, match=r"no sequence was kept\. Increase maxlen"):
        imdb.load_data(tmp_path / "imdb.npz", maxlen=2)


@pytest.mark.parametrize("options", [{}, {"num_words": 9, "skip_top": 4, "seed": 1},
                                     {"maxlen": 5, "start_char": None, "index_from": 0}, {"oov_char": None,
                                                                                          "num_words": 7}])
def test_imdb_matches_keras_on_the_same_file(keras, monkeypatch, tmp_path, options):
    write_fake_imdb(tmp_path / "imdb.npz", TRAIN, [0, 1, 0, 1], TEST, [1, 0, 1])
    theirs = keras_loader(keras, monkeypatch, "imdb", tmp_path / "imdb.npz")(**options)
    assert_same(imdb.load_data(tmp_path / "imdb.npz", **options), theirs)


@pytest.mark.parametrize("options", [{}, {"test_split": 0.5, "num_words": 8, "skip_top": 2},
                                     {"maxlen": 4, "seed": 7, "oov_char": 9}])
def test_reuters_matches_keras_and_splits_by_hand(keras, monkeypatch, tmp_path, options):
    sequences = TRAIN + TEST
    write_fake_reuters(tmp_path / "reuters.npz", sequences, [3, 0, 45, 2, 2, 1, 7])
    theirs = keras_loader(keras, monkeypatch, "reuters", tmp_path / "reuters.npz")(**options)
    ours = reuters.load_data(tmp_path / "reuters.npz", **options)
    assert_same(ours, theirs)
    if not options:
        assert (len(ours[0][0]), len(ours[1][0])) == (int(7 * 0.8), 7 - int(7 * 0.8))
    assert reuters.get_label_names() == keras.datasets.reuters.get_label_names()


def test_word_indexes_are_read_from_the_keras_cache(tmp_path):
    cache = tmp_path / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    (cache / "imdb_word_index.json").write_text(json.dumps({"the": 1, "film": 19}))
    (cache / "reuters_word_index.json").write_text(json.dumps({"said": 2}))
    assert imdb.get_word_index() == {"the": 1, "film": 19}
    assert reuters.get_word_index() == {"said": 2}


@pytest.mark.parametrize(("module", "name", "features", "kwargs"), [
    (boston_housing, "boston_housing", 13, {"test_split": 0.25, "seed": 3}),
    (california_housing, "california_housing", 8, {"version": "large", "test_split": 0.1}),
])
def test_housing_matches_keras_and_a_hand_split(keras, monkeypatch, tmp_path, module, name, features, kwargs):
    file = tmp_path / f"{name}.npz"
    x, y = write_fake_housing(file, 40, features)
    ours = module.load_data(path=file, **kwargs)
    theirs = keras_loader(keras, monkeypatch, name, file)(**kwargs)
    for mine, reference in zip(ours, theirs):
        for a, b in zip(mine, reference):
            np.testing.assert_array_equal(a, b)
    order = np.arange(40)
    np.random.RandomState(kwargs.get("seed", 113)).shuffle(order)
    cut = int(40 * (1 - kwargs["test_split"]))
    np.testing.assert_array_equal(ours[0][0], x[order[:cut]])
    np.testing.assert_array_equal(ours[1][1], y[order[cut:]])


def test_california_small_version_and_bad_arguments(tmp_path):
    file = tmp_path / "california_housing.npz"
    write_fake_housing(file, 700, 8)
    (x_train, _), (x_test, _) = california_housing.load_data("small", path=file)
    assert len(x_train) + len(x_test) == 600 and len(x_train) == 480
    with pytest.raises(ConfigError, match="`version` must be one of 'small', 'large'"):
        california_housing.load_data("medium", path=file)
    with pytest.raises(ConfigError, match="Invalid `test_split` argument: 1"):
        boston_housing.load_data(path=file, test_split=1)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras_on_the_same_batches(keras, monkeypatch, tmp_path, label_mode):
    ref = write_fake_cifar100(tmp_path / "data" / "cifar-100-python")
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode, path=tmp_path / "data")
    assert (x_train.shape, x_train.dtype, y_train.shape) == ((6, 32, 32, 3), np.uint8, (6, 1))
    assert x_train[1, 5, 7, 2] == ref["train_data"][1, 2 * 1024 + 5 * 32 + 7]
    np.testing.assert_array_equal(y_test[:, 0], ref[f"test_{label_mode}"])
    module = importlib.import_module("keras.src.datasets.cifar100")
    monkeypatch.setattr(module, "get_file", lambda *args, **kwargs: str(tmp_path / "data"))
    (k_x_train, k_y_train), (k_x_test, k_y_test) = module.load_data(label_mode)
    for ours, theirs in ((x_train, k_x_train), (y_train, k_y_train), (x_test, k_x_test), (y_test, k_y_test)):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ConfigError, match='`label_mode` must be one of `"fine"`, `"coarse"`'):
        cifar100.load_data("medium", path=tmp_path / "data")


def test_cifar100_is_extracted_from_a_local_archive(tmp_path):
    ref = write_fake_cifar100(tmp_path / "source" / "cifar-100-python")
    data = tmp_path / "data"
    data.mkdir()
    with tarfile.open(data / "cifar-100-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "source" / "cifar-100-python", arcname="cifar-100-python")
    (_, y_train), _ = cifar100.load_data(path=data)
    np.testing.assert_array_equal(y_train[:, 0], ref["train_fine"])
    assert sorted(p.name for p in data.iterdir()) == ["cifar-100-python", "cifar-100-python.tar.gz"]


def test_offline_errors_name_the_folders_and_the_address_and_leave_nothing(tmp_path):
    with pytest.raises(OSError, match=r"downloading it from https://storage\.googleapis\.com/.*imdb\.npz failed") as caught:
        imdb.load_data()
    message = str(caught.value)
    assert str(tmp_path / "home" / ".nnkit" / "datasets" / "imdb.npz") in message
    assert str(tmp_path / "keras_home" / "datasets" / "imdb.npz") in message and "by hand" in message
    assert list((tmp_path / "home" / ".nnkit" / "datasets").iterdir()) == []
    with pytest.raises(OSError, match=r"cifar-100-python.tar.gz.*www.cs.toronto.edu"):
        cifar100.load_data()


def test_a_download_is_checked_and_moved_into_place_whole(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    np.savez(buffer, x=np.ones((5, 13)), y=np.arange(5.0))
    payload = buffer.getvalue()

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Response(payload))
    folder = tmp_path / "home" / ".nnkit" / "datasets"
    with pytest.raises(DataError, match=r"has SHA-256 .* not Keras's"):
        boston_housing.load_data()
    assert list(folder.iterdir()) == []
    monkeypatch.setattr(boston_housing, "_SHA256", hashlib.sha256(payload).hexdigest())
    (x_train, _), (x_test, _) = boston_housing.load_data(test_split=0.4)
    assert (x_train.shape, x_test.shape) == ((3, 13), (2, 13))
    assert [p.name for p in folder.iterdir()] == ["boston_housing.npz"]


def test_pickles_holding_more_than_arrays_are_refused(tmp_path):
    class Gadget:
        def __reduce__(self):
            return (print, ("this must not run",))

    sequences = object_array([[1, 2]])
    sequences[0] = Gadget()
    np.savez(tmp_path / "imdb.npz", x_train=sequences, y_train=np.array([0]), x_test=sequences, y_test=np.array([0]))
    with pytest.raises(DataError, match=r"Refusing to load `builtins.print`"):
        imdb.load_data(tmp_path / "imdb.npz")
    folder = tmp_path / "cifar" / "cifar-100-python"
    folder.mkdir(parents=True)
    for name in ("train", "test"):
        (folder / name).write_bytes(pickle.dumps(Gadget()))
    with pytest.raises(DataError, match="Refusing to load"):
        cifar100.load_data(path=tmp_path / "cifar")
    with pytest.raises(DataError, match="no array 'x_test'"):
        np.savez(tmp_path / "partial.npz", x_train=object_array([[1]]), y_train=np.array([0]), y_test=np.array([0]))
        imdb.load_data(tmp_path / "partial.npz")
    assert keras_files.candidates("imdb.npz")[1] == tmp_path / "keras_home" / "datasets" / "imdb.npz"
