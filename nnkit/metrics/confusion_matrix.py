"""``ConfusionMatrix``: the whole matrix as a streaming metric, with a result that prints as a table."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.metrics.base import METRICS
from nnkit.metrics.confusion import ConfusionMetric, _check_choice

NORMALIZATIONS = (None, "true", "pred", "all")


class ConfusionMatrixResult(dict):
    """A confusion matrix that logs as one entry per cell and prints as a table.

    As a ``dict`` it maps ``'{name}_{true}_{pred}'`` (multi-label: ``'{name}_{class}_{true}_{pred}'``)
    to the (weighted or normalised) count, so it merges into ``fit`` logs and History like any
    metric; ``matrix`` holds the same numbers as a NumPy array shaped like
    ``sklearn.metrics.confusion_matrix`` (or ``multilabel_confusion_matrix``).

    Attributes:
        name: The metric's name.
        matrix: ``(C, C)`` counts, rows true classes and columns predicted classes; ``(C, 2, 2)`` for
            multi-label outputs.
    """

    def __init__(self, name: str, matrix: np.ndarray) -> None:
        self.name = name
        self.matrix = matrix
        super().__init__({f"{name}_{'_'.join(map(str, index))}": float(value)
                          for index, value in np.ndenumerate(matrix)})

    def to_numpy(self) -> np.ndarray:
        """The matrix as a NumPy array."""
        return self.matrix.copy()

    def __str__(self) -> str:
        if self.matrix.size == 0:
            return f"{self.name}: empty (no batches seen)"
        if self.matrix.ndim == 3:
            blocks = [_table(f"class {c}", block, ["true 0", "true 1"], ["pred 0", "pred 1"])
                      for c, block in enumerate(self.matrix)]
            return f"{self.name} (one 2x2 matrix per class)\n" + "\n".join(blocks)
        classes = [str(c) for c in range(len(self.matrix))]
        header = f"{self.name} (rows: true class, columns: predicted class)"
        return header + "\n" + _table("", self.matrix, classes, classes)

    __repr__ = __str__


def _table(corner: str, matrix: np.ndarray, row_names: list[str], column_names: list[str]) -> str:
    integral = bool(np.all(matrix == np.round(matrix)))
    cells = [[f"{v:.0f}" if integral else f"{v:.4g}" for v in row] for row in matrix]
    width = max(len(s) for s in [*column_names, *(c for row in cells for c in row)])
    first = max(len(corner), *(len(n) for n in row_names))
    lines = [corner.ljust(first) + "  " + "  ".join(n.rjust(width) for n in column_names)]
    lines += [name.ljust(first) + "  " + "  ".join(c.rjust(width) for c in row) for name, row in zip(row_names, cells)]
    return "\n".join(line.rstrip() for line in lines)


@METRICS.register("confusion_matrix")
class ConfusionMatrix(ConfusionMetric):
    """The (weighted) confusion matrix, accumulated on the device over batches.

    ``result()`` returns a :class:`ConfusionMatrixResult`: print it for a table, take ``.matrix`` for
    the array (equal to ``sklearn.metrics.confusion_matrix(y, y_pred, labels=range(C))``).

    Args:
        threshold: ``None`` means 0.5 for one output unit and arg-max for several; a number thresholds
            each output, giving one 2x2 matrix per class (as ``multilabel_confusion_matrix``).
        normalize: ``None`` (counts), ``'true'`` (rows sum to 1), ``'pred'`` (columns sum to 1) or
            ``'all'``, as in scikit-learn; empty rows or columns give 0.
        name: Name in logs (default ``'confusion_matrix'``).
        dtype: Accepted for Keras compatibility.
        from_logits: Outputs are logits (sigmoid before ``threshold``).

    Example:
        >>> cm = ConfusionMatrix()
        >>> cm.update_state(torch.tensor([0, 1, 1]), torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]]))
        >>> print(cm.result())
        confusion_matrix (rows: true class, columns: predicted class)
           0  1
        0  1  0
        1  1  1
    """

    def __init__(self, threshold: float | None = None, normalize: str | None = None, name: str | None = None,
                 dtype: Any = None, *, from_logits: bool = False) -> None:
        super().__init__(threshold=threshold, from_logits=from_logits, name=name, dtype=dtype)
        _check_choice(self.name, "normalize", normalize, NORMALIZATIONS)
        self.normalize = normalize

    def result(self) -> ConfusionMatrixResult:  # type: ignore[override]
        if self.task is None:
            return ConfusionMatrixResult(self.name, np.zeros((0, 0)))
        matrix, _ = self._host_state()
        if self.normalize is not None:
            axes = {"true": (-1,), "pred": (-2,), "all": (-2, -1)}[self.normalize]
            total = matrix.sum(axis=axes, keepdims=True)
            matrix = np.divide(matrix, total, out=np.zeros_like(matrix), where=total > 0)
        return ConfusionMatrixResult(self.name, matrix)

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "normalize": self.normalize, "name": self.name,
                "from_logits": self.from_logits}
