"""Plots of training results: learning curves, confusion matrices and saving them to files."""

from __future__ import annotations

import csv
import struct
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from nnkit.callbacks import CSVLogger, History
from nnkit.errors import ConfigError, DataError
from nnkit.layers import Dense
from nnkit.models import Sequential
from nnkit.utils import plot_confusion_matrix, plot_history, save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which always follows the signature."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def curves(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata())) for line in ax.lines}


def fit_tiny_model(epochs: int = 3, **fit_kwargs) -> History:
    rng = np.random.default_rng(0)
    x = rng.random((24, 3), dtype=np.float32)
    y = (x.sum(axis=1) > 1.5).astype(np.float32)
    model = Sequential([Dense(1, activation="sigmoid", input_dim=3)])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, **fit_kwargs)


# -- import cost --------------------------------------------------------------------------------------------
def test_import_nnkit_does_not_import_matplotlib():
    code = ("import sys, nnkit, nnkit.utils\n"
            "assert 'matplotlib' not in sys.modules, 'import nnkit loaded matplotlib'\n"
            "from nnkit.utils import plot_history\n"
            "from nnkit.utils.plotting import plot_history as direct\n"
            "assert plot_history is direct\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_unknown_utils_attribute_is_an_attribute_error():
    import nnkit.utils

    with pytest.raises(AttributeError, match="plot_histroy"):
        nnkit.utils.plot_histroy  # noqa: B018


# -- plot_history -------------------------------------------------------------------------------------------
def test_history_dict_gives_one_subplot_per_metric_with_the_logged_values():
    history = {
        "accuracy": [0.5, 0.7, 0.8, 0.9],
        "loss": [1.2, 0.8, 0.5, 0.4],
        "val_accuracy": [0.4, 0.6, 0.7, 0.7],
        "val_loss": [1.3, 1.0, 0.7, 0.6],
        "learning_rate": [0.1, 0.1, 0.05, 0.05],
    }
    fig = plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "learning_rate"]
    for ax in fig.axes:
        name = ax.get_title()
        lines = curves(ax)
        expected = {"training"} | ({"validation"} if f"val_{name}" in history else set())
        assert set(lines) == expected
        np.testing.assert_array_equal(lines["training"][0], [1, 2, 3, 4])
        np.testing.assert_allclose(lines["training"][1], history[name])
        if "validation" in lines:
            np.testing.assert_array_equal(lines["validation"][0], [1, 2, 3, 4])
            np.testing.assert_allclose(lines["validation"][1], history[f"val_{name}"])
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Epoch", name)
        if "validation" in expected:
            assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
        else:  # a lone curve has no legend to explain
            assert ax.get_legend() is None


def test_metrics_chooses_and_orders_the_subplots():
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.6], "auc": [0.6, 0.7], "val_auc": [0.5, 0.6]}
    fig = plot_history(history, metrics=["auc", "loss"])
    assert [ax.get_title() for ax in fig.axes] == ["auc", "loss"]
    np.testing.assert_allclose(curves(fig.axes[0])["validation"][1], [0.5, 0.6])


def test_unknown_metric_suggests_the_closest_and_lists_the_available_ones():
    history = {"loss": [1.0], "accuracy": [0.5], "val_loss": [1.1]}
    with pytest.raises(ConfigError, match=r"'acuracy'.*Did you mean 'accuracy'\?.*Available metrics: loss, accuracy"):
        plot_history(history, metrics=["acuracy"])
    with pytest.raises(ConfigError, match="Did you mean 'loss'"):
        plot_history(history, metrics=["val_loss"])  # the val_ curve comes with its base metric
    with pytest.raises(ConfigError, match="non-empty list"):
        plot_history(history, metrics=[])


def test_missing_values_leave_gaps_and_text_series_are_left_out():
    history = {"loss": [1.0, None, 0.5], "val_loss": [float("nan"), 0.9, 0.8], "note": ["a", "b", "c"]}
    fig = plot_history(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    lines = curves(fig.axes[0])
    np.testing.assert_array_equal(lines["training"][1], [1.0, np.nan, 0.5])
    np.testing.assert_array_equal(lines["validation"][1], [np.nan, 0.9, 0.8])
    with pytest.raises(DataError, match=r"'note' holds 'a' at epoch 1"):
        plot_history(history, metrics=["note"])


def test_empty_history_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="empty history"):
        plot_history({})
    with pytest.raises(DataError, match="empty history"):
        plot_history(History())
    with pytest.raises(DataError, match="empty history"):
        plot_history({"loss": []})
    header_only = tmp_path / "history.csv"
    header_only.write_text("epoch,loss\n")
    with pytest.raises(DataError, match="only a header"):
        plot_history(header_only)


def test_bad_history_arguments_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="Received: int"):
        plot_history(3)
    with pytest.raises(DataError, match="'loss': float"):
        plot_history({"loss": 0.5})
    with pytest.raises(ConfigError, match="figsize"):
        plot_history({"loss": [1.0]}, figsize=(0, 3))
    not_a_log = tmp_path / "other.csv"
    not_a_log.write_text("step,loss\n0,1.0\n")
    with pytest.raises(DataError, match="first column must be 'epoch'"):
        plot_history(not_a_log)


def test_history_from_fit_and_its_csv_log_plot_the_same_curves(tmp_path):
    path = tmp_path / "logs" / "history.csv"
    history = fit_tiny_model(epochs=3, validation_split=0.25, callbacks=[CSVLogger(path)])
    from_object, from_csv = plot_history(history), plot_history(str(path))
    assert [ax.get_title() for ax in from_object.axes] == ["loss", "accuracy"]
    assert [ax.get_title() for ax in from_csv.axes] == ["loss", "accuracy"]
    for ax_object, ax_csv in zip(from_object.axes, from_csv.axes):
        name = ax_object.get_title()
        lines_object, lines_csv = curves(ax_object), curves(ax_csv)
        assert set(lines_object) == set(lines_csv) == {"training", "validation"}
        for label, key in (("training", name), ("validation", f"val_{name}")):
            np.testing.assert_array_equal(lines_object[label][0], [1, 2, 3])
            np.testing.assert_array_equal(lines_csv[label][0], [1, 2, 3])
            np.testing.assert_allclose(lines_object[label][1], history.history[key])
            np.testing.assert_allclose(lines_csv[label][1], history.history[key])


def test_csv_log_without_validation_has_no_validation_curve(tmp_path):
    path = tmp_path / "history.csv"
    history = fit_tiny_model(epochs=2, callbacks=[CSVLogger(path)])
    assert "val_loss" in path.read_text()  # CSVLogger adds val_ columns full of NA, as Keras does
    fig = plot_history(path)
    for ax in fig.axes:
        lines = curves(ax)
        assert set(lines) == {"training"}
        np.testing.assert_allclose(lines["training"][1], history.history[ax.get_title()])


def test_validation_freq_places_validation_on_its_epochs_from_csv_and_refuses_to_guess_from_a_dict(tmp_path):
    path = tmp_path / "history.csv"
    history = fit_tiny_model(epochs=4, validation_split=0.25, validation_freq=2, callbacks=[CSVLogger(path)])
    validation = curves(plot_history(path).axes[0])["validation"]
    np.testing.assert_array_equal(validation[0], [1, 2, 3, 4])
    np.testing.assert_allclose(validation[1], [np.nan, history.history["val_loss"][0],
                                               np.nan, history.history["val_loss"][1]])
    with pytest.raises(DataError, match=r"'val_loss'.*2 values for 4 epochs.*CSVLogger"):
        plot_history(history)


def test_csv_with_another_separator(tmp_path):
    path = tmp_path / "history.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerows([["epoch", "loss", "val_loss"], [0, 0.9, "NA"], [1, 0.7, 0.8]])
    lines = curves(plot_history(path).axes[0])
    np.testing.assert_allclose(lines["training"][1], [0.9, 0.7])
    np.testing.assert_array_equal(lines["validation"][1], [np.nan, 0.8])


def test_history_of_a_resumed_run_counts_epochs_from_initial_epoch():
    history = History()
    history.epoch, history.history = [4, 5], {"loss": [0.3, 0.2]}
    np.testing.assert_array_equal(curves(plot_history(history).axes[0])["training"][0], [5, 6])


# -- save_figure --------------------------------------------------------------------------------------------
def test_a_loss_spanning_decades_gets_a_log_axis_and_a_narrow_one_stays_linear():
    figure = plot_history({"loss": [12000.0, 900.0, 40.0, 3.0], "val_loss": [15000.0, 1100.0, 60.0, 5.0],
                           "mae": [100.0, 30.0, 20.0, 12.0], "r2": [-5.0, 0.2, 0.8, 0.9]})
    assert {ax.get_title(): ax.get_yscale() for ax in figure.axes} == {"loss": "log", "mae": "linear", "r2": "linear"}
    forced = plot_history({"loss": [12000.0, 3.0]}, log_scale=False)
    assert forced.axes[0].get_yscale() == "linear"


def test_the_restored_epoch_is_marked_on_every_subplot():
    figure = plot_history({"loss": [0.9, 0.5, 0.6], "val_loss": [1.0, 0.7, 0.8], "accuracy": [0.5, 0.7, 0.6]},
                          restored_epoch=2)
    for ax in figure.axes:
        marks = [line for line in ax.get_lines() if line.get_label().startswith("restored weights")]
        assert len(marks) == 1 and list(marks[0].get_xdata()) == [2, 2]
        assert "restored weights (epoch 2)" in [text.get_text() for text in ax.get_legend().get_texts()]
    assert all(ax.get_legend() is None for ax in plot_history({"loss": [0.9, 0.5]}).axes)


def test_saved_png_has_the_requested_size_and_real_content(tmp_path):
    from matplotlib.image import imread

    path = tmp_path / "plots" / "curves.png"
    fig = plot_history({"loss": [1.0, 0.6, 0.5], "val_loss": [1.1, 0.9, 0.8], "accuracy": [0.5, 0.7, 0.8]},
                       figsize=(6, 2.5))
    save_figure(fig, path, dpi=80)
    data = path.read_bytes()
    assert png_size(data) == (480, 200)
    pixels = imread(path)
    assert pixels.shape[:2] == (200, 480)
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colours) > 50  # lines, text, antialiasing: not a blank canvas
    assert pixels[..., :3].std() > 0.05
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]  # no temporary file left behind


def test_default_size_and_other_formats(tmp_path):
    fig = plot_history({"loss": [1.0, 0.5]})
    save_figure(fig, tmp_path / "a.png")
    assert png_size((tmp_path / "a.png").read_bytes()) == (500, 350)  # 5 x 3.5 inches at 100 dpi
    save_figure(fig, tmp_path / "a.pdf")
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    save_figure(fig, tmp_path / "a.SVG")
    assert b"<svg" in (tmp_path / "a.SVG").read_bytes()[:1000]


def test_a_failed_render_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"previous")
    fig = plot_history({"loss": [1.0, 0.5]})

    def crash(buffer, **kwargs):
        buffer.write(PNG_SIGNATURE)
        raise RuntimeError("render crashed")

    monkeypatch.setattr(fig, "savefig", crash)
    with pytest.raises(RuntimeError, match="render crashed"):
        save_figure(fig, path)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_save_figure_rejects_bad_arguments(tmp_path):
    fig = plot_history({"loss": [1.0]})
    with pytest.raises(ConfigError, match=r"unknown format '\.jpg'.*\.png, \.pdf, \.svg"):
        save_figure(fig, tmp_path / "a.jpg")
    with pytest.raises(ConfigError, match="dpi"):
        save_figure(fig, tmp_path / "a.png", dpi=0)
    with pytest.raises(ConfigError, match="Received: dict"):
        save_figure({"loss": [1.0]}, tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


# -- plot_confusion_matrix ----------------------------------------------------------------------------------
def matrix_texts(ax, n: int) -> np.ndarray:
    """Cell annotations as an (n, n) array of strings, placed by their (x=column, y=row) position."""
    cells = np.full((n, n), "", dtype=object)
    for text in ax.texts:
        column, row = text.get_position()
        cells[int(row), int(column)] = text.get_text()
    return cells


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_matches_sklearn(rng, normalize):
    y_true, y_pred = rng.integers(4, size=60), rng.integers(4, size=60)
    expected = confusion_matrix(y_true, y_pred, normalize=normalize)
    fig = plot_confusion_matrix(y_true, y_pred, normalize=normalize)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    fmt = (lambda v: str(int(v))) if normalize is None else (lambda v: f"{v:.2f}")
    np.testing.assert_array_equal(matrix_texts(ax, 4), np.vectorize(fmt, otypes=[object])(expected))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("Predicted label", "True label", "Confusion matrix")
    assert len(fig.axes) == 2  # the matrix and its colorbar


def test_string_labels_are_the_tick_labels(rng):
    classes = np.array(["bird", "cat", "dog"])
    y_true, y_pred = classes[rng.integers(3, size=30)], classes[rng.integers(3, size=30)]
    order = ["dog", "cat", "bird"]
    ax = plot_confusion_matrix(y_true, y_pred, labels=order, title="Pets").axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), confusion_matrix(y_true, y_pred, labels=order))
    assert [t.get_text() for t in ax.get_xticklabels()] == order
    assert [t.get_text() for t in ax.get_yticklabels()] == order
    assert ax.get_title() == "Pets"
    ax = plot_confusion_matrix(y_true, y_pred).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bird", "cat", "dog"]


def test_probability_and_one_hot_rows_are_argmaxed(rng):
    y_true = rng.integers(3, size=40)
    probabilities = rng.dirichlet(np.ones(3), size=40)
    one_hot = np.eye(3)[y_true]
    ax = plot_confusion_matrix(one_hot, probabilities).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), confusion_matrix(y_true, probabilities.argmax(axis=1)))


def test_one_sigmoid_column_is_thresholded_at_one_half(rng):
    y_true = rng.integers(2, size=30).astype(np.float32)[:, None]
    scores = rng.random((30, 1))
    ax = plot_confusion_matrix(y_true, scores).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), confusion_matrix(y_true[:, 0], scores[:, 0] > 0.5))


def test_names_for_integer_classes(rng):
    y_true = rng.integers(3, size=30)
    probabilities = rng.dirichlet(np.ones(3), size=30)
    names = ["cat", "dog", "bird"]
    ax = plot_confusion_matrix(np.array(names)[y_true], probabilities, labels=names).axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), confusion_matrix(y_true, probabilities.argmax(axis=1)))
    assert [t.get_text() for t in ax.get_yticklabels()] == names


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_precomputed_matrix_is_normalized_like_sklearn(rng, normalize):
    y_true, y_pred = rng.integers(3, size=25), rng.integers(3, size=25)
    y_pred[y_pred == 2] = 1  # an empty column: its normalized cells are 0, as in scikit-learn
    counts = confusion_matrix(y_true, y_pred, labels=[0, 1, 2])
    ax = plot_confusion_matrix(matrix=counts, labels=["a", "b", "c"], normalize=normalize).axes[0]
    expected = confusion_matrix(y_true, y_pred, labels=[0, 1, 2], normalize=normalize)
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert matrix_texts(ax, 3)[0, 0] == (str(counts[0, 0]) if normalize is None else f"{expected[0, 0]:.2f}")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]


def test_confusion_matrix_png_is_real(tmp_path, rng):
    from matplotlib.image import imread

    fig = plot_confusion_matrix(rng.integers(3, size=30), rng.integers(3, size=30), figsize=(4, 3))
    save_figure(fig, tmp_path / "cm.png", dpi=50)
    assert png_size((tmp_path / "cm.png").read_bytes()) == (200, 150)
    assert imread(tmp_path / "cm.png")[..., :3].std() > 0.05


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(DataError, match="y_true has 3 samples and y_pred has 2"):
        plot_confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(DataError, match=r"square.*\(2, 3\)"):
        plot_confusion_matrix(matrix=[[1, 2, 3], [4, 5, 6]])
    with pytest.raises(DataError, match="non-negative"):
        plot_confusion_matrix(matrix=[[1, -2], [3, 4]])
    with pytest.raises(ConfigError, match=r"normalize='rows'.*'true', 'pred', 'all'"):
        plot_confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ConfigError, match="Did you mean 'pred'"):
        plot_confusion_matrix([0, 1], [0, 1], normalize="preds")
    with pytest.raises(ConfigError, match="not both"):
        plot_confusion_matrix([0, 1], [0, 1], matrix=[[1, 0], [0, 1]])
    with pytest.raises(ConfigError, match="needs both"):
        plot_confusion_matrix([0, 1])
    with pytest.raises(ConfigError, match="3 labels for a matrix of 2"):
        plot_confusion_matrix(matrix=[[1, 0], [0, 1]], labels=["a", "b", "c"])
    with pytest.raises(DataError, match="shape"):
        plot_confusion_matrix(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(DataError, match=r"non-integer values outside \[0, 1\]"):
        plot_confusion_matrix([0.0, 1.0], [0.3, 1.7])
    with pytest.raises(DataError, match="from 0 to 3, but labels names only 2"):
        plot_confusion_matrix([0, 3], [0, 1], labels=["a", "b"])
    with pytest.raises(DataError, match="pass labels="):
        plot_confusion_matrix(["a", "b"], [[0.9, 0.1], [0.2, 0.8]])
