"""The parameters of ``KerasClassifier``/``KerasRegressor`` and how they become a compiled model.

A model comes from a build function (``model=`` or Keras 2's ``build_fn=``), from a ``Sequential``
(copied for every fit), or from a list of layer specs to which the output layer, chosen from ``y``, is
appended. Every other parameter is routed (see :mod:`nnkit.wrappers.routing`) and searchable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError
from nnkit.models.sequential import Sequential
from nnkit.wrappers.base import BaseWrapper
from nnkit.wrappers.building import (
    check_model,
    ensure_built,
    finalize_compile,
    fresh_copy,
    layers_model,
    output_units,
)
from nnkit.wrappers.routing import (
    Routed,
    build_callbacks,
    build_fn_kwargs,
    build_fn_params,
    is_routed,
    layer_params,
    split,
    unknown_parameter,
    with_layer_overrides,
)

_COMPILE_ARGS = ("optimizer", "loss", "metrics")


class KerasWrapper(BaseWrapper):
    """Shared parameters of :class:`~nnkit.wrappers.KerasClassifier` and :class:`~nnkit.wrappers.KerasRegressor`.

    Args:
        model: A build function returning an nnkit ``Sequential`` (compiled or not), or a ``Sequential``
            (copied with new weights for every fit). ``None`` with ``layers`` below.
        build_fn: Keras 2's name for a build function; give ``model`` or ``build_fn``, not both.
        layers: Hidden layer specs, e.g. ``[Dense(64, activation="relu"), Dropout(0.2)]``; the output layer
            and loss follow from ``y``. Their arguments are searchable as ``layers__0__units``. With no
            model and no layers, one hidden ``Dense(100, activation="relu")`` (scikit-learn's MLP default).
        optimizer: Name, class or nnkit optimizer (``rmsprop``, Keras's default, when the estimator compiles);
            ``optimizer__learning_rate=...`` sets its arguments. On a model the build function compiled,
            a given optimizer (or ``optimizer__`` argument) replaces the compiled one.
        loss: Loss for the estimator to compile with (inferred from ``y`` when ``None``); ``loss__...`` args.
        metrics: Metrics logged in ``history_``.
        epochs: Passes over the data per ``fit`` (Keras's default, 1).
        batch_size: Samples per gradient step (``None``: 32).
        validation_split: Fraction of each training set (the last samples, as in Keras) held out for
            ``val_`` metrics and callbacks such as early stopping.
        callbacks: Callback instances or classes (or a ``{name: callback}`` dict); ``callbacks__0__patience``
            sets arguments. Each fit uses fresh copies.
        shuffle: Whether to shuffle the training data every epoch.
        verbose: 0 (default: quiet, also inside searches), 1 (progress bar) or 2 (a line per epoch).
        warm_start: Continue training the fitted model on the next ``fit`` instead of starting anew.
        random_state: Seed making initialisation, shuffling and dropout deterministic on CPU; the global
            random generators are left as they were.
        **kwargs: Routed parameters (``model__units``, ``optimizer__learning_rate``, ``fit__validation_freq``,
            ``predict__batch_size``, ...) and arguments of the build function by their own name.
    """

    def __init__(self, model: Any = None, *, build_fn: Any = None, layers: Any = None, optimizer: Any = None,
                 loss: Any = None, metrics: Any = None, epochs: int = 1, batch_size: int | None = None,
                 validation_split: float = 0.0, callbacks: Any = None, shuffle: bool = True, verbose: int = 0,
                 warm_start: bool = False, random_state: Any = None, **kwargs: Any) -> None:
        self.model = model
        self.build_fn = build_fn
        self.layers = layers
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.shuffle = shuffle
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        self._extra_params = kwargs

    # -- parameters -----------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, routed ones included; with ``deep``, also ``layers__<i>__<arg>``."""
        params = super().get_params(deep=deep)
        if deep:
            params.update(layer_params(self.layers))
        params.update(self._extra_params)
        return params

    def set_params(self, **params: Any) -> KerasWrapper:
        """Set parameters, routed ones (``optimizer__learning_rate``), build-function arguments by their
        name and layer arguments (``layers__0__units``, which replaces layer 0 by an updated copy).

        Raises:
            ConfigError: a name nothing accepts (the message lists the valid ones).
        """
        explicit = self._get_param_names()
        for key in explicit:
            if key in params:
                setattr(self, key, params[key])
        layer_overrides: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            if key in explicit:
                continue
            if key.startswith("layers__") and key not in self._extra_params:
                position, _, argument = key[len("layers__"):].partition("__")
                layer_overrides.setdefault(position, {})[argument] = value
            elif key in self._extra_params or self._accepts(key):
                self._extra_params[key] = value
            else:
                raise unknown_parameter(key, type(self).__name__, list(self.get_params(deep=True)))
        if layer_overrides:
            if self.layers is None:
                raise ConfigError(
                    f"{next(iter(layer_overrides))}: there is no layers list to tune. Pass layers=[...] "
                    "(the default hidden Dense(100) layer is not addressable)."
                )
            self.layers = with_layer_overrides(self.layers, layer_overrides)
        return self

    def _source(self) -> Any:
        """The model or build function given as ``model`` or ``build_fn``."""
        if self.model is not None and self.build_fn is not None:
            raise ConfigError("Give the model as `model` or as `build_fn` (its Keras 2 name), not both.")
        return self.model if self.model is not None else self.build_fn

    def _build_fn(self) -> Any:
        source = self.model if self.model is not None else self.build_fn
        return None if isinstance(source, Sequential) or not callable(source) else source

    def _accepts(self, key: str) -> bool:
        if is_routed(key) and not key.startswith("layers__"):
            return True
        names, takes_kwargs = build_fn_params(self._build_fn())
        return key in names or (takes_kwargs and "__" not in key)

    def _routed(self) -> Routed:
        """The extra parameters sorted by destination, checked against the build function."""
        build_fn = self._build_fn()
        names, takes_kwargs = build_fn_params(build_fn)
        routed = split(self._extra_params, names, takes_kwargs, type(self).__name__, self._get_param_names())
        if routed.model and build_fn is None:
            raise ConfigError(f"model__{next(iter(routed.model))} is an argument for a build function, but the "
                              "model is not given as one (model=... or build_fn=...).")
        if routed.layers and self.layers is None:
            raise ConfigError(f"layers__{next(iter(routed.layers))}__... needs a layers=[...] list.")
        unknown = [k for k in routed.predict if k != "batch_size"]
        if unknown:
            raise ConfigError(f"predict__{unknown[0]} is not a prediction setting; only predict__batch_size is.")
        return routed

    # -- hooks of BaseWrapper -----------------------------------------------------------------------
    def _random_state(self) -> Any:
        return self.random_state

    def _warm(self) -> bool:
        return bool(self.warm_start)

    def _predict_batch_size(self) -> int | None:
        return self._routed().predict.get("batch_size")

    def _fit_settings(self) -> tuple[dict[str, Any], list[Callback]]:
        routed = self._routed()
        settings = {"epochs": self.epochs, "batch_size": self.batch_size, "verbose": self.verbose,
                    "shuffle": self.shuffle, "validation_split": self.validation_split, **routed.fit}
        return settings, build_callbacks(self.callbacks, routed.callbacks)

    def _new_model(self, x: np.ndarray, y: np.ndarray, targets: Any) -> Sequential:
        routed = self._routed()
        source = self._source()
        consumed: set[str] = set()
        if source is not None and self.layers is not None:
            raise ConfigError("`layers` builds the model itself; it cannot be combined with `model`/`build_fn`.")
        if isinstance(source, Sequential):
            model = fresh_copy(source, keep_weights=bool(self.warm_start))
        elif source is not None:
            if not callable(source):
                raise TypeError(f"`model` must be a build function or an nnkit Sequential. Received: {source!r}.")
            explicit = {name: getattr(self, name) for name in self._get_param_names()}
            meta = {"n_features_in_": self.n_features_in_, "feature_names_in_": getattr(self, "feature_names_in_", None),
                    **targets.meta()}
            kwargs = build_fn_kwargs(source, routed.model, explicit, {"meta": meta})
            consumed = set(kwargs) & set(_COMPILE_ARGS)
            model = check_model(source(**kwargs), f"The build function {getattr(source, '__name__', source)!r}")
        else:
            hidden = None if self.layers is None else with_layer_overrides(self.layers, routed.layers)
            model = layers_model(hidden, *targets.output_layer(self.loss))
        ensure_built(model, x.shape[1:])
        given = {name: None if name in consumed else getattr(self, name) for name in _COMPILE_ARGS}
        finalize_compile(model, optimizer=given["optimizer"], optimizer_kwargs=routed.optimizer, loss=given["loss"],
                         loss_kwargs=routed.loss, metrics=given["metrics"],
                         default_loss=targets.default_loss(output_units(model)))
        return model
