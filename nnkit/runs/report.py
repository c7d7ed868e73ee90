"""Plain-text tables for the terminal: metrics, datasets, search candidates."""

from __future__ import annotations

import math
from typing import Any


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits (integers as they are), everything else as text."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def format_table(headers: list[str], rows: list[list[Any]], align_numbers: bool = True) -> str:
    """An aligned table with a rule under the header; numeric columns are right-aligned.

    Example:
        >>> print(format_table(["metric", "value"], [["loss", 0.25], ["accuracy", 0.9]]))
        metric    value
        --------  -----
        loss       0.25
        accuracy    0.9
    """
    cells = [[format_value(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    numeric = [align_numbers and bool(rows) and all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool)
                                                    for row in rows) for i in range(len(headers))]

    def line(values: list[str], header: bool = False) -> str:
        parts = [v.rjust(w) if num and not header else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers, header=True), "  ".join("-" * w for w in widths), *(line(r) for r in cells)])


def metrics_table(metrics: dict[str, float]) -> str:
    """``metric  value`` rows, loss first."""
    return format_table(["metric", "value"], [[name, float(value)] for name, value in metrics.items()])
