"""Keras-style automatic names: ``dense``, ``dense_1``, ``dense_2`` ... per process."""

from __future__ import annotations

from collections import defaultdict

_COUNTS: defaultdict[str, int] = defaultdict(int)


def unique_name(prefix: str) -> str:
    """Return ``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ..."""
    count = _COUNTS[prefix]
    _COUNTS[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Reset automatic layer and model names, as ``keras.backend.clear_session()`` does."""
    _COUNTS.clear()
