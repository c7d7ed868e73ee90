"""The base of nnkit optimizers: a spec whose config is its constructor arguments and whose ``build(params)``
returns a ``torch.optim`` optimizer, with Keras's extras applied around each step.

Keras features torch lacks are applied before each update: learning-rate schedules, decoupled
``weight_decay`` for every optimizer, and gradient clipping (``clipnorm``, ``clipvalue``, ``global_clipnorm``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from nnkit.errors import ConfigError
from nnkit.optimizers import schedules
from nnkit.registry import Registry

OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


def _positive(value: Any, name: str, owner: str, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise ConfigError(f"{owner} expects `{name}` to be a {bound} number. Received: {name}={value!r}.")


class Optimizer:
    """Base class of nnkit optimizers.

    Args:
        learning_rate: Step size, or a :class:`~nnkit.optimizers.schedules.LearningRateSchedule` evaluated
            at ``iterations`` before every update (``lr`` is accepted as its legacy spelling).
        weight_decay: Decoupled weight decay ``w -= learning_rate * weight_decay * w`` per step.
        clipnorm: Clip each gradient to this L2 norm.
        clipvalue: Clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: Clip all gradients together to this global L2 norm.
        name: Name of the optimizer.
    """

    torch_class: type[torch.optim.Optimizer]

    def __init__(self, learning_rate: float | schedules.LearningRateSchedule = 0.001,
                 weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any) -> None:
        owner = type(self).__name__
        if "lr" in kwargs:
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"{owner} got unexpected arguments: {', '.join(sorted(kwargs))}.")
        if isinstance(learning_rate, dict):  # a serialized schedule, from get_config()
            learning_rate = schedules.deserialize(learning_rate)
        self._schedule = learning_rate if isinstance(learning_rate, schedules.LearningRateSchedule) else None
        if self._schedule is not None:
            learning_rate = self._schedule(0)
        else:
            _positive(learning_rate, "learning_rate", owner, allow_zero=True)
        for key, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm)):
            if value is not None:
                _positive(value, key, owner, allow_zero=key == "weight_decay")
        if clipnorm is not None and global_clipnorm is not None:
            raise ConfigError(f"{owner}: set at most one of `clipnorm` and `global_clipnorm`.")
        self._learning_rate = float(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.torch_optimizer: torch.optim.Optimizer | None = None
        self.iterations = 0
        self._pending_state: dict[str, Any] | None = None

    # -- what subclasses define -------------------------------------------------------------
    def _torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``torch_class`` besides ``lr``."""
        return {}

    def _hyperparameters(self) -> dict[str, Any]:
        """Subclass constructor arguments, for the config."""
        return {}

    # -- building and stepping --------------------------------------------------------------
    def build(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """Create the torch optimizer for ``params`` (called by ``Sequential.compile``/``fit``)."""
        params = [p for p in params if p.requires_grad]
        self._params = params
        self.torch_optimizer = self.torch_class(params, lr=self._learning_rate, **self._torch_kwargs())
        self._load_pending_state()
        return self.torch_optimizer

    def apply(self, grads: Iterable[torch.Tensor | None], trainable_variables: Iterable[nn.Parameter] | None = None
              ) -> None:
        """One update of ``trainable_variables`` (default: the weights it was built for) with ``grads``, as
        Keras's ``optimizer.apply`` (used by custom ``train_step`` methods); the torch optimizer is built on
        first use and kept, with its state, while the variables stay the same."""
        params = list(trainable_variables) if trainable_variables is not None else list(getattr(self, "_params", []))
        grads = list(grads)
        if len(grads) != len(params):
            raise ConfigError(f"{type(self).__name__}.apply got {len(grads)} gradients for {len(params)} variables; "
                              "pass one gradient per variable, in the same order.")
        if self.torch_optimizer is None or [id(p) for p in getattr(self, "_params", [])] != [
                id(p) for p in params if p.requires_grad]:
            self.build(params)
        for param, grad in zip(params, grads):
            if grad is not None and param.grad is not grad:
                param.grad = grad
        if self.needs_hooks:
            self.before_step()
        self.torch_optimizer.step()
        self.iterations += 1

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor | None, nn.Parameter]]) -> None:
        """``apply`` given ``(gradient, variable)`` pairs, as Keras's ``apply_gradients(zip(grads, vars))``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    @property
    def needs_hooks(self) -> bool:
        """Whether ``before_step`` has any work to do."""
        return bool(self.clipnorm or self.clipvalue or self.global_clipnorm or self._decoupled_decay
                    or self._schedule is not None or type(self)._adjust_step is not Optimizer._adjust_step)

    def _adjust_step(self) -> None:
        """Per-step hyperparameter changes that make torch's update equal Keras's (none by default)."""

    @property
    def _decoupled_decay(self) -> float:
        return self.weight_decay or 0.0

    def before_step(self) -> None:
        """Set the scheduled learning rate, clip gradients and apply decoupled weight decay, as Keras
        does before each update."""
        if self._schedule is not None:
            lr = float(self._schedule(self.iterations))
            for group in self.torch_optimizer.param_groups:
                group["lr"] = lr
        if self.clipvalue or self.clipnorm:
            grads = [p.grad for p in self._params if p.grad is not None]
            if self.clipvalue:
                torch._foreach_clamp_min_(grads, -self.clipvalue)
                torch._foreach_clamp_max_(grads, self.clipvalue)
            if self.clipnorm:
                norms = torch._foreach_norm(grads)
                scales = [torch.clamp(self.clipnorm / torch.clamp(n, min=1e-12), max=1.0) for n in norms]
                torch._foreach_mul_(grads, scales)
        if self.global_clipnorm:
            torch.nn.utils.clip_grad_norm_(self._params, self.global_clipnorm)
        if self._decoupled_decay:
            with torch.no_grad():
                torch._foreach_mul_(self._params, 1.0 - self.learning_rate * self._decoupled_decay)
        self._adjust_step()

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update; assigning it updates the running torch optimizer.

        With a schedule it is ``schedule(iterations)`` and cannot be assigned (as in Keras).
        """
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        if self.torch_optimizer is not None:
            return float(self.torch_optimizer.param_groups[0]["lr"])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self._schedule is not None:
            raise ConfigError(
                f"{type(self).__name__} was created with the schedule {self._schedule!r} as its learning_rate, so "
                "its learning rate cannot be assigned (e.g. by ReduceLROnPlateau or LearningRateScheduler). "
                "Create the optimizer with a float learning_rate to set it during training."
            )
        _positive(value, "learning_rate", type(self).__name__, allow_zero=True)
        self._learning_rate = float(value)
        if self.torch_optimizer is not None:
            for group in self.torch_optimizer.param_groups:
                group["lr"] = float(value)

    lr = learning_rate

    @property
    def schedule(self) -> schedules.LearningRateSchedule | None:
        """The learning-rate schedule, or ``None`` for a constant (assignable) learning rate."""
        return self._schedule

    # -- state (checkpoints) --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything an update depends on besides the weights: step count, learning rate and the torch
        optimizer's state (moments, ...). The tensors are live references, not copies."""
        torch_state = None if self.torch_optimizer is None else self.torch_optimizer.state_dict()
        return {"iterations": int(self.iterations), "learning_rate": float(self._learning_rate),
                "torch": torch_state if torch_state is not None else self._pending_torch_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; before :meth:`build`, it is applied when the optimizer is built.

        The tensors are copied, so the source keeps its own state.
        """
        state = copy.deepcopy(state)
        self.iterations = int(state["iterations"])
        self._learning_rate = float(state["learning_rate"])
        self._pending_state = state
        if self.torch_optimizer is not None:
            self._load_pending_state()

    def _pending_torch_state(self) -> dict[str, Any] | None:
        return None if self._pending_state is None else self._pending_state.get("torch")

    def _load_pending_state(self) -> None:
        state, self._pending_state = self._pending_state, None
        if state is not None and state.get("torch") is not None:
            self.torch_optimizer.load_state_dict(state["torch"])

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this optimizer (a schedule as ``{"class_name", "config"}``)."""
        learning_rate = self._learning_rate if self._schedule is None else schedules.serialize(self._schedule)
        return {"name": self.name, "learning_rate": learning_rate, **self._hyperparameters(),
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Rebuild an optimizer from :meth:`get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        config = self.get_config()
        shown = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name" and v is not None)
        return f"{type(self).__name__}({shown})"
