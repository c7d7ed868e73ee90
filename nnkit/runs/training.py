"""Training a prepared run and writing its run folder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnkit.errors import ConfigError, NnkitError
from nnkit.runs.building import Run
from nnkit.runs.folder import RunFolder, claim_run_folder
from nnkit.runs.outputs import write_run_folder


class TrainingFailed(NnkitError, RuntimeError):
    """Training ran but did not produce a usable model (e.g. the loss became NaN)."""


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        run_dir: The run folder.
        metrics: Loss and metrics on the test split, ``{"loss": ..., "accuracy": ...}``.
        history: Per-epoch logs of the fit.
        model: The trained model.
        files: Paths of the files written.
    """

    run_dir: str
    metrics: dict[str, float]
    history: dict[str, list[Any]]
    model: Any
    files: list[str]

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        return f"TrainResult(run_dir={self.run_dir!r}, {shown})"


def class_ids(outputs: np.ndarray, loss: Any) -> np.ndarray:
    """Predicted class ids from model outputs: argmax over units, or one unit thresholded (0.5 for
    probabilities, 0 for logits and hinge margins)."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        from_logits = bool(getattr(loss, "fn_kwargs", {}).get("from_logits", False))
        threshold = 0.0 if from_logits or "Hinge" in type(loss).__name__ else 0.5
        return (outputs[:, 0] > threshold).astype(np.int64)
    return outputs.reshape(len(outputs), -1).argmax(axis=1)


def evaluate_split(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
    """``model.evaluate(..., return_dict=True)`` as plain floats."""
    logs = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return {key: float(value) for key, value in logs.items()}


def check_finite(history: dict[str, list[Any]], metrics: dict[str, float]) -> None:
    """Refuse a run whose training loss ended NaN or infinite (e.g. stopped by TerminateOnNaN).

    Raises:
        TrainingFailed: naming the epoch and how to fix it.
    """
    losses = history.get("loss") or []
    last = losses[-1] if losses else metrics.get("loss")
    if last is not None and not math.isfinite(float(last)):
        raise TrainingFailed(f"training diverged: the loss is {last} after epoch {len(losses)}. Lower "
                             "compile.optimizer.learning_rate, standardize the inputs (data.standardize: true), "
                             "or check the data for extreme values.")


def train(run: Run, output_dir: str | None = None, verbose: int | None = None) -> TrainResult:
    """Train ``run.model``, evaluate it on the test split and write the run folder.

    Args:
        run: From :func:`nnkit.runs.prepare` or :func:`nnkit.runs.open_run`.
        output_dir: Run folder, instead of ``output.dir``.
        verbose: Overrides ``fit.verbose`` (0 silent, 1 progress bars, 2 a line per epoch).

    Returns:
        A :class:`TrainResult`.

    Raises:
        ConfigError: the run folder is not usable (checked before training).
        TrainingFailed: the loss became NaN or infinite.
    """
    from nnkit.utils import set_random_seed

    with run_folder(run, output_dir) as folder:
        arguments = run.fit_arguments()
        if verbose is not None:
            arguments["verbose"] = verbose
        data, model = run.data, run.model
        set_random_seed(run.config["seed"])
        history = model.fit(data.x_train, data.y_train, callbacks=run.callbacks(folder.work), **arguments).history
        history = {key: list(values) for key, values in history.items()}
        metrics = evaluate_split(model, data.x_test, data.y_test, arguments["batch_size"])
        check_finite(history, metrics)
        result = finish(run, folder, model, history, metrics)
    return result


def run_folder(run: Run, output_dir: str | None = None) -> RunFolder:
    """The claimed run folder of a run (:func:`~nnkit.runs.folder.claim_run_folder`); an ``output.dir`` error
    names the config file, as every config error does.

    Raises:
        ConfigError: the folder holds files, another run writes to it, or it cannot be created.
    """
    try:
        return claim_run_folder(run.config, run.source, output_dir)
    except ConfigError as exc:
        if run.source is None or output_dir is not None:
            raise
        raise ConfigError(f"{run.source}: {exc}") from exc


def finish(run: Run, folder: RunFolder, model: Any, history: dict[str, list[Any]], metrics: dict[str, float],
           config: dict[str, Any] | None = None) -> TrainResult:
    """Write the files of a trained model into a claimed run folder (shared by :func:`train` and searches);
    the paths in the result are where the files are once the folder is committed."""
    data = run.data
    y_pred = None
    if data.classes is not None:
        outputs = model.predict(data.x_test, batch_size=run.config["fit"]["batch_size"], verbose=0)
        y_pred = class_ids(outputs, model.loss)
    files = write_run_folder(folder.work, model=model, config=config or run.config, history=history, metrics=metrics,
                             classes=data.classes, y_true=data.labels_test if data.classes is not None else None,
                             y_pred=y_pred, labels=data.class_labels, columns=data.columns)
    return TrainResult(folder.path, metrics, history, model, [folder.final(path) for path in files])
