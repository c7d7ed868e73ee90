"""Values of Keras's docstring examples compared: normalized to NumPy, checked with a tolerance or the docs.

Keras's values are the reference. A value that changes when Keras's own RNG is seeded otherwise is random,
so only its shape and dtype count; where Keras on torch strays from what its own docs show and nnkit
gives the documented value, the docs win.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tests.keras_docs.examples import Outcome

RTOL, ATOL = 1e-4, 1e-6


class Opaque:
    """A value compared by its type only (a layer, a model, a function)."""

    def __init__(self, value: object) -> None:
        self.type = type(value).__name__

    def __repr__(self) -> str:
        return f"<{self.type}>"


def normalize(value: object) -> object:
    """Tensors, variables and arrays to NumPy (0-d arrays from scalar tensors); containers recursively."""
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None), np.generic, np.ndarray)):
        return value
    if isinstance(value, (list, tuple)):
        if type(value).__name__ == "Size":  # torch.Size
            return tuple(int(v) for v in value)
        items = [normalize(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    array = _to_numpy(value)
    return Opaque(value) if array is None else array


def _to_numpy(value: object) -> np.ndarray | None:
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().resolve_conj()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()  # NumPy has no bfloat16
    for attr in ("numpy", "value"):  # keras.Variable, nnkit variables
        if hasattr(value, attr) and type(value).__name__ in ("Variable", "KerasVariable", "Parameter"):
            inner = getattr(value, attr)
            inner = inner() if callable(inner) else inner
            return _to_numpy(inner) if not isinstance(inner, np.ndarray) else inner
    if hasattr(value, "__array__") and not isinstance(value, type):
        try:
            return np.asarray(value)
        except Exception:
            return None
    return None


def holds_data(value: object) -> bool:
    if isinstance(value, (np.ndarray, np.generic, int, float, complex)):
        return True
    if isinstance(value, (list, tuple)):
        return any(holds_data(v) for v in value)
    if isinstance(value, dict):
        return any(holds_data(v) for v in value.values())
    return False


def same(a: object, b: object) -> bool:
    """Whether two normalized values agree exactly (used to tell random Keras examples)."""
    return difference(a, b, rtol=0.0, atol=0.0, shapes_only=False) is None


def difference(
    expected: object, actual: object, rtol: float = RTOL, atol: float = ATOL, shapes_only: bool = False
) -> str | None:
    """Why ``actual`` does not match ``expected``, or None when it does."""
    if isinstance(expected, Opaque) or isinstance(actual, Opaque):
        return None  # objects: running is enough
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return f"keys {sorted(map(str, expected))} != {sorted(map(str, actual))}"
        for key in expected:
            if (why := difference(expected[key], actual[key], rtol, atol, shapes_only)) is not None:
                return f"[{key!r}]: {why}"
        return None
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        if len(expected) != len(actual):
            return f"length {len(expected)} != {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            if (why := difference(e, a, rtol, atol, shapes_only)) is not None:
                return f"[{i}]: {why}"
        return None
    if isinstance(expected, (str, bytes)) or isinstance(actual, (str, bytes)):
        return None if expected == actual else f"{expected!r} != {actual!r}"
    try:
        e, a = np.asarray(expected), np.asarray(actual)
    except Exception:
        return None if expected == actual else f"{expected!r} != {actual!r}"
    if e.shape != a.shape:
        return f"shape {e.shape} != {a.shape}"
    both_arrays = isinstance(expected, np.ndarray) and isinstance(actual, np.ndarray)
    if both_arrays and e.dtype != a.dtype:
        return f"dtype {e.dtype} != {a.dtype}"
    if shapes_only or e.dtype == object or a.dtype == object:
        return None
    try:
        if e.dtype.kind in "biufc" and a.dtype.kind in "biufc":
            ok = np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = bool(np.all(e == a))
    except TypeError:
        ok = bool(np.all(e == a))
    if ok:
        return None
    return f"values differ: Keras {_short(e)} nnkit {_short(a)}"


def _short(array: np.ndarray) -> str:
    text = np.array2string(array, precision=5, threshold=8, max_line_width=80, separator=", ")
    return text.replace("\n", " ")


def documented_value(shown: str) -> np.ndarray | None:
    """The number or array a doctest shows (``0.6666667``, ``array([1., 2.], dtype=float32)``), or None."""
    text = shown.strip()
    if (match := re.search(r"numpy=(.*)>$", text, re.S)) is not None:  # <tf.Tensor: ..., numpy=...>
        text = match.group(1)
    if (match := re.match(r"^(?:array|tensor|Array)\((.*)\)$", text, re.S)) is not None:
        text = re.sub(r",\s*(?:dtype|shape)=.*$", "", match.group(1), flags=re.S)
    text = re.sub(r"(?<=[\d.\]])\s+(?=[-\d.\[])", ", ", text.replace("\n", " "))  # [1. 2.] -> [1., 2.]
    try:
        array = np.asarray(ast.literal_eval(text.replace("nan", "None")), dtype=float)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return array if array.dtype.kind == "f" else None


def _matches_docs(shown: str, value: object) -> bool:
    documented = documented_value(shown)
    try:
        actual = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return (
        documented is not None
        and documented.shape == actual.shape
        and bool(np.allclose(actual, documented, rtol=1e-2, atol=1e-3, equal_nan=True))
    )


def compare(keras_run: Outcome, keras_rerun: Outcome, nnkit_run: Outcome) -> str | None:
    """Why nnkit's run of an example differs from Keras's, or None when it agrees.

    A value that Keras gives differently when its own RNG is seeded otherwise (NumPy's draws kept) is
    random: only its shape and dtype count.
    A value the docs do not show may be None under nnkit (``update_state``'s return). Where Keras on torch strays from the value its own docs
    show (integer inputs it does not cast) and nnkit gives the documented value, the docs win.
    """
    if nnkit_run.error is not None:
        return nnkit_run.error
    if keras_run.labels != nnkit_run.labels:
        missing = [label for label in keras_run.labels if label not in nnkit_run.labels]
        return f"nnkit left other values: Keras {keras_run.labels}, nnkit {nnkit_run.labels} (missing {missing})"
    rows = zip(keras_run.labels, keras_run.shown, keras_run.values, keras_rerun.values, nnkit_run.values)
    for label, shown, expected, rerun, actual in rows:
        if shown == "" and actual is None:  # Keras returns something its docs do not show, nnkit nothing
            continue
        random = not same(expected, rerun)
        why = difference(expected, actual, shapes_only=random)
        if why is not None and shown and _matches_docs(shown, actual) and not _matches_docs(shown, expected):
            continue
        if why is not None:
            return f"`{label}`{' (random)' if random else ''}: {why}"
    return None
