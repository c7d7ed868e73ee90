"""Hyperparameter search over config paths with nnkit's GridSearchCV / RandomizedSearchCV (scikit-learn's, with
candidates that can be trained together trained as one stacked model: :mod:`nnkit.model_selection`).

The search keys are config paths (``model.layers[0].units``, ``compile.optimizer.learning_rate``,
``fit.batch_size``), as with ``--set``. The estimator is :class:`~nnkit.wrappers.KerasClassifier` (or
``KerasRegressor``) with a :class:`ConfigModel` build function: ``fit.*`` paths become the estimator's own
parameters (``epochs``, ``batch_size``, ...), the others reach the build function as ``model__<path>`` and
are applied to a copy of the config before the model is built. So the estimator stays a plain
scikit-learn estimator (``clone``, ``get_params`` and parallel jobs work), and every candidate is built
exactly as ``nnkit train`` would build it.

The preprocessing layers (``data.standardize``, ...) are adapted once on the whole training split, so the
cross-validation folds share those statistics; the test split stays untouched.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnkit.errors import ConfigError
from nnkit.runs.building import Run, build_model
from nnkit.runs.loading import apply_overrides, format_path, parse_path
from nnkit.runs.outputs import CV_RESULTS, write_table
from nnkit.runs.schema import validate_config
from nnkit.runs.training import TrainResult, check_finite, evaluate_split, finish, run_folder

#: ``fit.<key>`` paths that are parameters of the scikit-learn estimator itself.
ESTIMATOR_FIT_PARAMS = ("epochs", "batch_size", "validation_split", "shuffle", "class_weight")


class ConfigModel:
    """Build function for the scikit-learn adapter: a run config plus ``{config path: value}`` overrides.

    Args:
        config: The validated run config.
        input_shape: Shape of one sample.
        preprocessing: Data-derived layers put in front (copied for every model).
    """

    def __init__(self, config: dict[str, Any], input_shape: tuple[int, ...], preprocessing: list[Any]) -> None:
        self.config = {key: value for key, value in config.items() if key != "search"}
        self.input_shape = tuple(input_shape)
        self.preprocessing = preprocessing

    def __call__(self, **overrides: Any) -> Any:
        """A compiled model with the overrides (config paths as keys) applied."""
        config = validate_config(apply_overrides(self.config, overrides), self.config["model"]["name"])
        return build_model(config, self.input_shape, self.preprocessing)

    def __repr__(self) -> str:
        return f"ConfigModel({self.config['model']['name']!r}, input_shape={self.input_shape})"


def param_name(path: str) -> str:
    """The estimator parameter for a config path: ``fit.epochs`` -> ``epochs``,
    ``fit.validation_freq`` -> ``fit__validation_freq``, ``model.layers[0].units`` -> ``model__model.layers[0].units``."""
    parts = parse_path(path)
    if parts[0] == "fit" and len(parts) == 2:
        return parts[1] if parts[1] in ESTIMATOR_FIT_PARAMS else f"fit__{parts[1]}"
    return f"model__{format_path(parts)}"


def _distribution(spec: dict[str, Any]) -> Any:
    from scipy import stats

    low, high = spec["low"], spec["high"]
    if spec["distribution"] == "loguniform":
        return stats.loguniform(low, high)
    if spec["distribution"] == "uniform":
        return stats.uniform(loc=low, scale=high - low)
    return stats.randint(low, high)


@dataclass
class SearchResult:
    """What :func:`search` produced.

    Attributes:
        table: One row per candidate, best first: ``{"rank", "mean_test_score", "std_test_score", "params"}``
            with ``params`` keyed by config path.
        best_params: The best candidate's ``{config path: value}``.
        best_score: Its mean cross-validation score.
        result: The refit best model's :class:`~nnkit.runs.TrainResult` (run folder, test metrics).
    """

    table: list[dict[str, Any]]
    best_params: dict[str, Any]
    best_score: float
    result: TrainResult

    def __repr__(self) -> str:
        return f"SearchResult(best_score={self.best_score:.4g}, best_params={self.best_params!r})"


def make_search(run: Run, run_dir: str | None = None) -> tuple[Any, dict[str, str]]:
    """The unfitted ``GridSearchCV``/``RandomizedSearchCV`` and its ``{estimator parameter: config path}``;
    callbacks write their files into ``run_dir``."""
    from nnkit.model_selection import GridSearchCV, RandomizedSearchCV
    from nnkit.wrappers import KerasClassifier, KerasRegressor

    config, search = run.config, run.config.get("search")
    if search is None:
        raise ConfigError("search: this config has no search section; add one, e.g. search: {method: grid, params: "
                          "{model.layers[0].units: [8, 16]}}, or use `nnkit train`.")
    check_search(search, run.task, len(run.data.x_train))
    fit = config["fit"]
    names = {param_name(path): path for path in search["params"]}
    options = {"epochs": fit["epochs"], "batch_size": fit["batch_size"], "validation_split": fit["validation_split"],
               "shuffle": fit["shuffle"], "verbose": 0, "random_state": config["seed"],
               "callbacks": run.callbacks(run_dir) or None, "fit__validation_freq": fit["validation_freq"]}
    build = ConfigModel(config, run.data.input_shape, run.preprocessing)
    if run.task == "classification":
        estimator = KerasClassifier(build, class_weight=run.fit_arguments()["class_weight"], **options)
    else:
        estimator = KerasRegressor(build, **options)
    values = {name: search["params"][path] for name, path in names.items()}
    common = {"cv": search["cv"], "scoring": search["scoring"], "n_jobs": search["n_jobs"], "refit": True,
              "error_score": "raise"}
    if search["method"] == "grid":
        return GridSearchCV(estimator, values, **common), names
    distributions = {name: _distribution(v) if isinstance(v, dict) else v for name, v in values.items()}
    return RandomizedSearchCV(estimator, distributions, n_iter=search["n_iter"], random_state=config["seed"],
                              **common), names


#: Scorer names (prefixes) that score class predictions: meaningless for a regression's numbers.
_CLASSIFICATION_SCORERS = ("accuracy", "balanced_accuracy", "top_k_accuracy", "average_precision", "neg_brier_score",
                           "f1", "neg_log_loss", "precision", "recall", "jaccard", "roc_auc", "matthews_corrcoef",
                           "d2_log_loss")


def check_search(search: dict[str, Any], task: str, n_train: int) -> None:
    """Refuse a search that could only fail after training: a classification scorer on a regression, or more
    folds than training samples.

    Raises:
        ConfigError: naming ``search.scoring`` or ``search.cv`` and why.
    """
    scoring = search["scoring"]
    if task == "regression" and isinstance(scoring, str) and scoring.startswith(_CLASSIFICATION_SCORERS):
        raise ConfigError(f"search.scoring: {scoring!r} scores class predictions, but this run is a regression (its "
                          "loss is not a cross-entropy or hinge loss). Use a regression scorer such as r2, "
                          "neg_mean_squared_error or neg_mean_absolute_error, or null for R².")
    cv = search["cv"]
    if isinstance(cv, int) and cv > n_train:
        raise ConfigError(f"search.cv: {cv} folds need at least {cv} training samples, but the training split has "
                          f"{n_train}. Use fewer folds (3 to 10 is usual).")


class SearchProgress:
    """A scorer that reports each candidate x fold as it is scored: a tqdm bar with the best mean score so far
    on a terminal, else one line per candidate. scikit-learn scores the folds of one candidate after another
    when it runs them in this process (``n_jobs`` 1); parallel workers do not report.

    Args:
        scorer: The search's scorer (``check_scoring(estimator, scoring)``).
        candidates: How many candidates (``None`` if unknown).
        folds: Cross-validation folds per candidate.
    """

    def __init__(self, scorer: Any, candidates: int | None, folds: int) -> None:
        import sys

        from nnkit.callbacks.progbar import is_terminal

        self.scorer, self.candidates, self.folds = scorer, candidates, folds
        self.scores: list[float] = []
        self.best: float | None = None
        self._bar = None
        if is_terminal(sys.stdout):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=candidates * folds if candidates else None, desc="Search", unit="fit",
                             file=sys.stdout, dynamic_ncols=True, leave=True)

    def __call__(self, estimator: Any, x: Any, y: Any) -> float:
        score = self.scorer(estimator, x, y)
        self.scores.append(float(score))
        if len(self.scores) % self.folds == 0:
            mean = float(np.mean(self.scores[-self.folds:]))
            self.best = mean if self.best is None or mean > self.best else self.best
            done = len(self.scores) // self.folds
            if self._bar is None:
                total = f"/{self.candidates}" if self.candidates else ""
                print(f"Candidate {done}{total}: mean score {mean:.4f} (best so far {self.best:.4f})", flush=True)
        if self._bar is not None:
            if self.best is not None:
                self._bar.set_postfix_str(f"best mean score {self.best:.4f}", refresh=False)
            self._bar.update(1)
        return score

    def close(self) -> None:
        """Close the bar (after the search)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __repr__(self) -> str:
        return f"SearchProgress(candidates={self.candidates}, folds={self.folds}, scored={len(self.scores)})"


def _count_candidates(searcher: Any) -> int | None:
    from sklearn.model_selection import GridSearchCV, ParameterGrid

    if isinstance(searcher, GridSearchCV):
        return len(ParameterGrid(searcher.param_grid))
    grid = searcher.param_distributions
    if all(isinstance(v, (list, tuple)) for v in grid.values()):
        return min(searcher.n_iter, len(ParameterGrid(grid)))
    return searcher.n_iter


def _with_progress(searcher: Any) -> SearchProgress | None:
    """Put a :class:`SearchProgress` scorer into ``searcher`` when its fits run in this process."""
    from sklearn.metrics import check_scoring

    if searcher.n_jobs not in (None, 1) or not isinstance(searcher.cv, int):
        return None
    progress = SearchProgress(check_scoring(searcher.estimator, scoring=searcher.scoring), _count_candidates(searcher),
                              searcher.cv)
    searcher.scoring = progress
    return progress


def search(run: Run, output_dir: str | None = None, progress: bool = True) -> SearchResult:
    """Cross-validate every candidate on the training split, refit the best one on all of it, evaluate it
    on the test split and write the run folder (with ``cv_results.csv``).

    Args:
        run: From :func:`nnkit.runs.open_run`, with a ``search`` section.
        output_dir: Run folder, instead of ``output.dir``.
        progress: Show a bar over candidates x folds with the best score so far (see :class:`SearchProgress`).

    Raises:
        ConfigError: no ``search`` section, or the run folder is not usable (checked before searching).
        TrainingFailed: the refit model's loss is NaN.
    """
    from nnkit.utils import set_random_seed

    if run.config.get("search") is None:
        message = ("search: this config has no search section; add one, e.g. search: {method: grid, params: "
                   "{model.layers[0].units: [8, 16]}}, or use `nnkit train`.")
        raise ConfigError(f"{run.source}: {message}" if run.source else message)
    with run_folder(run, output_dir) as folder:
        searcher, names = make_search(run, folder.work)
        shown = _with_progress(searcher) if progress else None
        set_random_seed(run.config["seed"])
        targets = run.data.labels_train
        try:
            searcher.fit(run.data.x_train, targets[:, 0] if targets.ndim == 2 and targets.shape[1] == 1 else targets)
        finally:
            if shown is not None:
                shown.close()
        if progress and getattr(searcher, "stacking_", None):
            print(searcher.stacking_)
        cv = searcher.cv_results_
        table = _table(cv, names)
        best = {names[k]: _plain(v) for k, v in searcher.best_params_.items()}
        model = searcher.best_estimator_.model_
        history = {key: list(values) for key, values in searcher.best_estimator_.history_.items()}
        metrics = evaluate_split(model, run.data.x_test, run.data.y_test, run.config["fit"]["batch_size"])
        check_finite(history, metrics)
        config = apply_overrides(run.config, best)
        write_table(os.path.join(folder.work, CV_RESULTS), *_cv_rows(cv, names))
        result = finish(run, folder, model, history, metrics, config=config)
        result.files.append(os.path.join(folder.path, CV_RESULTS))
    return SearchResult(table, best, float(searcher.best_score_), result)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else copy.deepcopy(value)


def _table(cv: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    order = np.argsort(cv["rank_test_score"], kind="stable")
    return [{"rank": int(cv["rank_test_score"][i]), "mean_test_score": float(cv["mean_test_score"][i]),
             "std_test_score": float(cv["std_test_score"][i]),
             "params": {names[k]: _plain(v) for k, v in cv["params"][i].items()}} for i in order]


def _cv_rows(cv: dict[str, Any], names: dict[str, str]) -> tuple[list[str], list[list[Any]]]:
    """``cv_results_`` as CSV: rank, scores and times, one column per config path, then the fold scores."""
    splits = sorted(k for k in cv if k.startswith("split") and k.endswith("_test_score"))
    fixed = ["rank_test_score", "mean_test_score", "std_test_score", "mean_fit_time", "std_fit_time"]
    header = [*fixed, *names.values(), *splits]
    rows = []
    for i in np.argsort(cv["rank_test_score"], kind="stable"):
        params = cv["params"][i]
        rows.append([*(cv[k][i] for k in fixed), *(_plain(params.get(name)) for name in names), *(cv[k][i] for k in splits)])
    return header, rows
