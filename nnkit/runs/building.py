"""A validated config -> arrays, a built and compiled model, callbacks and fit arguments.

:func:`prepare` finishes validation: it loads the data, builds every layer for the data's shape (on
PyTorch's ``meta`` device first, so a model too large for memory is refused before anything is allocated),
compiles, and runs the model once on a few training samples, so a wrong number of output units or a
metric that cannot read the outputs is reported before training starts.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnkit.errors import ConfigError, DataError, NnkitError
from nnkit.runs import specs
from nnkit.runs.loading import apply_overrides
from nnkit.runs.schema import validate_config

#: Largest model a config may build (weights and buffers); 250 million floats is 1 GB.
MAX_PARAMETERS = 250_000_000

#: Names of the preprocessing layers put in front of the config's layers.
PREPROCESSING = {"reshape": "input_reshape", "rescale": "input_rescaling", "standardize": "input_normalization"}

_BINARY_LOSSES = ("BinaryCrossentropy", "Hinge", "SquaredHinge")
_SPARSE_LOSSES = ("SparseCategoricalCrossentropy",)


@dataclass
class RunData:
    """The arrays of a run after the train/test split.

    Attributes:
        x_train, x_test: Inputs as loaded (preprocessing happens inside the model).
        labels_train, labels_test: Class ids (classification) or targets ``(n, outputs)`` (regression).
        y_train, y_test: What the model trains on: ids, one-hot rows or a 0/1 column, as the loss needs.
        classes: Class names in id order (JSON-ready), ``None`` for regression.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    labels_train: np.ndarray
    labels_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    classes: list[Any] | None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        classes = f", classes={self.classes!r:.80}" if self.classes is not None else ""
        return (f"RunData(train={len(self.x_train)}, test={len(self.x_test)}, input_shape={self.input_shape}, "
                f"y_shape={tuple(self.y_train.shape[1:])}{classes})")


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


# -- data ---------------------------------------------------------------------------------------------
def load_arrays(data: dict[str, Any], base_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from ``data.dataset`` (with ``data.options``) or ``data.path`` (with ``data.target``).

    Raises:
        ConfigError: the dataset or an option is unknown or unusable; DataError: the data cannot be used.
    """
    from nnkit import datasets

    where = ("data.options" if data["options"] else "data.dataset") if data["dataset"] is not None else "data.path"
    try:
        if data["dataset"] is not None:
            x, y = datasets.load(data["dataset"], **data["options"])
        else:
            if data["options"]:
                raise ConfigError("data.options: options belong to a named `dataset`; a file (`path`) takes only "
                                  "`target`. Remove data.options.")
            path = data["path"]
            if base_dir and not os.path.isabs(path) and not os.path.exists(path):
                path = os.path.join(base_dir, path)  # relative to the config file
            x, y = datasets.load_file(path, target=data["target"])
    except NnkitError as exc:
        raise type(exc)(f"{where}: {exc}") from exc
    except FileNotFoundError as exc:
        raise DataError(f"{where}: {exc}") from exc
    except Exception as exc:  # a loader fed odd options: the config is what is wrong
        raise ConfigError(f"data.options: loading {data['dataset'] or data['path']!r} failed: "
                          f"{type(exc).__name__}: {exc}") from exc
    if y is None:
        raise ConfigError(f"data.target: {data['path']!r} holds no targets; name the label column with "
                          "data.target (a .csv header name or index), or store `y` in the .npz file.")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or len(x) != len(y):
        raise DataError(f"{where}: expected X of shape (n_samples, ...) and one target per sample; received X of "
                        f"shape {x.shape} and y of shape {y.shape}.")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise DataError(f"{where}: the inputs must be finite numbers; they hold "
                        f"{'NaN or infinite values' if np.issubdtype(x.dtype, np.number) else x.dtype}.")
    return x, y


def _encode(y: np.ndarray, task: str, loss: Any) -> tuple[np.ndarray, list[Any] | None]:
    """Labels -> class ids with the class names, or targets -> float32 ``(n, outputs)``."""
    if task == "regression":
        if not np.issubdtype(y.dtype, np.number):
            raise DataError(f"data: a regression needs numeric targets, but they are {y.dtype}. Use a classification "
                            "loss (e.g. sparse_categorical_crossentropy) or set task: classification.")
        y = y.astype(np.float32)
        return (y[:, None] if y.ndim == 1 else y.reshape(len(y), -1)), None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"data: a classifier needs one label per sample, but the targets have shape {y.shape}.")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise DataError("data: the targets are fractional numbers, which are not class labels. Use a regression "
                        "loss (e.g. mse) or set task: regression.")
    classes, ids = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"data: a classifier needs at least two classes; the labels hold only {classes.tolist()}.")
    names = [c.item() if hasattr(c, "item") else c for c in classes]
    return ids.astype(np.int64), names


def encode_for_loss(ids: np.ndarray, n_classes: int, loss: Any) -> np.ndarray:
    """Class ids in the encoding ``loss`` trains on."""
    kind = type(loss).__name__
    if kind in _SPARSE_LOSSES:
        return ids
    if kind in _BINARY_LOSSES:
        if n_classes != 2:
            raise ConfigError(f"compile.loss: {kind} needs two classes, but the data has {n_classes}. Use "
                              "sparse_categorical_crossentropy with a softmax output of one unit per class.")
        return ids.astype(np.float32)[:, None]
    return np.eye(n_classes, dtype=np.float32)[ids]


def split_data(config: dict[str, Any], x: np.ndarray, y: np.ndarray, loss: Any) -> RunData:
    """Subsample (``data.limit``), encode the labels and hold out ``data.test_size`` (stratified for
    classifiers) with ``random_state=seed``."""
    from sklearn.model_selection import train_test_split

    data, seed, task = config["data"], config["seed"], config["task"]
    if data["limit"] is not None and data["limit"] < len(x):
        keep = np.sort(np.random.default_rng(seed).choice(len(x), data["limit"], replace=False))
        x, y = x[keep], y[keep]
    labels, classes = _encode(y, task, loss)
    try:
        x_train, x_test, l_train, l_test = train_test_split(
            x, labels, test_size=data["test_size"], random_state=seed, stratify=labels if classes else None)
    except ValueError as exc:
        raise DataError(f"data.test_size: cannot hold out {data['test_size']} of {len(x)} samples"
                        + (" with every class on both sides" if classes else "") + f" ({exc}). Use more samples "
                        "(raise or remove data.limit) or another test_size.") from None
    if classes is None:
        return RunData(x_train, x_test, l_train, l_test, l_train, l_test, None)
    y_train, y_test = (encode_for_loss(ids, len(classes), loss) for ids in (l_train, l_test))
    return RunData(x_train, x_test, l_train, l_test, y_train, y_test, classes)


def preprocessing_layers(data_config: dict[str, Any], x_train: np.ndarray) -> list[Any]:
    """``Reshape``, ``Rescaling`` and an adapted ``Normalization`` as ``data`` asks, in that order, so a saved
    model takes the raw inputs (flat CSV rows too)."""
    from nnkit.layers import Normalization, Rescaling, Reshape

    layers: list[Any] = []
    sample = x_train.astype(np.float32)
    if data_config["reshape"] is not None:
        target = data_config["reshape"]
        layers.append(specs.construct(Reshape, {"target_shape": tuple(target), "name": PREPROCESSING["reshape"]},
                                      "data.reshape", "Reshape"))
        try:
            sample = sample.reshape(len(sample), *target)
        except ValueError:
            raise ConfigError(f"data.reshape: cannot reshape samples of shape {x_train.shape[1:]} "
                              f"({int(np.prod(x_train.shape[1:]))} values) to {target}.") from None
    if data_config["rescale"] is not None:
        layers.append(Rescaling(data_config["rescale"], name=PREPROCESSING["rescale"]))
        sample = sample * np.float32(data_config["rescale"])
    if data_config["standardize"]:
        norm = Normalization(axis=-1, name=PREPROCESSING["standardize"])
        norm.adapt(sample)
        layers.append(norm)
    return layers


# -- model ---------------------------------------------------------------------------------------------
def _where(i: int, n_pre: int, config: dict[str, Any]) -> str:
    if i < n_pre:
        return "data (preprocessing)"
    entry = config["model"]["layers"][i - n_pre]
    kind = entry if isinstance(entry, str) else entry.get("type", entry.get("class_name"))
    return f"model.layers[{i - n_pre}] ({kind})"


def _attach_all(layers: list[Any], input_shape: tuple[int, ...], n_pre: int, config: dict[str, Any]) -> int:
    """Build each layer for the shape the previous one outputs; returns the number of weights."""
    import torch

    shape, total = input_shape, 0
    for i, layer in enumerate(layers):
        try:
            shape = layer.attach(shape)
        except Exception as exc:
            raise ConfigError(f"{_where(i, n_pre, config)}: {_message(exc)}") from exc
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
    layers = [specs.make_layer(copy.deepcopy(entry), f"model.layers[{i}]", names)
              for i, entry in enumerate(config["model"]["layers"])]
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
        A :class:`Run` ready for :func:`nnkit.runs.train` or :func:`nnkit.runs.search`.

    Raises:
        ConfigError, DataError: the first problem, with its config path.
    """
    from nnkit.utils import set_random_seed

    if not validated:
        stem = os.path.splitext(os.path.basename(source))[0] if source else "model"
        config = validate_config(config, default_name=stem)
    base_dir = os.path.dirname(os.path.abspath(source)) if source else None
    x, y = load_arrays(config["data"], base_dir)
    loss = specs.make_loss(copy.deepcopy(config["compile"]["loss"]))
    data = split_data(config, x, y, loss)
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
