"""One-file storage for nested training state: tensors in safetensors, everything else as JSON.

A state is any nesting of dicts, lists and tuples holding tensors, NumPy arrays, numbers, strings, bools
and ``None`` (a model's ``state_dict``, a torch optimizer's ``state_dict``, RNG states, epoch counters).
The tensors become the safetensors entries; the structure, with each tensor replaced by a reference to its
entry, is JSON in the file's metadata header. Loading parses JSON and raw tensor bytes only, so a file
from an untrusted source cannot run code (unlike ``pickle`` / ``torch.load``). Writes are atomic.

Tagged JSON keeps what plain JSON would lose: ``{"__tensor__": key}``, ``{"__ndarray__": key}``,
``{"__tuple__": [...]}`` and ``{"__items__": [[key, value], ...]}`` for dicts whose keys are not plain strings
(torch optimizer states are keyed by int).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from nnkit.errors import DataError
from nnkit.utils.atomic import atomic_write

FORMAT = "nnkit.state"
VERSION = 1
_TAGS = ("__tensor__", "__ndarray__", "__tuple__", "__items__", "__float__")


def encode(state: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split ``state`` into a JSON-ready structure and the tensors it refers to (copied to the CPU).

    Each tensor is named by its place in ``state`` (``weights/dense.weight``,
    ``optimizer/state/state/0/exp_avg``), so any safetensors tool shows what it is.
    """
    tensors: dict[str, torch.Tensor] = {}

    def name(place: list[str]) -> str:
        key = "/".join(place) or "tensor"
        return key if key not in tensors else f"{key}#{len(tensors)}"

    def walk(value: Any, place: list[str]) -> Any:
        where = "state" + "".join(f"[{p!r}]" for p in place)
        if isinstance(value, torch.Tensor):
            key = name(place)
            tensors[key] = value.detach().to("cpu", copy=True).contiguous()
            return {"__tensor__": key}
        if isinstance(value, np.ndarray):
            key = name(place)
            tensors[key] = torch.from_numpy(np.array(value, copy=True, order="C"))
            return {"__ndarray__": key}
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, tuple):
            return {"__tuple__": [walk(v, [*place, str(i)]) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, [*place, str(i)]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) and k not in _TAGS for k in value):
                return {k: walk(v, [*place, k]) for k, v in value.items()}
            return {"__items__": [[walk(k, place), walk(v, [*place, str(k)])] for k, v in value.items()]}
        raise TypeError(
            f"Cannot store {where} (a {type(value).__name__}) in a state file: only tensors, NumPy arrays, "
            "numbers, strings, bools, None and dicts, lists or tuples of them can be stored."
        )

    return walk(state, []), tensors


def decode(structure: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(structure, list):
        return [decode(v, tensors) for v in structure]
    if not isinstance(structure, dict):
        return structure
    if len(structure) == 1:
        (tag, payload), = structure.items()
        if tag == "__tensor__":
            return tensors[payload]
        if tag == "__ndarray__":
            return tensors[payload].numpy()
        if tag == "__tuple__":
            return tuple(decode(v, tensors) for v in payload)
        if tag == "__items__":
            return {_hashable(decode(k, tensors)): decode(v, tensors) for k, v in payload}
        if tag == "__float__":
            return float(payload)
    return {k: decode(v, tensors) for k, v in structure.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def checksum(text: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the JSON text and every tensor's name, dtype, shape and bytes (detects bit rot and
    truncation that a parser would not notice, such as a flipped bit inside a weight)."""
    digest = hashlib.sha256(text.encode("utf-8"))
    for key in sorted(tensors):
        tensor = tensors[key].contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def dumps(state: Any) -> bytes:
    """``state`` as the bytes of a state file."""
    structure, tensors = encode(state)
    text = json.dumps(structure, allow_nan=False)
    metadata = {"format": FORMAT, "version": str(VERSION), "state": text, "sha256": checksum(text, tensors)}
    return save_tensors(tensors, metadata=metadata)


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """Parse the bytes of a state file.

    Raises:
        DataError: the bytes are not an nnkit state file.
    """
    try:
        tensors = load_tensors(data)
        header_size = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8:8 + header_size]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError, AttributeError, OverflowError, RecursionError) as exc:
        raise DataError(f"{source} is not a readable nnkit state file ({exc}).") from exc
    if metadata.get("format") != FORMAT:
        raise DataError(
            f"{source} is a safetensors file but not an nnkit state file (its metadata has no "
            f"format={FORMAT!r}); it holds tensors {sorted(tensors)[:5]}."
        )
    version = metadata.get("version", "")
    if not version.isdigit() or int(version) < 1 or not isinstance(metadata.get("state"), str) \
            or not isinstance(metadata.get("sha256"), str):
        raise DataError(f"{source} is damaged: its nnkit header lacks a valid version, state or checksum.")
    if int(version) > VERSION:
        raise DataError(f"{source} was written by a newer nnkit (state file version {version}); upgrade nnkit to read it.")
    if metadata["sha256"] != checksum(metadata["state"], tensors):
        raise DataError(f"{source} is corrupted: its contents do not match the checksum written with them "
                        "(a damaged copy or an incomplete download). Use another copy of the file.")
    try:
        return decode(json.loads(metadata["state"]), tensors)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise DataError(f"{source} is damaged: its state header cannot be read ({exc}).") from exc


def save_state(path: str | os.PathLike[str], state: Any) -> None:
    """Write ``state`` to ``path`` atomically (the previous file stays intact if the process dies)."""
    atomic_write(path, dumps(state))


def load_state(path: str | os.PathLike[str]) -> Any:
    """Read a file written by :func:`save_state`; tensors come back on the CPU.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataError: the file is not an nnkit state file.
    """
    with open(path, "rb") as f:
        data = f.read()
    return loads(data, source=repr(os.fspath(path)))
