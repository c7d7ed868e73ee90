"""``model.save`` / ``load_model`` and ``save_weights`` / ``load_weights``: one safe file per model.

A model file is an nnkit state file (:mod:`nnkit.utils.state_file`): the weights are safetensors
entries, and a JSON header holds the architecture, the compile settings, the build shape, the optimizer
state and metadata (nnkit, torch and Python versions), with a SHA-256 over all of it. Loading parses JSON
and raw tensor bytes, never a pickle, and finds custom code only by name (see
:mod:`nnkit.saving.object_registration`). Writes are atomic; any file name works (``model.keras`` too).
``ModelCheckpoint`` writes the same files, so ``load_model`` opens its checkpoints.
"""

from __future__ import annotations

import datetime
import os
import platform
import zipfile
from io import BytesIO
from typing import Any

import torch

from nnkit.callbacks.checkpointing import load_optimizer, optimizer_state
from nnkit.callbacks.checkpointing import load_weights as load_weights_into
from nnkit.errors import ConfigError, DataError, WriteError
from nnkit.saving.object_registration import custom_object_scope
from nnkit.saving.serialization import deserialize, serialize
from nnkit.utils.state_file import dumps, loads

_PICKLE_PROTOCOL_MARK = b"\x80"


def _metadata(model: Any) -> dict[str, Any]:
    import nnkit

    return {"nnkit_version": nnkit.__version__, "torch_version": torch.__version__,
            "python_version": platform.python_version(), "saved_at": datetime.datetime.now().isoformat(timespec="seconds"),
            "saved_on_device": str(getattr(model, "device", "cpu"))}


def model_state(model: Any, include_optimizer: bool = True) -> dict[str, Any]:
    """Everything a model file holds, as a state (see the module docstring).

    Raises:
        ConfigError: part of the model has no saved form (the message names it and how to fix it).
    """
    from nnkit.models.functional import Functional
    from nnkit.models.sequential import Sequential

    if not isinstance(model, (Sequential, Functional)):
        raise ConfigError(f"Model '{model.name}' is a {type(model).__name__} with its own call(): nnkit saves such a "
                          "model's weights, not the model. Use model.save_weights(path), then rebuild it in code and "
                          "load_weights(path); or write it with the functional API to save it whole.")
    _build_if_declared(model)
    state: dict[str, Any] = {
        "kind": "model",
        "class_name": "Sequential" if type(model).__name__ == "Sequential" else "Functional",
        "metadata": _metadata(model),
        "config": serialize(model.get_config(), "model config", allow_bytecode=True),
        "build_config": model.get_build_config(),
        "compile_config": (None if not model.compiled
                           else serialize(model.get_compile_config(), "compile config", allow_bytecode=True)),
        "weights": dict(model.module.state_dict()) if model.built else {},
    }
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and model.compiled and (getattr(optimizer, "torch_optimizer", None) is not None
                                                 or getattr(optimizer, "_pending_state", None) is not None):
        state["optimizer"] = optimizer_state(model)
    return state


def _build_if_declared(model: Any) -> None:
    """Build a model whose input shape is declared, as Keras does on construction: its weights exist."""
    if not model.built and getattr(model, "_declared_input_shape", lambda: None)() is not None:
        model.build()


def _write(filepath: str | os.PathLike[str], state: dict[str, Any], overwrite: bool) -> None:
    from nnkit import distributed

    if not distributed.is_main_process():  # in distributed training every rank holds the same model
        return
    path = os.fspath(filepath)
    if os.path.isdir(path):
        raise ConfigError(f"Cannot save to {path!r}: it is a folder. Give a file path, e.g. "
                          f"{os.path.join(path, 'model.keras')!r}.")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False; pass overwrite=True or choose another path.")
    data = dumps(state)  # fully encoded before the file is touched: a failure leaves the old file as it was
    from nnkit.utils.atomic import atomic_write

    try:
        atomic_write(path, data)
    except OSError as exc:  # a full disk, a read-only folder: an OSError that names the file and the cause
        raise WriteError.of(path, exc) from exc


def save_model(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True,
               include_optimizer: bool = True) -> None:
    """Write ``model`` (architecture, compile settings, weights, optimizer state) to one file.

    Raises:
        ConfigError: the model holds something that cannot be saved, or ``filepath`` is a folder.
        FileExistsError: ``overwrite=False`` and the file exists.
        WriteError: the file cannot be written (an ``OSError``: a full disk, a read-only folder).
    """
    _write(filepath, model_state(model, include_optimizer), overwrite)


def save_weights(model: Any, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Write the weights only (``model.module.state_dict()``): safetensors tensors named
    ``weights/<torch name>`` (e.g. ``weights/dense.weight``) with an nnkit header; the write is atomic."""
    _build_if_declared(model)
    if not model.built:
        raise ConfigError(f"Model '{model.name}' has no weights yet: build it (model.build(input_shape)) or fit it "
                          "before save_weights().")
    _write(filepath, {"kind": "weights", "weights": dict(model.module.state_dict())}, overwrite)


def read_file(filepath: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse an nnkit model or weights file without running anything from it.

    Raises:
        FileNotFoundError: no such file.
        DataError: the file is damaged, or is a pickle, a Keras archive or something else entirely.
    """
    path = os.fspath(filepath)
    if os.path.isdir(path):
        raise DataError(f"{path!r} is a folder, not a model file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    with open(path, "rb") as f:
        data = f.read()
    _refuse_foreign(data, path)
    state = loads(data, source=repr(path))
    if not isinstance(state, dict) or state.get("kind") not in ("model", "weights", "backup") \
            or not isinstance(state.get("weights"), dict):
        raise DataError(f"{path!r} is an nnkit state file but holds no model or weights.")
    return state


def _looks_like_safetensors(head: bytes) -> bool:
    """safetensors starts with an 8-byte header length, then the JSON header's ``{``."""
    return len(head) >= 9 and head[8:9] == b"{"


def _refuse_foreign(data: bytes, path: str) -> None:
    """Name the formats people mistake for model files, before trying to parse them."""
    if _looks_like_safetensors(data[:9]):
        return
    if data[:1] == _PICKLE_PROTOCOL_MARK:
        raise DataError(f"{path!r} is a Python pickle. nnkit never unpickles files on loading, because a pickle "
                        "can run any code. Save models with model.save(path).")
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            names = []
        if any(n.endswith("data.pkl") for n in names):
            raise DataError(
                f"{path!r} is a torch.save file (a zip holding a pickle). load_model never unpickles. For its "
                "weights, build the model and call model.load_weights(path), which reads .pt files with "
                "torch.load(weights_only=True); for whole models use model.save(path).")
        if "config.json" in names:
            raise DataError(f"{path!r} is a Keras .keras archive, which nnkit cannot read. Rebuild the model in "
                            "nnkit and copy the Keras weights with model.set_weights(keras_model.get_weights()).")
        raise DataError(f"{path!r} is a zip archive, not an nnkit model file.")
    if _looks_like_text(data):
        raise DataError(f"{path!r} is a text file (JSON, YAML, CSV or an old text pickle?), not a model file. Model "
                        "files are binary (safetensors) files written by model.save(path).")


def _looks_like_text(data: bytes) -> bool:
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(c.isprintable() or c in "\r\n\t" for c in text)


def load_model(filepath: str | os.PathLike[str], custom_objects: dict[str, Any] | None = None,
               compile: bool = True, safe_mode: bool = True) -> Any:
    """Rebuild a model saved with ``model.save`` (or ``ModelCheckpoint``): architecture, weights,
    compile settings and optimizer state. Tensors load on the CPU and move to the default device.

    Args:
        filepath: The file.
        custom_objects: Names of custom layers, losses, metrics and functions, mapped to the objects.
        compile: Compile the model as it was saved (``False``: leave it uncompiled).
        safe_mode: Refuse Lambda functions stored as bytecode (``False`` runs them: trusted files only).

    Raises:
        FileNotFoundError: no such file.
        DataError: the file is damaged or not an nnkit model (a weights file, a pickle, a Keras archive).
        ConfigError: the model uses a custom object that is not registered or passed in ``custom_objects``,
            or a Lambda in safe mode.

    Example:
        >>> model.save("digits.keras")                       # doctest: +SKIP
        >>> same = nnkit.models.load_model("digits.keras")   # doctest: +SKIP
    """
    state = read_file(filepath)
    path = os.fspath(filepath)
    if state["kind"] != "model":
        raise DataError(f"{path!r} holds weights only (written by save_weights). Build the model in code and call "
                        "model.load_weights(path).")
    with custom_object_scope(custom_objects):
        try:
            _check_weight_shapes(state, safe_mode, path)
            return _rebuild(state, compile, safe_mode)
        except (ConfigError, DataError):
            raise
        except (TypeError, KeyError, AttributeError, IndexError, ValueError, RecursionError) as exc:
            raise DataError(f"{path!r} holds a model that cannot be rebuilt: {type(exc).__name__}: {exc}") from exc


def _check_weight_shapes(state: dict[str, Any], safe_mode: bool, path: str) -> None:
    """Refuse a header whose model would hold weights of other shapes than the tensors stored in the file (e.g.
    an edited ``units: 100000000``), before anything is allocated: the model is first built on PyTorch's
    ``meta`` device, which records shapes without memory. A model that cannot be built there (a custom layer
    that needs real data to build) is checked when its weights are loaded, after the real build.

    Raises:
        DataError: the shapes differ (the file was altered or damaged).
    """
    from nnkit.models.functional import Functional
    from nnkit.models.sequential import Sequential

    kind, stored = state.get("class_name", "Sequential"), state.get("weights")
    if not stored or kind not in ("Sequential", "Functional") or (kind == "Sequential" and not state.get("build_config")):
        return
    base = Sequential if kind == "Sequential" else Functional
    probe = type(f"Meta{kind}", (base,), {"device": _META_DEVICE})
    try:
        with torch.device("meta"):
            model = probe.from_config(deserialize(state.get("config"), safe_mode, "model config"))
            if state.get("build_config"):
                model.build_from_config(state["build_config"])
            expected = {name: tuple(tensor.shape) for name, tensor in model.module.state_dict().items()}
    except Exception:  # not buildable on the meta device: the real build and load_weights check it
        return
    found = {name: tuple(tensor.shape) for name, tensor in stored.items()}
    if list(expected.values()) != list(found.values()):
        pairs = list(zip(expected.items(), found.items()))
        differ = [f"{ours} {a} vs {theirs} {b}" for (ours, a), (theirs, b) in pairs if a != b][:3]
        details = [f"header vs stored: {'; '.join(differ)}"] if differ else []
        if len(expected) != len(found):
            details.append(f"the header's model has {len(expected)} tensors, the file {len(found)}")
        raise DataError(f"{path!r} is damaged or was altered: the model its header describes would hold weights that "
                        f"do not match the tensors stored in it ({'; '.join(details)}). Nothing was built. Use another "
                        "copy of the file.")


#: A model class attribute that keeps a probe model on the meta device whatever ``nnkit.config`` says.
_META_DEVICE = property(lambda self: torch.device("meta"), lambda self, value: None)


def _rebuild(state: dict[str, Any], compile: bool, safe_mode: bool) -> Any:
    from nnkit.models.functional import Functional
    from nnkit.models.sequential import Sequential

    kind = state.get("class_name", "Sequential")  # files from before functional models hold a Sequential
    if kind not in ("Sequential", "Functional"):
        raise DataError(f"The file holds a model of class {kind!r}; nnkit loads Sequential and Functional models.")
    config = state.get("config")
    model = (Sequential if kind == "Sequential" else Functional).from_config(
        deserialize(config, safe_mode, "model config"))
    if state.get("build_config"):
        model.build_from_config(state["build_config"])
    if state["weights"]:
        if not model.built:
            raise DataError("The file holds weights but no build shape for the model; it cannot be restored.")
        load_weights_into(model, state)
    compile_config = state.get("compile_config")
    if compile and compile_config:
        model.compile_from_config(deserialize(compile_config, safe_mode, "compile config"))
        if state.get("optimizer"):
            load_optimizer(model, state)
    return model


def load_weights(model: Any, filepath: str | os.PathLike[str], skip_mismatch: bool = False) -> None:
    """Load weights into a built model from an nnkit model or weights file, a plain safetensors file of
    ``model.module``'s tensors, or a ``.pt``/``.pth`` ``state_dict`` (read with ``torch.load(weights_only=True)``).

    Raises:
        ConfigError: the weights do not fit the model (``skip_mismatch=True`` loads the ones that do).
        DataError: the file is damaged or in no format above.
    """
    path = os.fspath(filepath)
    _build_if_declared(model)
    if not model.built:
        raise ConfigError(f"Build model '{model.name}' (model.build(input_shape), or call it on data) before "
                          "load_weights, so there are weights to load into.")
    weights = _read_weights(path)
    if skip_mismatch:
        own = model.module.state_dict()
        weights = {k: v for k, v in weights.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        merged = {**own, **weights}
        model.module.load_state_dict(merged)
        return
    load_weights_into(model, {"weights": weights})


def _read_weights(path: str) -> dict[str, torch.Tensor]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    if os.path.isdir(path):
        raise DataError(f"{path!r} is a folder, not a weights file.")
    with open(path, "rb") as f:
        head = f.read(9)
    if not _looks_like_safetensors(head) and (head[:4] == b"PK\x03\x04" or head[:1] == _PICKLE_PROTOCOL_MARK):
        try:
            weights = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for refused or damaged files
            raise DataError(f"{path!r} is not a weights-only torch file: it holds pickled Python objects "
                            f"({type(exc).__name__}), which nnkit never unpickles, as unpickling can run code. "
                            "Save the weights with model.save_weights() or torch.save(model.state_dict()).") from None
        if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
            raise DataError(f"{path!r} holds a {type(weights).__name__}, not a state_dict of tensors.")
        return dict(weights)
    try:
        return read_file(path)["weights"]
    except DataError as nnkit_error:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)  # a plain safetensors file, e.g. safetensors.torch.save_file(model.module...)
        except (SafetensorError, OSError, ValueError):
            raise nnkit_error from None
