"""Validation of a run config: every section, key and common value, before any data is loaded.

:func:`validate_config` returns the config with every default filled in (what ``config.yaml`` in a run
folder records), or raises :class:`~nnkit.errors.ConfigError` naming the path of the first bad field:
``fit.epocs: unknown setting. Did you mean 'epochs'?`` or ``model.layers[2].units: expected a positive
integer, got -3``. Layers, optimizer, loss, metrics and callbacks are constructed here, so their own
checks run too; building the model needs the data's shape and happens in :mod:`nnkit.runs.building`.
"""

from __future__ import annotations

import copy
import string
from typing import Any

from nnkit.errors import ConfigError
from nnkit.registry import closest
from nnkit.runs import specs
from nnkit.runs.checks import (
    Checker,
    boolean,
    check_keys,
    choice,
    fraction,
    is_int,
    is_number,
    mapping,
    non_negative_int,
    optional,
    positive_int,
    received,
    text,
)
from nnkit.runs.loading import DEFAULT_OPTIMIZER, apply_overrides, format_path, parse_path

TASKS = ("classification", "regression")
SEARCH_METHODS = ("grid", "random")
DISTRIBUTIONS = ("loguniform", "uniform", "randint")
#: Config sections a search may tune; the data is loaded once for every candidate.
SEARCHABLE = ("model", "compile", "fit")
DEFAULT_OUTPUT = "runs/{stem}-{timestamp}"
OUTPUT_FIELDS = ("name", "stem", "timestamp")
#: Loss families that make a run a classifier when ``task`` is not given.
CLASSIFICATION_LOSSES = ("crossentropy", "cross_entropy", "hinge")


def _section(config: dict[str, Any], name: str, fields: dict[str, tuple[Checker, Any]],
             required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check one section against ``{key: (checker, default)}`` and fill in the defaults."""
    raw = config.get(name)
    if raw is None:
        raw = {}
    mapping(raw, name)
    check_keys(raw, list(fields), name)
    for key in required:
        if key not in raw:
            raise ConfigError(f"{name}.{key}: this setting is required (see configs/README.md).")
    return {key: (checker(raw[key], f"{name}.{key}") if key in raw else copy.deepcopy(default))
            for key, (checker, default) in fields.items()}


# -- sections ------------------------------------------------------------------------------------------
def _reshape(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(is_int(v) and (v > 0 or v == -1) for v in value):
        raise ConfigError(f"{where}: expected a list of positive integers (one may be -1), e.g. [8, 8, 1], "
                          f"got {received(value)}.")
    return value


def _test_size(value: Any, where: str) -> float:
    if not (is_number(value) and 0 < value < 1):
        raise ConfigError(f"{where}: expected a fraction in (0, 1) of the samples to hold out, e.g. 0.2, "
                          f"got {received(value)}.")
    return value


def _rescale(value: Any, where: str) -> float:
    if not is_number(value) or value == 0:
        raise ConfigError(f"{where}: expected a non-zero number that multiplies the inputs (e.g. 0.0625 for "
                          f"pixels 0..16), got {received(value)}.")
    return value


def _target(value: Any, where: str) -> str | int:
    if not (isinstance(value, str) and value) and not is_int(value):
        raise ConfigError(f"{where}: expected a column name or index, got {received(value)}.")
    return value


DATA_FIELDS: dict[str, tuple[Checker, Any]] = {
    "dataset": (optional(text), None), "path": (optional(text), None), "target": (optional(_target), None),
    "header": (optional(boolean), None), "options": (mapping, {}), "test_size": (_test_size, 0.2), "standardize": (boolean, False),
    "rescale": (optional(_rescale), None), "reshape": (optional(_reshape), None), "limit": (optional(positive_int), None),
}


def _data(config: dict[str, Any]) -> dict[str, Any]:
    if "data" not in config:
        raise ConfigError("data: this section is required; it names the data, e.g. data: {dataset: iris} "
                          "or data: {path: table.csv, target: label}.")
    data = _section(config, "data", DATA_FIELDS)
    if (data["dataset"] is None) == (data["path"] is None):
        raise ConfigError("data: give exactly one of `dataset` (a name from `nnkit datasets`) or `path` (a .csv, "
                          f".npy or .npz file); received {'both' if data['dataset'] else 'neither'}.")
    if data["dataset"] is not None:
        from nnkit import datasets

        names = [info.name for info in datasets.available()]
        known = names + [name.replace("_", "-") for name in names]
        if data["dataset"] not in known:
            hint = closest(data["dataset"], names)
            raise ConfigError(f"data.dataset: unknown dataset {data['dataset']!r}." + (f" Did you mean '{hint}'?"
                              if hint else "") + f" Known datasets: {', '.join(names)} (see `nnkit datasets`).")
        if data["header"] is not None:
            raise ConfigError("data.header: only a .csv file (`path`) has a header row; a named dataset has none. "
                              "Remove `header`.")
        if data["target"] is not None:
            raise ConfigError("data.target: only a file (`path`) has a target column; a named dataset brings its "
                              "own labels. Remove `target`.")
    return data


def _layers(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of layers, e.g. [{{type: Dense, units: 1}}], "
                          f"got {received(value)}.")
    names = specs.LayerNames(specs.given_layer_names(value))
    entries = copy.deepcopy(value)
    specs.layer_inputs(entries, where)  # a graph: `inputs:` names the model input or earlier layers
    for i, entry in enumerate(entries):
        specs.make_layer(entry, f"{where}[{i}]", names)
    return value


def _model(config: dict[str, Any], default_name: str) -> dict[str, Any]:
    if "model" not in config:
        raise ConfigError("model: this section is required; it lists the layers, e.g. "
                          "model: {layers: [{type: Dense, units: 3, activation: softmax}]}.")
    model = _section(config, "model", {"name": (text, default_name), "layers": (_layers, None)}, required=("layers",))
    return model


def _metrics(value: Any, where: str) -> list[Any]:
    if isinstance(value, (str, dict)):  # one metric, not in a list: its path is the setting itself
        specs.make_metric(copy.deepcopy(value), where)
        return [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of metric names, e.g. [accuracy], got {received(value)}.")
    for i, entry in enumerate(value):
        specs.make_metric(copy.deepcopy(entry), f"{where}[{i}]")
    return value


def _compile(config: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, tuple[Checker, Any]] = {
        "optimizer": (lambda v, w: (specs.make_optimizer(copy.deepcopy(v), w), v)[1], DEFAULT_OPTIMIZER),
        "loss": (lambda v, w: (specs.make_loss(copy.deepcopy(v), w), v)[1], None),
        "metrics": (_metrics, []),
    }
    if "compile" not in config:
        raise ConfigError("compile: this section is required; it needs at least the loss, e.g. "
                          "compile: {optimizer: adam, loss: sparse_categorical_crossentropy, metrics: [accuracy]}.")
    return _section(config, "compile", fields, required=("loss",))


def _callbacks(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of callbacks, e.g. [{{type: EarlyStopping, patience: 5}}], "
                          f"got {received(value)}.")
    for i, entry in enumerate(value):
        specs.make_callback(copy.deepcopy(entry), f"{where}[{i}]", run_dir=None)
    return value


def _class_weight(value: Any, where: str) -> Any:
    if value == "balanced":
        return value
    if not isinstance(value, dict) or not all(is_number(v) and v >= 0 for v in value.values()):
        raise ConfigError(f"{where}: expected 'balanced' or a mapping label: weight (non-negative numbers), "
                          f"got {received(value)}.")
    return value


def _verbose(value: Any, where: str) -> int:
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected 0 (silent), 1 (progress bars) or 2 (one line per epoch), "
                          f"got {received(value)}.")
    return value


FIT_FIELDS: dict[str, tuple[Checker, Any]] = {
    "epochs": (positive_int, 10), "batch_size": (positive_int, 32), "validation_split": (fraction, 0.0),
    "validation_freq": (positive_int, 1), "verbose": (_verbose, 1), "shuffle": (boolean, True),
    "class_weight": (optional(_class_weight), None), "callbacks": (_callbacks, []),
}


def _output(config: dict[str, Any]) -> dict[str, Any]:
    output = _section(config, "output", {"dir": (text, DEFAULT_OUTPUT), "overwrite": (boolean, False)})
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(output["dir"]) if field is not None]
    except ValueError as exc:
        raise ConfigError(f"output.dir: {exc} in {output['dir']!r}; write a literal brace as {{{{ or }}}}.") from None
    for field in fields:
        if field not in OUTPUT_FIELDS:
            hint = closest(field, list(OUTPUT_FIELDS))
            raise ConfigError(f"output.dir: unknown placeholder {{{field}}}." + (f" Did you mean '{{{hint}}}'?" if hint
                              else "") + f" Placeholders: {', '.join('{' + f + '}' for f in OUTPUT_FIELDS)}.")
    return output


# -- search -------------------------------------------------------------------------------------------
def _distribution(value: dict[str, Any], where: str) -> dict[str, Any]:
    check_keys(value, ("distribution", "low", "high"), where)
    for key in ("distribution", "low", "high"):
        if key not in value:
            raise ConfigError(f"{where}.{key}: required for a distribution, e.g. "
                              "{distribution: loguniform, low: 0.0001, high: 0.1}.")
    kind = choice(DISTRIBUTIONS)(value["distribution"], f"{where}.distribution")
    low, high = value["low"], value["high"]
    number = is_int if kind == "randint" else is_number
    for key, bound in (("low", low), ("high", high)):
        if not number(bound):
            raise ConfigError(f"{where}.{key}: expected {'an integer' if kind == 'randint' else 'a number'}, "
                              f"got {received(bound)}.")
    if not low < high:
        raise ConfigError(f"{where}: `low` must be smaller than `high`; got low={low}, high={high}.")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}.low: a loguniform distribution needs low > 0, got {low}.")
    return value


def _search_values(value: Any, where: str, method: str) -> list[Any]:
    """The values a search tries for one path (both ends of a distribution), checked for their shape."""
    if isinstance(value, dict) and method == "random":
        dist = _distribution(value, where)
        high = dist["high"] - 1 if dist["distribution"] == "randint" else dist["high"]
        return [dist["low"], high]
    if isinstance(value, dict) and "distribution" in value:
        raise ConfigError(f"{where}: a distribution needs `method: random` (search.method is {method}); give a "
                          "list of values to try for a grid search, or set search.method: random.")
    if not isinstance(value, list) or not value:
        extra = " or a distribution {distribution: loguniform, low: ..., high: ...}" if method == "random" else ""
        raise ConfigError(f"{where}: expected a non-empty list of values{extra}, got {received(value)}.")
    return value


def _search(config: dict[str, Any], validated: dict[str, Any]) -> dict[str, Any] | None:
    if config.get("search") is None:
        return None
    fields: dict[str, tuple[Checker, Any]] = {
        "method": (choice(SEARCH_METHODS), "grid"), "params": (mapping, None), "n_iter": (positive_int, 10),
        "cv": (_folds, 3), "scoring": (optional(text), None), "n_jobs": (optional(_jobs), None),
    }
    search = _section(config, "search", fields, required=("params",))
    if not search["params"]:
        raise ConfigError("search.params: list at least one setting to tune, e.g. {model.layers[0].units: [8, 16]}.")
    if search["scoring"] is not None:
        from sklearn.metrics import get_scorer_names

        names = sorted(get_scorer_names())
        if search["scoring"] not in names:
            hint = closest(search["scoring"], names)
            raise ConfigError(f"search.scoring: unknown scikit-learn scorer {search['scoring']!r}."
                              + (f" Did you mean '{hint}'?" if hint else "") + " See sklearn.metrics.get_scorer_names().")
    for path, value in search["params"].items():
        where = f"search.params[{path!r}]"
        try:
            parts = parse_path(path)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if parts[0] not in SEARCHABLE or len(parts) < 2:
            raise ConfigError(f"{where}: a search tunes settings under {', '.join(SEARCHABLE)} (e.g. "
                              f"model.layers[0].units or fit.batch_size); {path!r} is not one of them.")
        if parts[:2] == ["fit", "callbacks"]:
            raise ConfigError(f"{where}: callbacks cannot be tuned by a search; tune model, compile or fit settings.")
        for i, candidate in enumerate(_search_values(value, where, search["method"])):
            try:
                _validate_sections(apply_overrides(validated, [(format_path(parts), candidate)]), validated["model"]["name"])
            except ConfigError as exc:
                raise ConfigError(f"{where} value {i} ({received(candidate)}): {exc}") from None
    return search


def _folds(value: Any, where: str) -> int:
    if not (is_int(value) and value >= 2):
        raise ConfigError(f"{where}: expected the number of cross-validation folds, an integer >= 2, "
                          f"got {received(value)}.")
    return value


def _jobs(value: Any, where: str) -> int:
    if not is_int(value) or value == 0:
        raise ConfigError(f"{where}: expected a number of parallel jobs (1, 2, ... or -1 for all cores), "
                          f"got {received(value)}.")
    return value


# -- the whole config -----------------------------------------------------------------------------------
TOP_LEVEL = ("description", "seed", "task", "data", "model", "compile", "fit", "search", "output")


def infer_task(loss: Any) -> str:
    """``'classification'`` for cross-entropy and hinge losses, else ``'regression'``."""
    name, _ = specs.split_entry(loss, "compile.loss", "loss", "mse")
    from nnkit.losses import LOSSES

    canonical = LOSSES.get(name).__name__ if isinstance(LOSSES.get(name), type) else name
    words = f"{name} {canonical}".lower()
    return "classification" if any(word in words for word in CLASSIFICATION_LOSSES) else "regression"


def _validate_sections(config: dict[str, Any], default_name: str) -> dict[str, Any]:
    mapping(config, "the config")
    check_keys(config, TOP_LEVEL, "")
    result: dict[str, Any] = {}
    if config.get("description") is not None:
        result["description"] = text(config["description"], "description")
    result["seed"] = non_negative_int(config["seed"], "seed") if config.get("seed") is not None else 0
    result["data"] = _data(config)
    result["model"] = _model(config, default_name)
    result["compile"] = _compile(config)
    result["fit"] = _section(config, "fit", FIT_FIELDS)
    task = config.get("task")
    result["task"] = choice(TASKS)(task, "task") if task is not None else infer_task(result["compile"]["loss"])
    result["output"] = _output(config)
    if result["fit"]["class_weight"] is not None and result["task"] != "classification":
        raise ConfigError("fit.class_weight: class weights need a classifier, but this run is a regression "
                          "(from its loss). Remove class_weight or set task: classification.")
    return result


def validate_config(config: dict[str, Any], default_name: str = "model") -> dict[str, Any]:
    """Check a whole run config and return it with every default filled in.

    Args:
        config: The parsed config (after ``--set`` overrides).
        default_name: ``model.name`` when the config gives none (the config file's stem).

    Returns:
        A new dict with the sections ``seed``, ``task``, ``data``, ``model``, ``compile``, ``fit``,
        ``output`` and, when given, ``description`` and ``search``.

    Raises:
        ConfigError: the first problem found, starting with its path (``fit.epochs: ...``).
    """
    result = _validate_sections(config, default_name)
    search = _search(config, result)
    if search is not None:
        result["search"] = search
    order = ("description", "seed", "task", "data", "model", "compile", "fit", "search", "output")
    return {key: result[key] for key in order if key in result}


def load_config(path: str, overrides: Any = ()) -> dict[str, Any]:
    """Read a config file, apply ``--set`` overrides and validate it (without loading data).

    Args:
        path: A .yaml/.yml or .json file.
        overrides: ``'path=value'`` strings, ``(path, value)`` pairs or a ``{path: value}`` dict.

    Returns:
        The validated config with defaults filled in; ``model.name`` defaults to the file's stem.

    Raises:
        ConfigError: ``'<file>: <config path>: <what is wrong>'``.
    """
    import os

    from nnkit.runs.loading import read_config

    raw = read_config(path)
    try:
        config = apply_overrides(raw, overrides)
        return validate_config(config, default_name=os.path.splitext(os.path.basename(path))[0])
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
