"""Keras's docstring examples as data: find them and run them under Keras or under nnkit.

An example is one paragraph of ``>>>`` lines or one fenced ```` ```python ```` block of the docstring of a
Keras object that nnkit also exports. The examples of one docstring share a namespace and run in order, as
doctest runs them; ``run_docstring`` runs them all once and records per example the values of its
expression statements (doctest) and the arrays and numbers it leaves in its variables.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import doctest
import importlib
import inspect
import io
import os
import random
import re
import tempfile
import time
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from tests.keras_docs.values import holds_data, normalize

MODULES = (
    "layers",
    "metrics",
    "losses",
    "optimizers",
    "optimizers.schedules",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
    "callbacks",
    "utils",
    "ops",
    "random",
    "backend",
    "config",
    "saving",
    "models",
    "datasets",
)
SEEDS = (1337, 4242)  # a second Keras run with the framework reseeded tells random values from fixed ones

# Sources that Keras cannot run here: it would need TensorFlow, the network or files we do not have.
_CANNOT_RUN = {
    r"\btf\.|import tensorflow": "needs TensorFlow",
    r"\bjax\b|\btfds\b|\btf_keras\b": "needs JAX / tensorflow_datasets",
    r"load_data\(|get_file\(|https?://": "needs the network",
    r"_from_directory\(|\.(?:png|jpg|wav|h5|csv)\b": "needs files on disk",
}
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Example:
    """One example of the docstring of ``keras.<module>.<name>``: doctest statements or one fenced block."""

    id: str
    module: str
    name: str
    kind: str  # "doctest" or "python"
    statements: tuple[str, ...]
    wants: tuple[str, ...]  # the output the docs show under each statement ("" for none and for fenced code)
    line: int

    @property
    def source(self) -> str:
        return "".join(s if s.endswith("\n") else s + "\n" for s in self.statements)

    @property
    def cannot_run(self) -> str | None:
        """Why Keras cannot run this example here, from its source text alone, or None."""
        for pattern, reason in _CANNOT_RUN.items():
            if re.search(pattern, self.source):
                return reason
        return None


@dataclass
class Outcome:
    """What one example did: the values it produced (normalized to NumPy) or the error it stopped at."""

    values: list[object] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    shown: list[str | None] = field(default_factory=list)  # the docs' output for each value; None: compare all
    error: str | None = None
    seconds: float = 0.0


def public_names(module: types.ModuleType) -> list[str]:
    """The public names a module exports: ``__all__`` when it has one, else its non-module attributes."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not isinstance(getattr(module, n), types.ModuleType)]
    return sorted(n for n in names if not n.startswith("_"))


def documented_objects(nnkit: types.ModuleType, keras: types.ModuleType) -> Iterator[tuple[str, str, str]]:
    """Yield ``(module, name, docstring)`` for every public nnkit name that Keras documents too.

    Aliases of one Keras object (``mse`` and ``mean_squared_error``) give its docstring once, under the
    object's own ``__name__`` when that is one of the names.
    """
    for module in MODULES:
        try:
            ours = importlib.import_module(f"nnkit.{module}")
            theirs = importlib.import_module(f"keras.{module}")
        except ImportError:
            continue
        by_object: dict[int, list[str]] = {}
        objects = {}
        for name in public_names(ours):
            obj = getattr(theirs, name, None)
            if obj is None or isinstance(obj, types.ModuleType) or not isinstance(obj.__doc__, str):
                continue
            if not inspect.isclass(obj) and obj.__doc__ is type(obj).__doc__:  # a constant: int's docstring
                continue
            by_object.setdefault(id(obj), []).append(name)
            objects[id(obj)] = obj
        for key, names in by_object.items():
            own = getattr(objects[key], "__name__", None)
            name = own if own in names else names[0]
            doc = inspect.cleandoc(objects[key].__doc__)
            if ">>>" in doc or "```python" in doc:
                yield module, name, doc


def parse_examples(module: str, name: str, doc: str) -> list[Example]:
    """The examples of one docstring in the order they appear, numbered from 0."""
    found: list[tuple[int, str, list[str], list[str]]] = []
    for match in _FENCE.finditer(doc):
        found.append((doc.count("\n", 0, match.start()), "python", [match.group(1)], [""]))
    without_fences = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), doc)
    group: list[doctest.Example] = []
    for part in [*doctest.DocTestParser().parse(without_fences), "\n"]:
        if isinstance(part, doctest.Example):
            group.append(part)
        elif part and group:  # a blank line or prose ends a paragraph of >>> lines
            found.append((group[0].lineno, "doctest", [e.source for e in group], [e.want for e in group]))
            group = []
    found.sort(key=lambda item: item[0])
    return [
        Example(f"{module}.{name}[{i}]", module, name, kind, tuple(sources), tuple(wants), line)
        for i, (line, kind, sources, wants) in enumerate(found)
    ]


def collect(nnkit: types.ModuleType, keras: types.ModuleType) -> list[Example]:
    """Every example of every Keras docstring of a name nnkit exports."""
    return [ex for module, name, doc in documented_objects(nnkit, keras) for ex in parse_examples(module, name, doc)]


def port_source(source: str) -> str:
    """The source with only its imports changed, as a user ports a program: ``keras`` -> ``nnkit``.

    Keras's private ``keras.src`` paths that a few docstrings import from become the public ones.
    """
    source = re.sub(r"\bkeras\.src\b", "keras", source)
    source = re.sub(r"^(\s*)import keras\s*$", r"\1import nnkit as keras", source, flags=re.M)
    source = re.sub(r"^(\s*)import keras\.", r"\1import nnkit.", source, flags=re.M)
    return re.sub(r"^(\s*)from keras([. ])", r"\1from nnkit\2", source, flags=re.M)


def fresh_namespace(root: types.ModuleType, module: str) -> dict[str, object]:
    """The names Keras's docs assume: ``keras``, ``ops``, ``layers``, ``np`` and the documented module's names.

    ``keras`` is ``root`` (Keras or nnkit). The docstrings of ``keras.initializers`` say ``GlorotNormal()``
    and ``Dense(3, kernel_initializer=...)``, so the public names of ``layers`` and of the documented module
    are in scope too, except those that shadow a builtin and all of ``ops``, whose docs spell ``ops.sum``.
    """
    namespace: dict[str, object] = {}
    for path in () if module == "ops" else ("layers", module):
        source = importlib.import_module(f"{root.__name__}.{path}")
        namespace.update((n, getattr(source, n)) for n in public_names(source) if not hasattr(builtins, n))
    namespace.update(__name__="__example__", keras=root, ops=root.ops, layers=root.layers, np=np)
    return namespace


def seed_everything(root: types.ModuleType, seed: int, framework_seed: int | None = None) -> None:
    """Fresh names and one seed for Python, NumPy and torch, the same way under Keras and nnkit.

    ``framework_seed`` reseeds only Python's ``random`` and torch (Keras's and nnkit's own random draws), so
    the example's ``np.random`` inputs stay the same and only values that depend on the framework's RNG
    change.
    """
    try:
        root.utils.clear_session(free_memory=False)  # Keras's gc.collect() costs half a second a call
    except TypeError:
        root.utils.clear_session()
    root.utils.set_random_seed(seed)
    if framework_seed is not None:
        import torch

        random.seed(framework_seed)
        torch.manual_seed(framework_seed)


_SETTINGS = (
    ("floatx", "set_floatx"),
    ("epsilon", "set_epsilon"),
    ("image_data_format", "set_image_data_format"),
    ("dtype_policy", "set_dtype_policy"),
)


@contextlib.contextmanager
def _sandbox(root: types.ModuleType) -> Iterator[None]:
    """Run in a scratch directory with warnings and prints silenced; restore the global config after."""
    config = root.config
    saved = {setter: getattr(config, getter)() for getter, setter in _SETTINGS if hasattr(config, setter)}
    interactive = getattr(config, "is_interactive_logging_enabled", lambda: None)()
    registered = root.saving.get_custom_objects()  # examples clear or fill it; other tests rely on it
    registered_before = dict(registered)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            os.chdir(cwd)
            registered.clear()
            registered.update(registered_before)
            for setter, value in saved.items():
                getattr(config, setter)(value)
            if interactive is not None:
                getattr(config, "enable_interactive_logging" if interactive else "disable_interactive_logging")()


def _statement_values(source: str, namespace: dict) -> tuple[list[object], list[str]]:
    """Run one doctest statement; an expression gives its value, ``print(a, b)`` gives ``a`` and ``b``."""
    tree = ast.parse(source)
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
        expr = tree.body[0].value
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "print":
            values = [eval(compile(ast.Expression(arg), "<example>", "eval"), namespace) for arg in expr.args]
            return values, [ast.unparse(arg) for arg in expr.args]
        return [eval(compile(ast.Expression(expr), "<example>", "eval"), namespace)], [ast.unparse(expr)]
    exec(compile(tree, "<example>", "exec"), namespace)
    return [], []


def _run_example(example: Example, namespace: dict, ported: bool) -> Outcome:
    outcome = Outcome()
    start = time.perf_counter()
    before = dict(namespace)
    for index, (source, want) in enumerate(zip(example.statements, example.wants)):
        source = port_source(source) if ported else source
        expects_error = want.lstrip().startswith(_TRACEBACK)
        try:
            values, labels = _statement_values(source, namespace)
        except Exception as error:
            if expects_error:
                builtin = next(c for c in type(error).__mro__ if c.__module__ == "builtins")
                outcome.values.append(f"raises {builtin.__name__}")  # nnkit's errors subclass the builtins
                outcome.labels.append(f"statement {index}")
                outcome.shown.append(None)
                continue
            outcome.error = f"statement {index} `{_first_line(source)}`: {type(error).__name__}: {_first_line(error)}"
            break
        if expects_error:
            outcome.error = f"statement {index} `{_first_line(source)}` was expected to raise but did not"
            break
        outcome.values += [normalize(v) for v in values]
        outcome.labels += labels
        if example.kind == "doctest" and len(values) == 1:
            outcome.shown.append(want.strip())  # "" when the docs show nothing
        else:
            outcome.shown += [None] * len(values)
    if outcome.error is None:
        for name, value in namespace.items():  # the arrays and numbers the example left in its variables
            if not name.startswith("_") and before.get(name, object()) is not value:
                normal = normalize(value)
                if holds_data(normal):
                    outcome.values.append(normal)
                    outcome.labels.append(name)
                    outcome.shown.append(None)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _first_line(text: object, limit: int = 200) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""


def run_docstring(
    examples: list[Example], root: types.ModuleType, seed: int, framework_seed: int | None = None
) -> dict[str, Outcome]:
    """Run the examples of one docstring in order in one namespace under ``root`` (keras or nnkit)."""
    ported = root.__name__ != "keras"
    namespace = fresh_namespace(root, examples[0].module) if examples else {}
    outcomes = {}
    with _sandbox(root):
        seed_everything(root, seed, framework_seed)
        text = "".join(example.source for example in examples)
        if re.search(r"\bmodel\.", text) and not re.search(r"^\s*model\s*=", text, re.M):
            # "Usage with compile()" fragments use a `model` they never define: give them a small one.
            namespace["model"] = root.Sequential([root.Input(shape=(4,)), root.layers.Dense(2)])
        for example in examples:
            outcomes[example.id] = _run_example(example, namespace, ported)
    return outcomes
