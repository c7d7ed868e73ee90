"""``plot_model`` and ``model_to_dot``: a picture of a model's layer graph.

With pydot and Graphviz installed, the picture is Keras's (the same dot graph). Without them,
``plot_model`` draws the graph itself with matplotlib: one box per layer (name, class, shapes), arrows
from each layer to the layers it feeds, laid out in rows by depth.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nnkit.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_RANKDIRS = ("TB", "LR")


@dataclass
class _Box:
    """One layer as drawn: the label's lines and the indices of the boxes it feeds."""

    layer: Any
    lines: list[str]
    feeds: list[int] = field(default_factory=list)
    depth: int = 0


def _format_shape(shapes: list[tuple]) -> str:
    if not shapes:
        return "?"
    return str(shapes[0]) if len(shapes) == 1 else str(list(shapes))


def _dtype_of(layer: Any, tensors: list[Any]) -> str:
    if tensors:
        return str(tensors[0].dtype)
    parameter = next(iter(layer.parameters()), None) if hasattr(layer, "parameters") else None
    return "?" if parameter is None else str(parameter.dtype).replace("torch.", "")


def _activation(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None or activation == "linear":
        return None
    return getattr(activation, "name", None) or getattr(activation, "__name__", None) or str(activation)


def _lines(layer: Any, inputs: list[tuple] | None, outputs: list[tuple], dtype: str, options: dict) -> list[str]:
    """Keras's label: the title, then activation, shapes, dtype and trainability as asked for."""
    class_name = type(layer).__name__
    lines = [f"{layer.name} ({class_name})" if options["show_layer_names"] else class_name]
    if options["show_layer_activations"] and _activation(layer):
        lines.append(f"Activation: {_activation(layer)}")
    if options["show_shapes"]:
        if class_name != "InputLayer":
            lines.append(f"Input shape: {_format_shape(inputs or [])}")
        lines.append(f"Output shape: {_format_shape(outputs)}")
    if options["show_dtype"]:
        lines.append(f"Output dtype: {dtype}")
    if options["show_trainable"] and list(getattr(layer, "weights", [])):
        lines.append("Trainable" if layer.trainable else "Non-trainable")
    return lines


def layer_graph(model: Any, **options: bool) -> list[_Box]:
    """The boxes of ``model``'s layers, in the model's order, with the edges between them.

    A functional model gives its layers (``InputLayer`` included) joined as their calls are; a Sequential
    model its layers in a chain; any other model one box.
    """
    from nnkit.models.sequential import Sequential  # plot_model draws models: the one upward import, kept lazy

    if model._is_graph():
        own = {id(node) for node in model._nodes}
        boxes: dict[int, _Box] = {}
        for node in model._nodes:
            layer = node.layer
            if id(layer) in boxes:
                continue
            inputs = [tuple(t.shape) for t in node.input_tensors]
            outputs = [tuple(t.shape) for t in node.output_tensors]
            boxes[id(layer)] = _Box(layer, _lines(layer, inputs, outputs, _dtype_of(layer, node.output_tensors),
                                                  options))
        order = list(boxes)
        for node in model._nodes:
            if id(node) not in own:
                continue
            for tensor in node.input_tensors:
                source = tensor._keras_history[0]
                target = order.index(id(node.layer))
                if id(source) in boxes and target not in boxes[id(source)].feeds:
                    boxes[id(source)].feeds.append(target)
        return [boxes[key] for key in order]
    if isinstance(model, Sequential):
        boxes, shape = [], model._input_shape
        for index, layer in enumerate(model.layers):
            output = layer.output_shape
            inputs = [(None, *shape)] if shape is not None else None
            outputs = [(None, *output)] if output is not None and not isinstance(output, list) else []
            boxes.append(_Box(layer, _lines(layer, inputs, outputs, _dtype_of(layer, []), options),
                              [index + 1] if index + 1 < len(model.layers) else []))
            shape = output
        return boxes
    return [_Box(model, _lines(model, None, [], _dtype_of(model, []), options))]


def _check(model: Any, rankdir: str, kwargs: dict) -> None:
    if kwargs.pop("layer_range", None) is not None:
        raise ConfigError("Argument `layer_range` is no longer supported (as in Keras 3).")
    if kwargs:
        raise ConfigError(f"Unrecognized keyword arguments: {sorted(kwargs)}. See help(plot_model) for the options.")
    if rankdir not in _RANKDIRS:
        raise ConfigError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right). Received: rankdir={rankdir!r}.")
    if not getattr(model, "built", True):
        model.build()  # a model that knows its input shape builds now; others raise NotReadyError, saying how


def _pydot() -> Any:
    """pydot when it and the Graphviz programs are installed, else ``None``."""
    try:
        import pydot
    except ImportError:
        return None
    try:
        pydot.Dot.create(pydot.Dot())
    except (OSError, getattr(pydot, "PydotException", OSError)):
        return None
    return pydot


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200, subgraph: bool = False,
                 show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho",
                 **kwargs: Any) -> Any:
    """The layer graph as a ``pydot.Dot`` (Keras's ``keras.utils.model_to_dot``; needs pydot).

    Args: as :func:`plot_model`; ``subgraph`` returns a ``pydot.Cluster`` (for nesting).

    Raises:
        ImportError: pydot is not installed.
        ConfigError: unknown options.
        NotReadyError: the model does not know its input shape yet.
    """
    _check(model, rankdir, kwargs)
    import importlib.util

    if importlib.util.find_spec("pydot") is None:
        raise ImportError("You must install pydot (`pip install pydot`) for model_to_dot to work. plot_model "
                          "draws without it, with matplotlib.")
    import pydot

    options = {"show_shapes": show_shapes, "show_dtype": show_dtype, "show_layer_names": show_layer_names,
               "show_layer_activations": show_layer_activations, "show_trainable": show_trainable}
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
    else:
        dot = pydot.Dot()
        for key, value in (("rankdir", rankdir), ("concentrate", True), ("dpi", dpi), ("splines", splines)):
            dot.set(key, value)
        dot.set_node_defaults(shape="record")
    boxes = layer_graph(model, **options)
    for box in boxes:
        rows = "".join(f'<tr><td bgcolor="white"><font point-size="14">{line}</font></td></tr>' for line in box.lines[1:])
        label = ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10"><tr><td bgcolor="black">'
                 f'<font point-size="16" color="white"><b>{box.lines[0]}</b></font></td></tr>{rows}</table>>')
        node = pydot.Node(str(id(box.layer)), label=label)
        for key, value in (("fontname", "Helvetica"), ("border", "0"), ("margin", "0")):
            node.set(key, value)
        dot.add_node(node)
    for box in boxes:
        for target in box.feeds:
            dot.add_edge(pydot.Edge(str(id(box.layer)), str(id(boxes[target].layer))))
    return dot


def plot_model(model: Any, to_file: str | os.PathLike[str] = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = False, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200, show_layer_activations: bool = False,
               show_trainable: bool = False, splines: str = "ortho", **kwargs: Any) -> Figure | None:
    """Draw a model's layer graph to an image file (Keras's ``keras.utils.plot_model``).

    With pydot and Graphviz installed the file is Keras's rendering. Without them nnkit draws the graph
    with matplotlib instead (Keras raises ``ImportError``): a box per layer with Keras's label lines,
    arrows between the layers, rows by depth from the inputs (``'TB'``) or columns (``'LR'``). Nested models
    are one box either way (``expand_nested`` is accepted for Keras compatibility).

    Args:
        model: A built Sequential or functional model (any other model is one box).
        to_file: Image file; its suffix picks the format (``.png``, ``.pdf``, ``.svg``).
        show_shapes: Show each layer's input and output shapes.
        show_dtype: Show each layer's output dtype.
        show_layer_names: Show layer names beside their class.
        rankdir: ``'TB'`` (vertical) or ``'LR'`` (horizontal).
        expand_nested: Draw nested models' layers (Graphviz path only).
        dpi: Resolution of the image.
        show_layer_activations: Show the activation of layers that have one.
        show_trainable: Show whether each layer with weights is trainable.
        splines: Graphviz edge style (Graphviz path only).

    Returns:
        The matplotlib ``Figure`` when matplotlib drew it, else ``None``.

    Raises:
        ConfigError: unknown options or a bad ``rankdir``.
        NotReadyError: the model does not know its input shape yet (build it, or start it with an ``Input``).

    Example:
        >>> plot_model(model, "model.png", show_shapes=True)  # doctest: +SKIP
    """
    _check(model, rankdir, kwargs)
    if _pydot() is not None:
        dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                           rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                           show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                           splines=splines)
        extension = os.path.splitext(os.fspath(to_file))[1][1:] or "png"
        dot.write(os.fspath(to_file), format=extension)
        return None
    boxes = layer_graph(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                        show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    figure = draw_graph(boxes, rankdir)
    from nnkit.utils.plotting import save_figure

    largest = max(figure.get_size_inches())  # a deep model's figure is tall: keep the image under 20000 pixels
    save_figure(figure, to_file, dpi=min(dpi, 20000 / largest))
    return figure


def _depths(boxes: list[_Box]) -> None:
    """Each box's depth: the longest path to it from a box nothing feeds."""
    for index, box in enumerate(boxes):  # boxes come in call order, so a box's sources precede it
        for target in box.feeds:
            if target > index:
                boxes[target].depth = max(boxes[target].depth, box.depth + 1)


def draw_graph(boxes: list[_Box], rankdir: str = "TB") -> Figure:
    """A matplotlib figure of ``boxes``: one rounded box per layer, one arrow per edge."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from nnkit.utils.plotting import _new_figure

    _depths(boxes)
    ranks: dict[int, list[int]] = {}
    for index, box in enumerate(boxes):
        ranks.setdefault(box.depth, []).append(index)
    chars = max(len(line) for box in boxes for line in box.lines)
    rows = max(len(box.lines) for box in boxes)
    box_w, box_h = 0.08 * chars + 0.4, 0.28 * rows + 0.3  # inches, for 9-point text
    gap_w, gap_h = box_w + 0.5, box_h + 0.6
    widest = max(len(members) for members in ranks.values())
    across, along = widest * gap_w, len(ranks) * gap_h
    if rankdir == "LR":
        across, along = len(ranks) * gap_w, widest * gap_h
    figure = _new_figure((max(across, 2.0), max(along, 1.0)))
    figure.set_layout_engine("none")
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, max(across, 2.0))
    ax.set_ylim(0, max(along, 1.0))
    ax.set_axis_off()
    centres: dict[int, tuple[float, float]] = {}
    for depth, members in ranks.items():
        for slot, index in enumerate(members):
            offset = (slot - (len(members) - 1) / 2)
            if rankdir == "TB":
                centres[index] = (max(across, 2.0) / 2 + offset * gap_w, max(along, 1.0) - (depth + 0.5) * gap_h)
            else:
                centres[index] = ((depth + 0.5) * gap_w, max(along, 1.0) / 2 - offset * gap_h)
    for index, box in enumerate(boxes):
        x, y = centres[index]
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h, boxstyle="round,pad=0.02",
                                    facecolor="white", edgecolor="black", linewidth=1.0, gid=f"layer:{box.layer.name}"))
        ax.text(x, y, "\n".join(box.lines), ha="center", va="center", fontsize=9, family="monospace")
    for index, box in enumerate(boxes):
        for target in box.feeds:
            (x0, y0), (x1, y1) = centres[index], centres[target]
            ax.add_patch(FancyArrowPatch(_edge(x0, y0, x1, y1, box_w, box_h), _edge(x1, y1, x0, y0, box_w, box_h),
                                         arrowstyle="-|>", mutation_scale=12, color="black", linewidth=1.0))
    return figure


def _edge(x: float, y: float, to_x: float, to_y: float, width: float, height: float) -> tuple[float, float]:
    """Where the line from a box's centre ``(x, y)`` towards ``(to_x, to_y)`` leaves the box."""
    dx, dy = to_x - x, to_y - y
    if dx == 0 and dy == 0:
        return x, y
    scale = min(width / 2 / abs(dx) if dx else math.inf, height / 2 / abs(dy) if dy else math.inf)
    return x + dx * scale, y + dy * scale
