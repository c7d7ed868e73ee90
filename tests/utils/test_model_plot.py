"""plot_model: Keras's picture with pydot + Graphviz, else a matplotlib drawing of the layer graph."""

from __future__ import annotations

import importlib.util

import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import nnkit
from nnkit.errors import ConfigError, NotReadyError
from nnkit.layers import Concatenate, Dense, Input
from nnkit.models import Sequential
from nnkit.utils import model_plot, model_to_dot, plot_model


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(model_plot, "_pydot", lambda: None)


def _boxes(figure):
    ax = figure.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return boxes, arrows, [t.get_text() for t in ax.texts]


def _two_inputs():
    a, b = Input(shape=(4,), name="a"), Input(shape=(2,), name="b")
    hidden = Dense(3, activation="relu", name="hidden")(a)
    joined = Concatenate(name="joined")([hidden, b])
    return nnkit.Model([a, b], Dense(1, name="out")(joined), name="two_inputs")


def test_a_functional_model_gets_one_box_per_layer_and_one_arrow_per_connection(tmp_path, no_graphviz):
    model = _two_inputs()
    figure = plot_model(model, tmp_path / "model.png", show_shapes=True, show_layer_names=True,
                        show_layer_activations=True, show_dtype=True)
    assert (tmp_path / "model.png").read_bytes().startswith(b"\x89PNG")
    boxes, arrows, texts = _boxes(figure)
    assert [b.get_gid() for b in boxes] == [f"layer:{layer.name}" for layer in model.layers]
    assert len(arrows) == 4  # a->hidden, hidden->joined, b->joined, joined->out
    joined = next(t for t in texts if t.startswith("joined"))
    assert joined.splitlines() == ["joined (Concatenate)", "Input shape: [(None, 3), (None, 2)]",
                                   "Output shape: (None, 5)", "Output dtype: float32"]
    hidden = next(t for t in texts if t.startswith("hidden"))
    assert "Activation: relu" in hidden
    a_box = next(t for t in texts if t.startswith("a "))
    assert "Input shape" not in a_box and "Output shape: (None, 4)" in a_box  # Keras's InputLayer label


def test_a_sequential_model_is_a_chain_and_rows_follow_rankdir(tmp_path, no_graphviz):
    model = Sequential([Input(shape=(8,)), Dense(4), Dense(2, trainable=False)])
    figure = plot_model(model, tmp_path / "seq.svg", show_shapes=True, show_trainable=True, rankdir="LR")
    assert (tmp_path / "seq.svg").read_text().lstrip().startswith("<?xml")
    boxes, arrows, texts = _boxes(figure)
    assert len(boxes) == len(model.layers) == 2 and len(arrows) == 1
    assert texts[0].splitlines() == ["Dense", "Input shape: (None, 8)", "Output shape: (None, 4)", "Trainable"]
    assert texts[1].splitlines()[-1] == "Non-trainable"
    first, second = (b.get_x() for b in boxes)
    assert second > first  # left to right
    boxes_tb, _, _ = _boxes(plot_model(model, tmp_path / "tb.png"))
    assert boxes_tb[1].get_y() < boxes_tb[0].get_y()  # top to bottom


def test_bad_options_and_unbuilt_models_are_refused(tmp_path, no_graphviz):
    model = _two_inputs()
    with pytest.raises(ConfigError, match="rankdir must be 'TB'"):
        plot_model(model, tmp_path / "m.png", rankdir="BT")
    with pytest.raises(ConfigError, match=r"Unrecognized keyword arguments: \['show_colors'\]"):
        plot_model(model, tmp_path / "m.png", show_colors=True)
    with pytest.raises(NotReadyError, match="does not know its input shape yet"):
        plot_model(Sequential([Dense(2)]), tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


@pytest.mark.skipif(importlib.util.find_spec("pydot") is not None, reason="pydot is installed")
def test_model_to_dot_needs_pydot():
    with pytest.raises(ImportError, match="pip install pydot"):
        model_to_dot(_two_inputs())


@pytest.mark.skipif(model_plot._pydot() is None, reason="needs pydot and the Graphviz programs")
def test_with_graphviz_the_file_is_keras_rendering(tmp_path):
    model = _two_inputs()
    assert plot_model(model, tmp_path / "model.png", show_shapes=True) is None
    assert (tmp_path / "model.png").read_bytes().startswith(b"\x89PNG")
    dot = model_to_dot(model)
    assert len(dot.get_nodes()) == len(model.layers) and len(dot.get_edges()) == 4
