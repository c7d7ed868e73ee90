"""Training a prepared run and writing its run folder."""

from __future__ import annotations

import math
import os
import shlex
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnkit.errors import ConfigError, NnkitError
from nnkit.runs.building import Run
from nnkit.runs.folder import RunFolder, claim_existing, claim_run_folder, recorded_config
from nnkit.runs.outputs import CONFIG_FILE, write_run_folder
from nnkit.runs.resuming import (
    EpochSnapshot,
    TrainingInterrupted,
    clear_interrupted,
    read_resume_state,
    write_interrupted,
)


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


def train(run: Run, output_dir: str | None = None, verbose: int | None = None, resume: str | None = None) -> TrainResult:
    """Train ``run.model``, evaluate it on the test split and write the run folder.

    On Ctrl-C after at least one finished epoch, the run folder keeps the model of the last finished epoch,
    its history and what :mod:`nnkit.runs.resuming` needs to continue, and :class:`TrainingInterrupted` is
    raised (a ``KeyboardInterrupt``).

    Args:
        run: From :func:`nnkit.runs.prepare` or :func:`nnkit.runs.open_run`.
        output_dir: Run folder, instead of ``output.dir``.
        verbose: Overrides ``fit.verbose`` (0 silent, 1 progress bars, 2 a line per epoch).
        resume: The folder of an interrupted run to continue (in place of a new run folder).

    Returns:
        A :class:`TrainResult`.

    Raises:
        ConfigError: the run folder is not usable (checked before training), or ``resume`` is not the folder
            of an interrupted run.
        TrainingFailed: the loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C after some epochs; the run folder holds the run so far.
    """
    from nnkit.utils import set_random_seed

    if resume is not None and output_dir is not None:
        raise ConfigError("--resume continues a run in its own folder; leave out --output.")
    state = read_resume_state(resume) if resume is not None else None
    folder = claim_existing(resume, "--resume") if resume is not None else run_folder(run, output_dir)
    with folder:
        arguments = run.fit_arguments()
        if verbose is not None:
            arguments["verbose"] = verbose
        data, model = run.data, run.model
        set_random_seed(run.config["seed"])
        snapshot, callbacks = EpochSnapshot(resume=state), run.callbacks(folder.work)
        try:
            history = model.fit(data.x_train, data.y_train, callbacks=[snapshot, *callbacks], **arguments).history
            history = {key: list(values) for key, values in history.items()}
            metrics = evaluate_split(model, data.x_test, data.y_test, arguments["batch_size"])
            check_finite(history, metrics)
            result = finish(run, folder, model, history, metrics, restored_epoch=restored_epoch(callbacks))
        except KeyboardInterrupt:
            kept = snapshot.interrupted_state()
            if kept is None:
                raise
            hint = keep_interrupted(run, folder, model, kept)
            raise TrainingInterrupted(folder.path, int(kept["epoch"]), int(arguments["epochs"]), hint) from None
        if resume is not None:
            clear_interrupted(folder.work)
    return result


def keep_interrupted(run: Run, folder: RunFolder, model: Any, state: dict[str, Any]) -> str:
    """Write an interrupted run's folder: the model and history of its last finished epoch, and how to resume;
    returns the command that resumes it."""
    history = next((entry["state"]["history"] for entry in state["callbacks"] if entry["class"] == "History"), {})
    source = run.source or os.path.join(folder.path, CONFIG_FILE)
    hint = f"nnkit train {shlex.quote(source)} --resume {shlex.quote(folder.path)}"
    write_interrupted(folder.work, state, run.config["fit"]["epochs"], model, hint)
    write_run_folder(folder.work, model=model, config=recorded_config(run.config, run.source), history=history,
                     metrics=None, classes=run.data.classes,
                     labels=run.data.class_labels, columns=run.data.columns)
    folder.keep_interrupted()
    return hint


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


def restored_epoch(callbacks: list[Any]) -> int | None:
    """The epoch (1-based) whose weights an ``EarlyStopping(restore_best_weights=True)`` put back, if any."""
    for callback in callbacks:
        if getattr(callback, "restore_best_weights", False) and getattr(callback, "best_weights", None) is not None:
            return int(callback.best_epoch) + 1
    return None


def finish(run: Run, folder: RunFolder, model: Any, history: dict[str, list[Any]], metrics: dict[str, float],
           config: dict[str, Any] | None = None, restored_epoch: int | None = None) -> TrainResult:
    """Write the files of a trained model into a claimed run folder (shared by :func:`train` and searches);
    the paths in the result are where the files are once the folder is committed."""
    data = run.data
    y_pred = None
    if data.classes is not None:
        outputs = model.predict(data.x_test, batch_size=run.config["fit"]["batch_size"], verbose=0)
        y_pred = class_ids(outputs, model.loss)
    files = write_run_folder(folder.work, model=model, config=recorded_config(config or run.config, run.source),
                             history=history, metrics=metrics,
                             classes=data.classes, y_true=data.labels_test if data.classes is not None else None,
                             y_pred=y_pred, labels=data.class_labels, columns=data.columns,
                             restored_epoch=restored_epoch)
    return TrainResult(folder.path, metrics, history, model, [folder.final(path) for path in files])
