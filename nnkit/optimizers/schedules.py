"""Learning-rate schedules mirroring ``keras.optimizers.schedules``.

A schedule maps the optimizer's step count (``optimizer.iterations``, the number of updates already
applied) to a learning rate. Pass one as ``learning_rate=`` of any nnkit optimizer: the optimizer
evaluates it before every update, as Keras does, so update ``t`` (0-based) uses ``schedule(t)``.
Values are computed in float64 from Keras's closed forms.

Example:
    >>> schedule = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    >>> optimizer = SGD(learning_rate=schedule)  # doctest: +SKIP
    >>> schedule(200)
    0.025
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
from typing import Any

from nnkit.errors import ConfigError
from nnkit.registry import Registry

__all__ = [
    "SCHEDULES", "CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
    "LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "deserialize", "get", "serialize",
]

SCHEDULES: Registry[type[LearningRateSchedule]] = Registry("learning rate schedule")


def _number(value: Any, name: str, owner: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
        positive and value <= 0
    ):
        kind = "positive number" if positive else "finite number"
        raise ConfigError(f"{owner} expects `{name}` to be a {kind}. Received: {name}={value!r}.")
    return float(value)


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float`` and ``get_config()``.

    Example:
        >>> class InverseSqrt(LearningRateSchedule):
        ...     def __init__(self, scale: float) -> None:
        ...         self.scale = scale
        ...     def __call__(self, step: int) -> float:
        ...         return self.scale / (step + 1) ** 0.5
        ...     def get_config(self) -> dict:
        ...         return {"scale": self.scale}
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override __call__(step).")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this schedule."""
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from :meth:`get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """Shared arguments of the exponential and inverse-time decays."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool,
                 name: str) -> None:
        owner = type(self).__name__
        _number(initial_learning_rate, "initial_learning_rate", owner)
        _number(decay_steps, "decay_steps", owner, positive=True)
        _number(decay_rate, "decay_rate", owner)
        self.initial_learning_rate, self.decay_steps, self.decay_rate = initial_learning_rate, decay_steps, decay_rate
        self.staircase, self.name = staircase, name

    def _progress(self, step: int) -> float:
        """``step / decay_steps``, floored when ``staircase``."""
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@SCHEDULES.register("ExponentialDecay")
class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division if ``staircase``).

    Args:
        initial_learning_rate: Learning rate at step 0.
        decay_steps: Steps over which the rate is multiplied by ``decay_rate`` once; positive.
        decay_rate: The factor per ``decay_steps``.
        staircase: Decay in discrete jumps every ``decay_steps`` steps.
        name: Name of the schedule.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "ExponentialDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int) -> float:
        return float(self.initial_learning_rate * self.decay_rate ** self._progress(step))


@SCHEDULES.register("PiecewiseConstantDecay")
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <=
    boundaries[i]``, ``values[-1]`` after the last boundary.

    Args:
        boundaries: Strictly increasing step numbers.
        values: One more value than ``boundaries``.
        name: Name of the schedule.
    """

    def __init__(self, boundaries: list[int], values: list[float], name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ConfigError(
                "PiecewiseConstantDecay needs one more value than boundaries. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, values={values} of length {len(values)}."
            )
        for i, b in enumerate(boundaries):
            _number(b, f"boundaries[{i}]", "PiecewiseConstantDecay")
        for i, v in enumerate(values):
            _number(v, f"values[{i}]", "PiecewiseConstantDecay")
        if any(a >= b for a, b in itertools.pairwise(boundaries)):
            raise ConfigError(f"PiecewiseConstantDecay needs strictly increasing boundaries. Received: {boundaries}.")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step: int) -> float:
        return float(self.values[bisect.bisect_left(self.boundaries, step)])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@SCHEDULES.register("PolynomialDecay")
class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, held at ``end`` after
    ``decay_steps`` (or, with ``cycle``, over the first multiple of ``decay_steps`` above ``step``).

    Args:
        initial_learning_rate: Learning rate at step 0.
        decay_steps: Steps to reach ``end_learning_rate``; positive.
        end_learning_rate: The final learning rate.
        power: Power of the polynomial (1 is linear).
        cycle: Restart the decay every ``decay_steps`` with a longer horizon.
        name: Name of the schedule.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        for key, value in (("initial_learning_rate", initial_learning_rate), ("end_learning_rate", end_learning_rate),
                           ("power", power)):
            _number(value, key, "PolynomialDecay")
        _number(decay_steps, "decay_steps", "PolynomialDecay", positive=True)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle, self.name = end_learning_rate, power, cycle, name

    def __call__(self, step: int) -> float:
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return float((self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power
                     + self.end_learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


@SCHEDULES.register("InverseTimeDecay")
class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (integer division if ``staircase``).

    Args:
        initial_learning_rate: Learning rate at step 0.
        decay_steps: How often the decay applies; positive.
        decay_rate: The decay rate.
        staircase: Decay in discrete jumps every ``decay_steps`` steps.
        name: Name of the schedule.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int) -> float:
        return float(self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step)))


def _cosine(fraction: float, alpha: float) -> float:
    return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


@SCHEDULES.register("CosineDecay")
class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``,
    then cosine decay to ``alpha`` times the starting rate over ``decay_steps`` (held there after).

    Args:
        initial_learning_rate: Learning rate at step 0.
        decay_steps: Length of the cosine decay; positive.
        alpha: Final rate as a fraction of the decay's starting rate.
        name: Name of the schedule.
        warmup_target: Rate reached at the end of warmup; ``None`` skips warmup.
        warmup_steps: Length of the warmup.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: str = "CosineDecay",
                 warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        _number(initial_learning_rate, "initial_learning_rate", "CosineDecay")
        _number(decay_steps, "decay_steps", "CosineDecay", positive=True)
        _number(alpha, "alpha", "CosineDecay")
        if warmup_target is not None:
            _number(warmup_target, "warmup_target", "CosineDecay")
            _number(warmup_steps, "warmup_steps", "CosineDecay", positive=True)
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return float(self.initial_learning_rate * _cosine(min(step, self.decay_steps) / self.decay_steps,
                                                              self.alpha))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return float(delta * (step / self.warmup_steps) + self.initial_learning_rate)
        return float(self.warmup_target * _cosine((step - self.warmup_steps) / self.decay_steps, self.alpha))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


@SCHEDULES.register("CosineDecayRestarts")
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): period ``i`` lasts ``first_decay_steps * t_mul ** i``
    steps and starts from ``initial_learning_rate * m_mul ** i``.

    Args:
        initial_learning_rate: Learning rate at step 0.
        first_decay_steps: Length of the first period; positive.
        t_mul: Growth of each period's length.
        m_mul: Factor on each period's starting rate.
        alpha: Final rate of each period as a fraction of ``initial_learning_rate``.
        name: Name of the schedule.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0, m_mul: float = 1.0,
                 alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        _number(initial_learning_rate, "initial_learning_rate", "CosineDecayRestarts")
        _number(first_decay_steps, "first_decay_steps", "CosineDecayRestarts", positive=True)
        _number(t_mul, "t_mul", "CosineDecayRestarts", positive=True)
        _number(m_mul, "m_mul", "CosineDecayRestarts")
        _number(alpha, "alpha", "CosineDecayRestarts")
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, first_decay_steps
        self.t_mul, self.m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step: int) -> float:
        fraction = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul**restart) / (1.0 - self.t_mul)
            fraction = (fraction - done) / self.t_mul**restart
        cosine = 0.5 * self.m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return float(self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


_KERAS_MODULE = "keras.optimizers.schedules"  # the module Keras's serialized form gives the built-in schedules


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Keras's serialized form of a schedule (what an optimizer's config holds):
    ``{"module", "class_name", "config", "registered_name"}``.

    The built-in schedules name Keras's module, so the dict equals Keras's and loads under either library; a
    user's schedule names its own module and its registered name (its class name when unregistered).
    """
    cls = type(schedule)
    if cls.__module__ == __name__:
        module, registered = _KERAS_MODULE, None
    else:
        from nnkit.saving import get_registered_name

        module = None if cls.__module__ == "__main__" else cls.__module__
        registered = get_registered_name(cls) or cls.__name__
    return {"module": module, "class_name": cls.__name__, "config": schedule.get_config(),
            "registered_name": registered}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> LearningRateSchedule:
    """Rebuild a schedule from :func:`serialize` output, Keras's, or the short ``{"class_name", "config"}``.

    A user's schedule is found through ``custom_objects`` or its registration
    (``nnkit.saving.register_keras_serializable``).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(
            f"A serialized learning rate schedule is a dict with 'class_name' and 'config'. Received: {config!r}."
        )
    name, registered = config["class_name"], config.get("registered_name")
    cls = None
    if registered or custom_objects or name not in SCHEDULES:
        from nnkit.saving import custom_object_scope, get_custom_object

        with custom_object_scope(custom_objects):
            cls = get_custom_object(registered, name)
    if cls is None:
        cls = SCHEDULES.get(name)
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier: LearningRateSchedule | dict[str, Any]) -> LearningRateSchedule:
    """A schedule from an instance or a serialized dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    return deserialize(identifier)

