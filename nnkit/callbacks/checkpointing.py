"""Checkpoint files of nnkit models: weights, config and optimizer state in one safe file.

Every checkpoint is an nnkit state file (:mod:`nnkit.utils.state_file`): safetensors tensors plus a JSON
header, written atomically, and loaded without unpickling anything. What it holds depends on its kind:

- ``"weights"`` (``model.save_weights``, ``ModelCheckpoint(save_weights_only=True)``): ``weights``, the
  ``state_dict()`` of ``model.module`` (torch names and layout, buffers included).
- ``"model"`` (``model.save``, ``ModelCheckpoint(save_weights_only=False)``): ``weights``, ``config``
  (``model.get_config()``), ``build_config``, ``compile_config``, ``metadata`` and ``optimizer`` (its class
  name, its config when it is an nnkit optimizer, and its state: step count, learning rate, moments); see
  :mod:`nnkit.saving.model_file`.
- ``"backup"`` (``BackupAndRestore``): ``weights``, ``optimizer``, the epoch and batch reached, the random
  number generator states and the callbacks' states.

Example:
    >>> checkpoint = read_checkpoint("best.safetensors")          # doctest: +SKIP
    >>> model = Sequential.from_config(checkpoint["config"])       # doctest: +SKIP
    >>> model.compile(optimizer="adam", loss="mse")                # doctest: +SKIP
    >>> load_weights(model, checkpoint)                            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from typing import Any

from nnkit.errors import ConfigError, DataError
from nnkit.utils.state_file import load_state

KINDS = ("weights", "model", "backup")


def weights_state(model: Any) -> dict[str, Any]:
    """``model.module.state_dict()`` (live tensors; saving copies them)."""
    return dict(model.module.state_dict())


def optimizer_state(model: Any) -> dict[str, Any] | None:
    """The model optimizer's class name, config (if JSON-serializable) and state, or ``None``."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "state_dict"):
        return None
    config = optimizer.get_config() if hasattr(optimizer, "get_config") else None
    try:
        json.dumps(config)
    except TypeError:  # a torch.optim class inside: the class name and the state are still stored
        config = None
    return {"class_name": type(optimizer).__name__, "config": config, "state": optimizer.state_dict()}


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The contents of a checkpoint file (tensors on the CPU).

    Raises:
        FileNotFoundError: no file at ``path``.
        DataError: the file is not an nnkit checkpoint.
    """
    state = load_state(path)
    if not isinstance(state, dict) or state.get("kind") not in KINDS or "weights" not in state:
        raise DataError(f"{os.fspath(path)!r} is an nnkit state file but not a model checkpoint.")
    return state


def load_weights(model: Any, checkpoint: str | os.PathLike[str] | dict[str, Any]) -> None:
    """Copy a checkpoint's weights into ``model`` (which must have the same architecture).

    Tensors are matched by name; when the names differ only in the layer names (e.g. ``dense.weight`` vs
    ``dense_3.weight``, as automatic names depend on what was built before), they are matched by position,
    as Keras matches weights by the model's structure; the rest of each name must agree.

    Args:
        model: A built model.
        checkpoint: A checkpoint path, or what :func:`read_checkpoint` returned.

    Raises:
        ConfigError: the weights do not fit the model (names the tensors and shapes that differ).
    """
    state = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint)
    module = model.module
    own, weights = module.state_dict(), state["weights"]
    if set(own) != set(weights):
        pairs = list(zip(own.items(), weights.items()))
        if len(own) == len(weights) and any(_suffix(a) != _suffix(b) for (a, _), (b, _) in pairs):
            raise ConfigError(
                f"The file's weights do not fit model '{getattr(model, 'name', model)}': their names differ and "
                f"do not line up layer by layer (file: {', '.join(weights)}; model: {', '.join(own)}). Build the "
                "model with the same layers in the same order, or rename the tensors to the model's names."
            )
        if len(own) != len(weights) or any(a.shape != b.shape for (_, a), (_, b) in pairs):
            differ = [f"{i}: {theirs} {tuple(b.shape)} vs {ours} {tuple(a.shape)}"
                      for i, ((ours, a), (theirs, b)) in enumerate(pairs) if a.shape != b.shape]
            raise ConfigError(
                f"The checkpoint's weights do not fit model '{getattr(model, 'name', model)}': it holds "
                f"{len(weights)} tensors ({', '.join(weights)}), the model {len(own)} ({', '.join(own)})"
                + (f"; different shapes (tensor: checkpoint vs model): {'; '.join(differ)}" if differ else "") + "."
            )
        weights = {name: tensor for name, (_, tensor) in zip(own, weights.items())}
    else:
        differ = [f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}" for k in own
                  if weights[k].shape != own[k].shape]
        if differ:
            raise ConfigError(f"The checkpoint's weights do not fit model '{getattr(model, 'name', model)}': "
                              f"different shapes (checkpoint vs model): {'; '.join(differ)}.")
    module.load_state_dict(weights)


def _suffix(name: str) -> str:
    """A tensor's name inside its layer: ``dense_3.weight`` -> ``weight``."""
    return name.split(".", 1)[-1]


def load_optimizer(model: Any, checkpoint: dict[str, Any]) -> None:
    """Restore the optimizer state stored in a ``"model"`` or ``"backup"`` checkpoint into ``model.optimizer``.

    Raises:
        ConfigError: the checkpoint has no optimizer state, the model has no optimizer, or the optimizer
            classes differ.
    """
    entry = checkpoint.get("optimizer")
    optimizer = getattr(model, "optimizer", None)
    if entry is None or optimizer is None:
        raise ConfigError("Cannot restore the optimizer: " + (
            "the checkpoint holds weights only." if entry is None else "compile the model first."))
    if entry["class_name"] != type(optimizer).__name__:
        raise ConfigError(f"The checkpoint's optimizer state is for {entry['class_name']}, but the model is compiled "
                          f"with {type(optimizer).__name__}. Compile it with the same optimizer to resume.")
    optimizer.load_state_dict(entry["state"])
