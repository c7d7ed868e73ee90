"""The small datasets that ship inside scikit-learn: no download, same numbers as ``sklearn.datasets``."""

from __future__ import annotations

import numpy as np

DESCRIPTIONS = {
    "breast_cancer": "Breast cancer diagnosis: 569 samples, 30 features, 2 classes (scikit-learn).",
    "diabetes": "Diabetes progression after one year: 442 samples, 10 features (scikit-learn).",
    "digits": "8x8 handwritten digits: 1797 samples, 64 features (0-16), 10 classes (scikit-learn).",
    "iris": "Iris flowers: 150 samples, 4 features, 3 classes (scikit-learn).",
    "wine": "Wine cultivars: 178 samples, 13 features, 3 classes (scikit-learn).",
}
REGRESSION = frozenset({"diabetes"})


def load_bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.load_<name>(return_X_y=True)`` as float32 ``X`` and int64 labels (float32 targets).

    Args:
        name: A key of :data:`DESCRIPTIONS`.

    Returns:
        ``(X, y)`` with scikit-learn's values, ``X`` unscaled.
    """
    import sklearn.datasets  # scikit-learn loads only when a dataset is asked for

    X, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    return X.astype(np.float32), y.astype(np.float32 if name in REGRESSION else np.int64)


def class_names(name: str) -> list[str] | None:
    """scikit-learn's ``target_names`` of a bundled classification set (``None`` for regression)."""
    if name in REGRESSION:
        return None
    import sklearn.datasets

    return [str(n) for n in getattr(sklearn.datasets, f"load_{name}")().target_names]
