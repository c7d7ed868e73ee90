"""The Keras callback protocol and the list that dispatches it without per-batch waste.

Besides Keras's hooks, nnkit callbacks may take part in crash recovery: ``get_state()`` returns what
:class:`~nnkit.callbacks.BackupAndRestore` must save for the callback to continue exactly where it was
(``None``: nothing), and ``set_state(state)`` puts it back after ``on_train_begin``.
"""

from __future__ import annotations

import inspect
from typing import Any

from nnkit.errors import ConfigError
from nnkit.registry import Registry, capture_config

CALLBACKS: Registry[type[Callback]] = Registry("callback")
_BATCH_HOOKS = {
    "train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
    "train_batch_end": ("on_train_batch_end", "on_batch_end"),
    "test_batch_begin": ("on_test_batch_begin",),
    "test_batch_end": ("on_test_batch_end",),
    "predict_batch_begin": ("on_predict_batch_begin",),
    "predict_batch_end": ("on_predict_batch_end",),
}


class Callback:
    """Base class for training callbacks, with every Keras hook as a no-op.

    Attributes:
        model: The model being trained (set by ``fit``); set ``self.model.stop_training = True``
            to stop after the current batch.
        params: ``{"epochs", "steps", "verbose"}`` of the current run.

    A subclass overriding a batch hook (or an instance given one, as :class:`LambdaCallback` does) makes
    the loop call it every batch; batch hooks nobody overrides are never called.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = capture_config(cls.__dict__["__init__"])

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def get_state(self) -> dict[str, Any] | None:
        """What a backup must hold to resume this callback exactly (``None``: it has no such state)."""
        return None

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state` output (called after ``on_train_begin`` when training resumes)."""

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this callback, defaults filled in."""
        parameters = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        config = {p.name: p.default for p in parameters
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.default is not p.empty}
        config.update(self.__dict__.get("_config", {}))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Callback:
        """Rebuild a callback from :meth:`get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.get("_config", {}).items())
        return f"{type(self).__name__}({args})"


def get(identifier: str | dict[str, Any] | Callback) -> Callback:
    """A callback from a name (``'early_stopping'`` or ``'EarlyStopping'``), a dict
    (``{"type": "EarlyStopping", "patience": 3}`` or ``{"class_name": ..., "config": {...}}``) or an instance.

    Raises:
        ConfigError: unknown name (with a did-you-mean) or arguments the callback does not take.
    """
    if isinstance(identifier, Callback):
        return identifier
    if isinstance(identifier, str):
        name, config = identifier, {}
    elif isinstance(identifier, dict):
        if "class_name" in identifier:
            name, config = identifier["class_name"], dict(identifier.get("config") or {})
        else:
            config = dict(identifier)
            name = config.pop("type", None)
    else:
        raise ConfigError(f"Expected a callback name, a dict or a Callback. Received: {identifier!r}.")
    from nnkit.saving.object_registration import get_custom_object

    cls = get_custom_object(name) if isinstance(name, str) else None
    cls = cls if isinstance(cls, type) and issubclass(cls, Callback) else CALLBACKS.get(name)
    try:
        return cls.from_config(config)
    except TypeError as exc:
        raise ConfigError(f"Cannot create callback {cls.__name__} from {config!r}: {exc}") from exc


def _overrides(callback: Callback, names: tuple[str, ...]) -> bool:
    own = getattr(callback, "__dict__", {})
    return any(n in own or getattr(type(callback), n, None) is not getattr(Callback, n) for n in names)


class CallbackList(Callback):
    """Calls a list of callbacks in order.

    For each batch hook it records whether any callback overrides it (``self.train_batch_end``
    and so on), so the training loop skips hooks nobody listens to. ``skip_non_finite_updates`` is true
    when a callback (:class:`TerminateOnNaN`) asks the loop not to apply an update whose loss is NaN or
    infinite. ``may_stop_in_epoch`` is true when a callback that runs on every rank has a training batch
    hook (which may set ``model.stop_training``): in distributed training the loop then agrees on stopping
    across ranks after every batch.
    """

    def __init__(self, callbacks: list[Callback] | None = None, model: Any = None,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__()
        # A backup callback runs first, so it sees every other callback between two epochs (or batches).
        self.callbacks = sorted(callbacks or [], key=lambda cb: not hasattr(cb, "restore_backup"))
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be nnkit.callbacks.Callback instances. Received: {cb!r} of type "
                    f"{type(cb).__name__}."
                )
        if model is not None:
            self.set_model(model)
        if params is not None:
            self.set_params(params)
        self._update_flags()

    def _update_flags(self) -> None:
        for flag, names in _BATCH_HOOKS.items():
            setattr(self, flag, any(_overrides(cb, names) for cb in self.callbacks))
        self.skip_non_finite_updates = any(getattr(cb, "skip_non_finite_updates", False) for cb in self.callbacks)
        # callbacks that run on every rank of a distributed fit and may stop it during an epoch
        self.may_stop_in_epoch = any(
            _overrides(cb, _BATCH_HOOKS["train_batch_begin"] + _BATCH_HOOKS["train_batch_end"])
            for cb in self.callbacks if not getattr(cb, "main_process_only", False))

    def append(self, callback: Callback) -> None:
        """Add a callback at the end (and recompute which batch hooks are live)."""
        self.callbacks.append(callback)
        callback.set_model(self.model)
        callback.set_params(self.params)
        self._update_flags()

    def restore_backup(self) -> tuple[int, int] | None:
        """Let a backup callback restore an interrupted run (called by the loop after ``on_train_begin``).

        Returns:
            ``(epoch, batches_done)`` to resume from, or ``None`` to start at ``initial_epoch``.
        """
        for cb in self.callbacks:
            restore = getattr(cb, "restore_backup", None)
            if restore is not None and not isinstance(cb, CallbackList):
                point = restore(self.callbacks)
                if point is not None:
                    return point
        return None

    def set_model(self, model: Any) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        if args[-1] is None:  # Keras hands every hook a dict of logs ({} where there are none)
            args = (*args[:-1], {})
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)
    def on_train_batch_begin(self, batch, logs=None): self._call("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._call("on_train_batch_end", batch, logs)
    def on_test_batch_begin(self, batch, logs=None): self._call("on_test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._call("on_test_batch_end", batch, logs)
    def on_predict_batch_begin(self, batch, logs=None): self._call("on_predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._call("on_predict_batch_end", batch, logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __repr__(self) -> str:
        return f"CallbackList({self.callbacks!r})"
