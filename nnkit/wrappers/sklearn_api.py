"""``SKLearnClassifier`` and ``SKLearnRegressor`` with Keras 3's signature and semantics.

``model`` is a compiled ``Sequential`` (copied with new weights for every fit unless ``warm_start``) or
a function ``model(X=X, y=y, **model_kwargs)`` returning one; the classifier hands it ``y`` one-hot
encoded, the regressor as a 2-D array. ``fit_kwargs`` go to ``Sequential.fit`` (``fit``'s own keyword
arguments take precedence). Unlike Keras 3, ``clone`` keeps ``fit_kwargs`` (Keras drops them, so inside
a search every candidate trains for one epoch), fitting never mutates ``fit_kwargs``, and the entries of
both dicts are searchable as ``model_kwargs__<name>`` and ``fit_kwargs__<name>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError, NotReadyError
from nnkit.models.sequential import Sequential
from nnkit.wrappers.base import BaseWrapper
from nnkit.wrappers.building import check_model, ensure_built, fresh_copy
from nnkit.wrappers.classifier import ClassifierMethods
from nnkit.wrappers.regressor import RegressorMethods
from nnkit.wrappers.routing import build_callbacks, unknown_parameter
from nnkit.wrappers.targets import SINGLE_OUTPUT

_DICT_PARAMS = ("model_kwargs", "fit_kwargs")


def _require_compiled(model: Sequential) -> Sequential:
    if not model.compiled or model.loss is None or model.optimizer is None:
        raise NotReadyError("Given model needs to be compiled, and have a loss and an optimizer.")
    return model


class SKLearnWrapper(BaseWrapper):
    """Keras 3's ``SKLBase``: see the module docstring.

    Args:
        model: A compiled nnkit ``Sequential``, or a callable ``model(X, y, **model_kwargs)`` returning one.
        warm_start: Continue from the previous fit's weights (the first fit of a given model starts from
            that model's current weights).
        model_kwargs: Keyword arguments for ``model`` when it is callable.
        fit_kwargs: Keyword arguments for ``Sequential.fit`` (``verbose`` defaults to 0 here).
    """

    def __init__(self, model: Any, warm_start: bool = False, model_kwargs: dict[str, Any] | None = None,
                 fit_kwargs: dict[str, Any] | None = None) -> None:
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    # -- parameters -----------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The four parameters; with ``deep``, also ``model_kwargs__<name>`` and ``fit_kwargs__<name>``."""
        params = super().get_params(deep=deep)
        if deep:
            for name in _DICT_PARAMS:
                value = getattr(self, name)
                if isinstance(value, dict):
                    params.update({f"{name}__{key}": item for key, item in value.items()})
        return params

    def set_params(self, **params: Any) -> SKLearnWrapper:
        """Set parameters; ``model_kwargs__units=...`` replaces ``model_kwargs`` by an updated copy."""
        explicit = self._get_param_names()
        for key in explicit:
            if key in params:
                setattr(self, key, params[key])
        for key, value in params.items():
            if key in explicit:
                continue
            name, _, entry = key.partition("__")
            if name not in _DICT_PARAMS or not entry:
                raise unknown_parameter(key, type(self).__name__, [*explicit, "model_kwargs__<name>",
                                                                   "fit_kwargs__<name>"])
            current = getattr(self, name)
            if current is not None and not isinstance(current, dict):
                raise ConfigError(f"{key}: {name} must be a dict or None. Received: {current!r}.")
            setattr(self, name, {**(current or {}), entry: value})
        return self

    def _dict(self, name: str) -> dict[str, Any]:
        value = getattr(self, name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a dict of keyword arguments or None. Received: {value!r}.")
        return dict(value)

    # -- hooks of BaseWrapper -------------------------------------------------------------------
    def _warm(self) -> bool:
        return bool(self.warm_start)

    def _fit_settings(self) -> tuple[dict[str, Any], list[Callback]]:
        settings = {"verbose": 0, **self._dict("fit_kwargs")}
        return settings, build_callbacks(settings.pop("callbacks", None), {})

    def _build_y(self, y: np.ndarray, targets: Any) -> np.ndarray:
        return y.reshape(len(y), -1).astype(np.float64)

    def _new_model(self, x: np.ndarray, y: np.ndarray, targets: Any) -> Sequential:
        if isinstance(self.model, Sequential):
            model = fresh_copy(_require_compiled(self.model), keep_weights=bool(self.warm_start))
        elif callable(self.model):
            built = self.model(X=x, y=self._build_y(y, targets), **self._dict("model_kwargs"))
            model = _require_compiled(check_model(built, f"The model function {getattr(self.model, '__name__', '')!r}"))
        else:
            raise TypeError(f"`model` must be a compiled nnkit Sequential or a function returning one. "
                            f"Received: {self.model!r}.")
        ensure_built(model, x.shape[1:])
        return model


class SKLearnClassifier(ClassifierMethods, ClassifierMixin, SKLearnWrapper):
    """Keras 3's ``keras.wrappers.SKLearnClassifier`` on nnkit: binary and multiclass labels of any type.

    The build function receives ``y`` one-hot encoded, shape ``(n_samples, n_classes)``, so its model ends
    in ``n_classes`` softmax units. Attributes: ``model_``, ``history_``, ``classes_``, ``n_classes_``.
    Beyond Keras: ``predict_proba``, ``partial_fit``, and ``decision_function`` giving logits.

    Example:
        >>> def build(X, y, hidden=32):
        ...     model = Sequential([Dense(hidden, activation="relu"), Dense(y.shape[1], activation="softmax")])
        ...     model.compile(optimizer="adam", loss="categorical_crossentropy")
        ...     return model
        >>> clf = SKLearnClassifier(build, model_kwargs={"hidden": 64}, fit_kwargs={"epochs": 20})
    """

    _multilabel = False
    _multi_output = False

    def _target_options(self) -> dict[str, Any]:
        return {"allowed": SINGLE_OUTPUT, "owner": type(self).__name__}

    def _build_y(self, y: np.ndarray, targets: Any) -> np.ndarray:
        return np.eye(targets.n_classes)[targets.indices(y)]


class SKLearnRegressor(RegressorMethods, RegressorMixin, SKLearnWrapper):
    """Keras 3's ``keras.wrappers.SKLearnRegressor`` on nnkit.

    The build function receives ``y`` as a 2-D array ``(n_samples, n_outputs)``; predictions have the
    shape of the fitted ``y``. Attributes: ``model_``, ``history_``, ``n_outputs_``.
    """
