"""LambdaCallback: a callback assembled from plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnkit.callbacks.callback import Callback

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_batch_begin", "on_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """Run the given functions at the matching hooks, with the hook's arguments.

    ``on_epoch_begin``/``on_epoch_end`` receive ``(epoch, logs)``, the batch hooks ``(batch, logs)``, and
    ``on_train_begin``/``on_train_end`` ``(logs)``. Any other hook of :class:`Callback` may be given by
    name (e.g. ``on_test_end=...``). Only the batch hooks given are called per batch.

    Example:
        >>> print_epoch = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))

    Raises:
        TypeError: an argument is not a hook name, or a hook is not callable.
    """

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        unknown = sorted(set(kwargs) - set(_HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got unexpected arguments: {', '.join(unknown)}. "
                            f"Hooks it accepts: {', '.join(_HOOKS)}.")
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        self._given = sorted(name for name, fn in given.items() if fn is not None)
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback expects `{name}` to be a function. Received: {fn!r}.")
            setattr(self, name, fn)  # an instance attribute: CallbackList sees the hook as overridden

    def __repr__(self) -> str:
        return f"LambdaCallback({', '.join(self._given)})"
