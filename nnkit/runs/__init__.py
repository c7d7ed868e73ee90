"""Declarative runs: a YAML/JSON config -> validated data, model and training, and a run folder.

Typical use (what ``nnkit train CONFIG`` does)::

    from nnkit import runs
    run = runs.open_run("configs/iris_mlp.yaml", ["fit.epochs=5"])   # read, override, validate, build
    result = runs.train(run)                                        # fit, evaluate, write the run folder
    result.run_dir, result.metrics

The config format is documented in ``configs/README.md``. Every problem found before training is a
:class:`~nnkit.errors.ConfigError` (or :class:`~nnkit.errors.DataError`) whose message starts with the
path of the bad field, e.g. ``model.layers[2].units: expected a positive integer, got -3.``
"""

from nnkit.runs.building import Run, build_model, open_run, prepare
from nnkit.runs.data import RunData
from nnkit.runs.loading import (
    apply_overrides,
    get_path,
    parse_config_text,
    parse_override,
    parse_path,
    read_config,
    set_path,
)
from nnkit.runs.resuming import TrainingInterrupted
from nnkit.runs.schema import load_config, validate_config
from nnkit.runs.searching import ConfigModel, SearchResult, search
from nnkit.runs.training import TrainingFailed, TrainResult, class_ids, train

__all__ = [
    "ConfigModel", "Run", "RunData", "SearchResult", "TrainResult", "TrainingFailed", "TrainingInterrupted",
    "apply_overrides", "build_model", "class_ids", "get_path", "load_config", "open_run", "parse_config_text",
    "parse_override", "parse_path", "prepare", "read_config", "search", "set_path", "train", "validate_config",
]
