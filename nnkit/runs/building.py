"""A validated config -> its data, a built and compiled model, callbacks and fit arguments.

:func:`prepare` finishes validation: it loads the data, builds every layer for the data's shape (on
PyTorch's ``meta`` device first, so a model too large for memory is refused before anything is allocated),
compiles, and runs the model once on a few training samples, so a wrong number of output units or a
metric that cannot read the outputs is reported before training starts.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

from nnkit.errors import ConfigError, NnkitError
from nnkit.runs import specs
from nnkit.runs.data import PREPROCESSING, RunData, load_arrays, preprocessing_layers, resolve_data_path, split_data
from nnkit.runs.loading import apply_overrides
from nnkit.runs.schema import validate_config

#: Largest model a config may build (weights and buffers); 250 million floats is 1 GB.
MAX_PARAMETERS = 250_000_000

#: The layer arguments that declare the input shape, Keras-style.
SHAPE_ARGUMENTS = ("input_shape", "input_dim", "batch_input_shape")


@dataclass
class Run:
    """Everything a run needs, validated: the config with defaults, the data and the compiled model.

    Attributes:
        config: The validated config (``config.yaml`` of the run folder).
        data: The split arrays.
        model: The built, compiled ``Sequential``.
        source: The config file, if the config came from one.
        preprocessing: The data-derived layers in front of the config's layers (reused by searches).
    """

    config: dict[str, Any]
    data: RunData
    model: Any
    source: str | None = None
    preprocessing: list[Any] = field(default_factory=list)

    @property
    def task(self) -> str:
        """``'classification'`` or ``'regression'``."""
        return self.config["task"]

    def callbacks(self, run_dir: str | None) -> list[Any]:
        """Fresh callbacks from ``fit.callbacks``; relative file paths are placed in ``run_dir``."""
        return [specs.make_callback(copy.deepcopy(entry), f"fit.callbacks[{i}]", run_dir)
                for i, entry in enumerate(self.config["fit"]["callbacks"])]

    def fit_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``Sequential.fit`` besides data and callbacks."""
        fit = self.config["fit"]
        arguments = {key: fit[key] for key in ("epochs", "batch_size", "validation_split", "validation_freq",
                                                "verbose", "shuffle")}
        arguments["class_weight"] = class_weights(fit["class_weight"], self.data.classes)
        return arguments

    def __repr__(self) -> str:
        return (f"Run(model={self.config['model']['name']!r}, task={self.task!r}, train={len(self.data.x_train)}, "
                f"test={len(self.data.x_test)}, source={self.source!r})")


def class_weights(value: Any, classes: list[Any] | None) -> Any:
    """``fit.class_weight`` keyed by class name -> keyed by class id (``'balanced'`` stays)."""
    if value is None or value == "balanced":
        return value
    ids = {str(name): i for i, name in enumerate(classes or [])}
    weights = {}
    for label, weight in value.items():
        if str(label) not in ids:
            raise ConfigError(f"fit.class_weight.{label}: {label!r} is not a class of the data; the classes are "
                              f"{', '.join(map(str, classes or []))}.")
        weights[ids[str(label)]] = float(weight)
    return weights


# -- model ---------------------------------------------------------------------------------------------
def _entry(i: int, n_pre: int, config: dict[str, Any]) -> Any:
    return config["model"]["layers"][i - n_pre] if i >= n_pre else None


def _where(i: int, n_pre: int, config: dict[str, Any]) -> str:
    if i < n_pre:
        return "data (preprocessing)"
    entry = _entry(i, n_pre, config)
    kind = entry if isinstance(entry, str) else entry.get("type", entry.get("class_name"))
    return f"model.layers[{i - n_pre}] ({kind})"


def _layer_error(i: int, n_pre: int, config: dict[str, Any], exc: BaseException) -> ConfigError:
    """A build error at the layer's path, or at its argument when the message names one of the config's."""
    entry = _entry(i, n_pre, config)
    if not isinstance(entry, dict):
        return ConfigError(f"{_where(i, n_pre, config)}: {_message(exc)}")
    kind = entry.get("type", entry.get("class_name"))
    return ConfigError(specs.located(f"model.layers[{i - n_pre}]", str(kind), _message(exc), entry))


def _check_declared_shape(layer: Any, shape: tuple[int, ...], i: int, n_pre: int, input_shape: tuple[int, ...],
                          config: dict[str, Any]) -> None:
    """A layer's ``input_shape`` (``input_dim``, ``batch_input_shape``) must be the shape it receives."""
    declared = getattr(layer, "declared_input_shape", None)
    entry = _entry(i, n_pre, config)
    if declared is None or tuple(declared) == tuple(shape) or not isinstance(entry, dict):
        return
    key = next((k for k in SHAPE_ARGUMENTS if entry.get(k) is not None), "input_shape")
    where = f"model.layers[{i - n_pre}].{key}"
    if i > n_pre:
        what = f"the shape this layer receives from model.layers[{i - n_pre - 1}], {shape}"
    elif tuple(shape) == tuple(input_shape):
        what = f"the data's sample shape {shape}"
    else:
        what = f"the shape this layer receives, {shape} (the data's samples of shape {input_shape} after data.reshape)"
    raise ConfigError(f"{where}: {json.dumps(entry[key])} does not match {what}. Remove {key}: the input shape "
                      "comes from the data.")


def _attach_all(layers: list[Any], input_shape: tuple[int, ...], n_pre: int, config: dict[str, Any]) -> int:
    """Build each layer for the shape the previous one outputs; returns the number of weights."""
    import torch

    shape, total = input_shape, 0
    for i, layer in enumerate(layers):
        _check_declared_shape(layer, shape, i, n_pre, input_shape, config)
        try:
            shape = layer.attach(shape)
        except Exception as exc:
            raise _layer_error(i, n_pre, config, exc) from exc
        module = layer.module
        total += sum(t.numel() for t in (*module.parameters(), *module.buffers()) if isinstance(t, torch.Tensor))
    return total


def build_model(config: dict[str, Any], input_shape: tuple[int, ...], preprocessing: list[Any]) -> Any:
    """The compiled ``Sequential`` of a validated config, for samples of ``input_shape``.

    Raises:
        ConfigError: a layer cannot be built for its input (``model.layers[3] (Dense): ...``), the model
            would exceed :data:`MAX_PARAMETERS`, or compiling fails.
    """
    import torch

    from nnkit.models import Sequential

    pre = [copy.deepcopy(layer) for layer in preprocessing]
    names = specs.LayerNames([*specs.given_layer_names(config["model"]["layers"]), *PREPROCESSING.values()])
    entries = copy.deepcopy(config["model"]["layers"])
    wiring = specs.layer_inputs(entries, "model.layers")
    layers = [specs.make_layer(entry, f"model.layers[{i}]", names) for i, entry in enumerate(entries)]
    if any(sources is not None for sources in wiring):
        return _compiled(_graph_model(config, input_shape, pre, layers, wiring), config)
    probe = copy.deepcopy([*pre, *layers])
    try:
        with torch.device("meta"):
            count = _attach_all(probe, input_shape, len(pre), config)
    except ConfigError:
        count = 0  # some layers cannot be built on the meta device; the real build below reports real errors
    if count > MAX_PARAMETERS:
        raise ConfigError(f"model: the layers would hold {count:,} weights ({count * 4 / 2**30:.1f} GB), more than "
                          f"the {MAX_PARAMETERS:,} a run allows. Use fewer units or filters.")
    _attach_all([*pre, *layers], input_shape, len(pre), config)
    model = Sequential(name=config["model"]["name"])
    for i, layer in enumerate([*pre, *layers]):
        try:
            model.add(layer)
        except NnkitError as exc:
            raise ConfigError(f"{_where(i, len(pre), config)}: {exc}") from exc
    try:
        model.build((None, *input_shape))
    except Exception as exc:  # every layer built above; what is left is how they connect
        raise ConfigError(f"model: {_message(exc)}") from exc
    return _compiled(model, config)


def _graph_model(config: dict[str, Any], input_shape: tuple[int, ...], pre: list[Any], layers: list[Any],
                 wiring: list[list[str] | None]) -> Any:
    """A functional model from layers whose ``inputs:`` name the model input or earlier layers (a layer
    without ``inputs:`` reads the one before it); the last layer is the output."""
    from nnkit.layers import Input
    from nnkit.models import Model

    source = tensor = Input(shape=input_shape, name=specs.MODEL_INPUT)
    for layer in pre:  # data preprocessing (e.g. standardization) leads the model, as in a Sequential config
        tensor = layer(tensor)
    made = {specs.MODEL_INPUT: tensor}
    for i, (layer, sources) in enumerate(zip(layers, wiring)):
        feed = tensor if sources is None else made[sources[0]] if len(sources) == 1 else [made[s] for s in sources]
        try:
            tensor = layer(feed)
        except Exception as exc:
            raise _layer_error(i + len(pre), len(pre), config, exc) from exc
        made[layer.name] = tensor
    try:
        model = Model(source, tensor, name=config["model"]["name"])
    except NnkitError as exc:
        raise ConfigError(f"model: {exc}") from exc
    if model.count_params() > MAX_PARAMETERS:
        raise ConfigError(f"model: the layers hold {model.count_params():,} weights, more than the "
                          f"{MAX_PARAMETERS:,} a run allows. Use fewer units or filters.")
    return model


def _compiled(model: Any, config: dict[str, Any]) -> Any:
    """``model`` compiled with the config's optimizer, loss and metrics."""
    compile_config = config["compile"]
    metrics = [specs.make_metric(copy.deepcopy(entry), f"compile.metrics[{i}]")
               for i, entry in enumerate(compile_config["metrics"])]
    optimizer = specs.make_optimizer(copy.deepcopy(compile_config["optimizer"]))
    loss = specs.make_loss(copy.deepcopy(compile_config["loss"]))
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except Exception as exc:  # compile only checks the config's values
        raise ConfigError(f"compile: {_message(exc)}") from exc
    return model


def _message(exc: BaseException) -> str:
    """An exception's text, with its type when it is not one of nnkit's own errors."""
    return str(exc) if isinstance(exc, NnkitError) else f"{type(exc).__name__}: {exc}"


def _check_outputs(model: Any, data: RunData, config: dict[str, Any]) -> None:
    """The last layer's units against the classes (or targets), then one forward pass on a few samples."""
    units = model.output_shape[1:]
    last = f"model.layers[{len(config['model']['layers']) - 1}]"
    if data.classes is not None:
        needed = 1 if data.y_train.ndim == 2 and data.y_train.shape[1] == 1 else len(data.classes)
        if units != (needed,):
            raise ConfigError(f"{last}: the model outputs {units} per sample, but the data has {len(data.classes)} "
                              f"classes, so the last layer needs units: {needed}"
                              + (" (sigmoid)" if needed == 1 else " (softmax)") + ".")
    elif units != tuple(data.y_train.shape[1:]):
        raise ConfigError(f"{last}: the model outputs {units} per sample, but the targets have shape "
                          f"{tuple(data.y_train.shape[1:])}; give the last layer units: {data.y_train.shape[1]}.")
    try:
        model.evaluate(data.x_train[:8], data.y_train[:8], verbose=0)
    except NnkitError as exc:
        raise type(exc)(f"model: does not fit the data: {exc}") from exc
    except Exception as exc:  # a model built from the config that cannot run on its data is a config problem
        raise ConfigError(f"model: running it on 8 training samples failed: {_message(exc)}") from exc


def prepare(config: dict[str, Any], source: str | None = None, *, validated: bool = False) -> Run:
    """Validate ``config`` completely (data and model included) without training.

    Args:
        config: A parsed config (see :func:`nnkit.runs.load_config`).
        source: The config file, for relative data paths and the default model name.
        validated: ``config`` already went through :func:`~nnkit.runs.schema.validate_config`.

    Returns:
        A :class:`Run` ready for :func:`nnkit.runs.train` or :func:`nnkit.runs.search`. Its config holds
        ``data.path`` as an absolute path, so the run folder's ``config.yaml`` works from anywhere.

    Raises:
        ConfigError, DataError: the first problem, with its config path.
    """
    from nnkit.utils import set_random_seed

    if not validated:
        stem = os.path.splitext(os.path.basename(source))[0] if source else "model"
        config = validate_config(config, default_name=stem)
    if config["data"]["path"] is not None:
        base_dir = os.path.dirname(os.path.abspath(source)) if source else None
        config = {**config, "data": {**config["data"], "path": resolve_data_path(config["data"]["path"], base_dir)}}
    x, y, columns = load_arrays(config["data"])
    loss = specs.make_loss(copy.deepcopy(config["compile"]["loss"]))
    data = split_data(config, x, y, loss)
    data.columns = columns
    class_weights(config["fit"]["class_weight"], data.classes)
    preprocessing = preprocessing_layers(config["data"], data.x_train)
    set_random_seed(config["seed"])
    model = build_model(config, data.input_shape, preprocessing)
    _check_outputs(model, data, config)
    set_random_seed(config["seed"])
    return Run(config, data, model, source, preprocessing)


def with_overrides(run: Run, overrides: dict[str, Any]) -> dict[str, Any]:
    """The run's config with ``{path: value}`` overrides applied and validated again."""
    return validate_config(apply_overrides(run.config, overrides), run.config["model"]["name"])


def open_run(path: str, overrides: Any = ()) -> Run:
    """Read, override, validate and prepare the config at ``path``: everything short of training.

    Raises:
        ConfigError, DataError: ``'<file>: <config path>: <what is wrong>'``.
    """
    from nnkit.runs.schema import load_config

    config = load_config(path, overrides)
    try:
        return prepare(config, source=path, validated=True)
    except NnkitError as exc:
        raise type(exc)(f"{path}: {exc}") from exc
