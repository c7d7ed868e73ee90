"""Keras's own documentation as the test: every docstring example of a name nnkit exports runs as under Keras.

Each example runs under Keras (twice, its RNG seeded two ways, to tell random results from fixed ones) and under
nnkit with only its imports changed; the values it shows (``>>>``) or the arrays it leaves (fenced blocks)
must agree. Examples Keras cannot run here are skipped with the reason; known failures are listed in
``known_failures.py``. Run one by its id:
``pytest "tests/keras_docs/test_docstring_examples.py::test_example_runs_as_under_keras[metrics.Precision[2]]"``.
"""

from __future__ import annotations

import functools
from collections import defaultdict

import numpy as np
import pytest

import nnkit
from tests.keras_docs.examples import SEEDS, Example, Outcome, collect, parse_examples, port_source, run_docstring
from tests.keras_docs.known_failures import DELIBERATE, KNOWN_FAILURES, TOO_SLOW
from tests.keras_docs.values import compare, documented_value

keras = pytest.importorskip("keras")  # tests/conftest.py has set KERAS_BACKEND=torch
if keras.backend.backend() != "torch":
    pytest.skip("Keras must run on the torch backend (KERAS_BACKEND=torch)", allow_module_level=True)

EXAMPLES = collect(nnkit, keras)
_BY_DOCSTRING: dict[tuple[str, str], list[Example]] = defaultdict(list)
for _example in EXAMPLES:
    _BY_DOCSTRING[_example.module, _example.name].append(_example)


def _marks(example: Example) -> list[pytest.MarkDecorator]:
    if example.id in DELIBERATE:
        return [pytest.mark.skip(reason=f"nnkit differs on purpose: {DELIBERATE[example.id]}")]
    if example.id in KNOWN_FAILURES:
        return [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[example.id])]
    return []


@functools.cache
def _runs(module: str, name: str) -> tuple[dict[str, Outcome], dict[str, Outcome], dict[str, Outcome]]:
    """Keras (twice: its own RNG seeded two ways) and nnkit runs of one docstring's examples, once per session."""
    runnable = [e for e in _BY_DOCSTRING[module, name] if e.id not in TOO_SLOW and e.cannot_run is None]
    return (
        run_docstring(runnable, keras, SEEDS[0]),
        run_docstring(runnable, keras, SEEDS[0], SEEDS[1]),
        run_docstring(runnable, nnkit, SEEDS[0]),
    )


@pytest.mark.parametrize("example", [pytest.param(e, id=e.id, marks=_marks(e)) for e in EXAMPLES])
def test_example_runs_as_under_keras(example: Example) -> None:
    if example.id in TOO_SLOW:
        pytest.skip(f"too slow for the suite: {TOO_SLOW[example.id]}")
    if example.cannot_run is not None:
        pytest.skip(f"Keras cannot run it here: {example.cannot_run}")
    keras_run, keras_rerun, nnkit_run = (runs[example.id] for runs in _runs(example.module, example.name))
    if keras_run.error is not None:
        pytest.skip(f"Keras cannot run it here: {keras_run.error}")
    why = compare(keras_run, keras_rerun, nnkit_run)
    assert why is None, f"{example.id} differs from Keras: {why}\n--- example ---\n{example.source}"


def test_examples_are_found() -> None:
    """The harness sees the examples of the names nnkit ports (a guard against a parser that finds none)."""
    ids = {e.id for e in EXAMPLES}
    assert len(EXAMPLES) > 300
    assert {"metrics.Precision[0]", "layers.Dense[0]", "ops.relu[0]"} & ids
    assert set(TOO_SLOW) | set(DELIBERATE) | set(KNOWN_FAILURES) <= ids, "a table names an example that is gone"


def test_porting_changes_only_the_imports() -> None:
    source = "import keras\nfrom keras.layers import Dense\nfrom keras.src import ops\nx = keras.ops.ones(2)\n"
    assert port_source(source) == (
        "import nnkit as keras\nfrom nnkit.layers import Dense\nfrom nnkit import ops\nx = keras.ops.ones(2)\n"
    )


def test_doctest_paragraphs_are_examples() -> None:
    doc = "Text.\n\n>>> a = 1\n>>> a + 1\n2\n\n>>> a\n1\n\n```python\nb = a\n```\n"
    examples = parse_examples("m", "f", doc)
    assert [(e.id, e.kind, e.statements) for e in examples] == [
        ("m.f[0]", "doctest", ("a = 1\n", "a + 1\n")),
        ("m.f[1]", "doctest", ("a\n",)),
        ("m.f[2]", "python", ("b = a\n",)),
    ]
    assert examples[0].wants == ("", "2\n")


@pytest.mark.parametrize(
    ("shown", "value"),
    [
        ("0.6666667", 0.6666667),
        ("array([1., 2.], dtype=float32)", [1.0, 2.0]),
        ("[[0. 1.]\n [2. 3.]]", [[0, 1], [2, 3]]),
    ],
)
def test_documented_values_are_read(shown: str, value: object) -> None:
    np.testing.assert_allclose(documented_value(shown), value)
