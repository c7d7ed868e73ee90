"""What every nnkit scikit-learn estimator shares: validation, seeding, the fit itself, history, tags.

The two families (``KerasClassifier``/``KerasRegressor`` and Keras 3's ``SKLearnClassifier``/
``SKLearnRegressor``) differ only in their parameters and in how they obtain a compiled model; they
implement the hooks at the top of :class:`BaseWrapper`.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from nnkit import config
from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError, DataError
from nnkit.models.sequential import Sequential
from nnkit.registry import closest
from nnkit.utils.seeding import generators_kept, set_random_seed
from nnkit.wrappers.building import output_units
from nnkit.wrappers.inference import forward

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def validate_data(estimator, /, X="no_validation", y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)

# Arguments of Sequential.fit that the estimator fills itself.
_RESERVED_FIT_ARGS = ("x", "y", "sample_weight")
_FIT_ARGS = [name for name in inspect.signature(Sequential.fit).parameters if name not in ("self", *_RESERVED_FIT_ARGS)]


def _training_dtype() -> type:
    """The NumPy dtype training data is converted to once (nnkit casts half types itself)."""
    return np.float64 if config.floatx() == "float64" else np.float32


def _seed(random_state: Any) -> int:
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    raise ConfigError(
        "random_state must be None, a non-negative int, or a numpy RandomState/Generator. "
        f"Received: random_state={random_state!r}."
    )


@contextmanager
def seeded(random_state: Any) -> Iterator[None]:
    """Run the block with every generator seeded from ``random_state``, then restore the global
    generators as they were; with ``None``, run it on the global generators unchanged."""
    if random_state is None:
        yield
        return
    seed = _seed(random_state)
    with generators_kept():
        set_random_seed(seed)
        yield


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """One non-negative finite weight per sample; ``None`` when absent or all ones (the same loss,
    computed by the faster unweighted path)."""
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"sample_weight must be numbers, one per sample: {exc}.") from None
    if weights.ndim == 0:
        weights = np.full(n_samples, float(weights))
    if weights.shape != (n_samples,):
        raise DataError(f"sample_weight must have shape ({n_samples},), one weight per sample. Received shape "
                        f"{weights.shape}.")
    if not np.isfinite(weights).all():
        raise DataError("sample_weight contains NaN or infinite values.")
    if (weights < 0).any():
        raise DataError(f"sample_weight must be non-negative; sample {int(np.argmax(weights < 0))} has weight "
                        f"{weights[weights < 0][0]:g}.")
    if not weights.any():
        raise DataError("Sample weights must contain at least one non-zero number; all weights are zero.")
    return None if np.all(weights == 1.0) else weights.astype(np.float32)


class BaseWrapper(BaseEstimator):
    """Shared fit/predict machinery; subclasses provide the hooks below."""

    _targets_class: Any  # ClassTargets or RegressionTargets
    _multi_output = True
    _y_numeric = True

    # -- hooks ----------------------------------------------------------------------------------
    def _new_model(self, x: np.ndarray, y: np.ndarray, targets: Any) -> Sequential:
        """A compiled model for this fit (``y`` as the user gave it, validated)."""
        raise NotImplementedError

    def _fit_settings(self) -> tuple[dict[str, Any], list[Callback]]:
        """Keyword arguments for ``Sequential.fit`` and the callbacks of one fit."""
        raise NotImplementedError

    def _random_state(self) -> Any:
        return None

    def _warm(self) -> bool:
        return False

    def _class_weight(self) -> Any:
        return None

    def _predict_batch_size(self) -> int | None:
        return None

    def _target_options(self) -> dict[str, Any]:
        return {}

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> BaseWrapper:
        """Train on ``(X, y)``; returns ``self``.

        Args:
            X: Array-like (or DataFrame) of shape ``(n_samples, n_features)`` (or more axes for image models).
            y: Targets: labels for a classifier, numbers for a regressor.
            sample_weight: Optional weight per sample, scaling its loss (Keras semantics).
            **fit_params: Further ``Sequential.fit`` arguments, e.g. ``validation_data=(X_val, y_val)``
                (labels as in ``y``) or ``epochs=5``; they override the estimator's settings for this fit.
        """
        return self._train(X, y, sample_weight, fit_params, keep_model=self._warm())

    def _train(self, X: Any, y: Any, sample_weight: Any, fit_params: dict[str, Any], *,
               keep_model: bool, classes: Any = None, partial: bool = False) -> BaseWrapper:
        continuing = keep_model and hasattr(self, "model_")
        x, y = validate_data(self, X, y, reset=not continuing, dtype=_training_dtype(), allow_nd=True,
                             multi_output=True, y_numeric=self._y_numeric)
        targets = self._targets if continuing else self._targets_class.fit(y, classes=classes,
                                                                             **self._target_options())
        encoded = targets.indices(y)
        weights = check_sample_weight(sample_weight, len(x))
        class_weights = targets.sample_weights(encoded, self._class_weight())
        if class_weights is not None:
            weights = class_weights if weights is None else weights * class_weights
        if weights is not None and not partial:
            targets.check_weighted(encoded, weights)
        settings, callbacks = self._fit_settings()
        arguments = {**settings, **fit_params}
        if partial:
            arguments["epochs"] = 1
        unknown = [name for name in arguments if name not in _FIT_ARGS]
        if unknown:
            hint = closest(unknown[0], _FIT_ARGS)
            raise TypeError(f"{type(self).__name__}.fit got an unexpected argument {unknown[0]!r}."
                            + (f" Did you mean {hint!r}?" if hint else "")
                            + f" Sequential.fit accepts: {', '.join(_FIT_ARGS)}.")
        callbacks = [*callbacks, *(arguments.pop("callbacks", None) or [])]
        with seeded(self._random_state()):
            model = self.model_ if continuing else self._new_model(x, y, targets)
            units = output_units(model)
            if arguments.get("validation_data") is not None:
                arguments["validation_data"] = self._validation_data(arguments["validation_data"], targets, units,
                                                                     model)
            history = model.fit(x, targets.for_model(encoded, units, model.loss), sample_weight=weights,
                                callbacks=callbacks, **arguments)
        self.model_, self._targets = model, targets
        logs = history.history
        if continuing:
            for key, values in logs.items():
                self.history_.setdefault(key, []).extend(values)
        else:
            self.history_ = {key: list(values) for key, values in logs.items()}
        self._fitted_attributes(targets)
        return self

    def _fitted_attributes(self, targets: Any) -> None:
        """Set the public fitted attributes derived from the targets (``classes_``...)."""

    def _validation_data(self, data: Any, targets: Any, units: int, model: Sequential) -> Any:
        """``validation_data=(X_val, y_val[, w_val])`` with labels encoded like ``y``."""
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            return data  # a Dataset/DataLoader goes to Sequential.fit unchanged
        x_val = validate_data(self, data[0], reset=False, dtype=_training_dtype(), allow_nd=True)
        y_val = targets.for_model(targets.indices(data[1]), units, model.loss)
        return (x_val, y_val, *data[2:])

    # -- prediction ---------------------------------------------------------------------------------
    def _outputs(self, X: Any, logits: bool) -> tuple[np.ndarray, str | None]:
        """Validated ``X`` through the fitted model (see :func:`nnkit.wrappers.inference.forward`)."""
        check_is_fitted(self, "model_")
        dtype = np.float64 if self.model_.device.type == "cpu" else _training_dtype()
        x = validate_data(self, X, reset=False, dtype=dtype, allow_nd=True)
        return forward(self.model_, x, logits=logits, batch_size=self._predict_batch_size())

    # -- scikit-learn metadata ----------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self._random_state() is None
        tags.target_tags.multi_output = self._multi_output
        tags.input_tags.allow_nan = False
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"non_deterministic": self._random_state() is None, "multioutput": self._multi_output}
