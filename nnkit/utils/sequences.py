"""``keras.utils.pad_sequences``: lists of variable-length sequences as one padded NumPy array."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnkit.errors import ConfigError, DataError


def pad_sequences(sequences: Sequence[Sequence[Any]], maxlen: int | None = None, dtype: str = "int32",
                  padding: str = "pre", truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pad (or cut) every sequence to ``maxlen`` (default: the longest), as Keras does.

    Args:
        sequences: Sequences of numbers (or of equal-shaped items).
        maxlen: The length of the result; longer sequences are cut.
        dtype: The dtype of the result.
        padding: ``'pre'`` pads at the start, ``'post'`` at the end.
        truncating: ``'pre'`` drops values from the start of long sequences, ``'post'`` from the end.
        value: The padding value.

    Returns:
        An array of shape ``(len(sequences), maxlen, *item_shape)``.

    Raises:
        ConfigError: an unknown ``padding`` or ``truncating``.
        DataError: a sequence is not a sequence, or its items have other shapes than the first's.
    """
    for name, mode in (("padding", padding), ("truncating", truncating)):
        if mode not in ("pre", "post"):
            raise ConfigError(f"pad_sequences expects {name} 'pre' or 'post'. Received: {name}={mode!r}.")
    try:
        arrays = [np.asarray(s) for s in sequences]
    except (TypeError, ValueError) as exc:
        raise DataError(f"pad_sequences expects a list of sequences: {exc}.") from None
    if any(a.ndim == 0 for a in arrays):
        raise DataError("pad_sequences expects a list of sequences; an entry is a single number.")
    length = maxlen if maxlen is not None else max((len(a) for a in arrays), default=0)
    item_shape = next((a.shape[1:] for a in arrays if len(a)), ())
    out = np.full((len(arrays), length, *item_shape), value, dtype=dtype)
    for i, seq in enumerate(arrays):
        if not len(seq) or not length:
            continue
        if seq.shape[1:] != item_shape:
            raise DataError(f"pad_sequences: sequence {i} has items of shape {seq.shape[1:]}, but the first "
                            f"non-empty sequence's have shape {item_shape}.")
        kept = seq[-length:] if truncating == "pre" else seq[:length]
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out
