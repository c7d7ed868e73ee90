"""docs/ports.md (which Keras names nnkit has) is generated from the code and must be up to date."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("keras")  # tests/conftest.py has set KERAS_BACKEND=torch

TOOL = Path(__file__).resolve().parents[2] / "tools" / "ports.py"


def _ports_tool():
    spec = importlib.util.spec_from_file_location("nnkit_ports_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ports_table_is_up_to_date() -> None:
    ports = _ports_tool()
    expected = ports.render()
    current = ports.PORTS_MD.read_text(encoding="utf-8") if ports.PORTS_MD.exists() else ""
    diff = "".join(
        list(
            difflib.unified_diff(
                current.splitlines(True), expected.splitlines(True), "docs/ports.md", "from the code", n=0
            )
        )[:40]
    )
    assert current == expected, (
        f"docs/ports.md is out of date with nnkit's names; regenerate it with `{ports.REGENERATE}` "
        f"(run from the repository root) and commit it.\n{diff}"
    )


def test_ports_table_counts_names_nnkit_has() -> None:
    rows = {module: (has, missing) for module, has, missing in _ports_tool().table()}
    has, missing = rows["keras.layers"]
    assert "Dense" in has and "Dense" not in missing
    assert all(not name.startswith("_") for name in has + missing)
