"""nnkit: Keras-style deep learning on plain PyTorch.

``import nnkit as keras`` gives the Keras module layout: ``keras.layers``, ``keras.models``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``, ``keras.utils``,
``keras.saving``, ``keras.datasets`` and ``keras.wrappers`` (the last two load on first use).
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

__all__ = [
    "Input", "KerasTensor", "Layer", "Model", "Sequential", "__version__", "activations", "backend", "callbacks",
    "config",
    "constraints", "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers", "random",
    "regularizers", "saving", "utils",
]
_LAZY = ("datasets", "wrappers")


def _load() -> None:
    """Import the public modules (in this order, which their imports of each other allow) and names."""
    import importlib

    for name in ("activations", "backend", "callbacks", "config", "constraints", "initializers", "layers", "losses",
                 "metrics", "models", "ops", "optimizers", "random", "regularizers", "saving", "utils"):
        globals()[name] = importlib.import_module(f"nnkit.{name}")
    for name, module in (("Input", "layers"), ("KerasTensor", "layers"), ("Layer", "layers"), ("Model", "models"),
                         ("Sequential", "models")):
        globals()[name] = getattr(globals()[module], name)


def _help_only() -> bool:
    """Whether this process is the ``nnkit`` command asked only for its help or version, which it answers
    without torch (importing it takes seconds)."""
    args = _sys.argv[1:]
    return (_os.path.basename(_sys.argv[0] or "") == "nnkit"
            and (not args or any(a in ("-h", "--help", "--version") for a in args)))


if not _help_only():
    _load()


def __getattr__(name: str):  # nnkit.wrappers imports scikit-learn, so it loads on first use only (datasets too)
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"nnkit.{name}")
    if name in __all__ and name not in globals():  # the nnkit command, asked for help, skipped _load()
        _load()
        return globals()[name]
    raise AttributeError(f"module 'nnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
