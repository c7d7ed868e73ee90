"""Optimizers with Keras names and default hyperparameters, building ``torch.optim`` optimizers.

An nnkit optimizer is a small spec: its config is its constructor arguments, and ``build(params)``
returns the matching ``torch.optim`` optimizer. Keras features torch lacks are applied around the step:
decoupled ``weight_decay`` for every optimizer, gradient clipping (``clipnorm``, ``clipvalue``,
``global_clipnorm``), and for Adam/AdamW Keras's placement of epsilon, so their updates equal Keras's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from nnkit.errors import ConfigError
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
        learning_rate: Step size (``lr`` is accepted as its legacy spelling).
        weight_decay: Decoupled weight decay ``w -= learning_rate * weight_decay * w`` per step.
        clipnorm: Clip each gradient to this L2 norm.
        clipvalue: Clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: Clip all gradients together to this global L2 norm.
        name: Name of the optimizer.
    """

    torch_class: type[torch.optim.Optimizer]

    def __init__(self, learning_rate: float = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any) -> None:
        owner = type(self).__name__
        if "lr" in kwargs:
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"{owner} got unexpected arguments: {', '.join(sorted(kwargs))}.")
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
        return self.torch_optimizer

    @property
    def needs_hooks(self) -> bool:
        """Whether ``before_step`` has any work to do."""
        return bool(self.clipnorm or self.clipvalue or self.global_clipnorm or self._decoupled_decay
                    or type(self)._adjust_step is not Optimizer._adjust_step)

    def _adjust_step(self) -> None:
        """Per-step hyperparameter changes that make torch's update equal Keras's (none by default)."""

    @property
    def _decoupled_decay(self) -> float:
        return self.weight_decay or 0.0

    def before_step(self) -> None:
        """Clip gradients and apply decoupled weight decay, as Keras does before each update."""
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
        """The current learning rate; assigning it updates the running torch optimizer."""
        if self.torch_optimizer is not None:
            return float(self.torch_optimizer.param_groups[0]["lr"])
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        _positive(value, "learning_rate", type(self).__name__, allow_zero=True)
        self._learning_rate = float(value)
        if self.torch_optimizer is not None:
            for group in self.torch_optimizer.param_groups:
                group["lr"] = float(value)

    lr = learning_rate

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments of this optimizer."""
        return {"name": self.name, "learning_rate": self._learning_rate, **self._hyperparameters(),
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


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent; Keras defaults ``learning_rate=0.01``, no momentum."""

    torch_class = torch.optim.SGD

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        _positive(momentum, "momentum", "SGD", allow_zero=True)
        if nesterov and not momentum:
            raise ConfigError("SGD with nesterov=True needs a positive `momentum`. Received: momentum=0.")
        self.momentum, self.nesterov = momentum, nesterov

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class _AdamFamily(Optimizer):
    """Shared arguments of Adam-like optimizers (Keras defaults: 0.9, 0.999, 1e-7)."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        for key, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ConfigError(f"{type(self).__name__} expects `{key}` in [0, 1). Received: {key}={value!r}.")
        _positive(epsilon, "epsilon", type(self).__name__, allow_zero=True)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


@OPTIMIZERS.register("adam")
class Adam(_AdamFamily):
    """Adam; Keras defaults ``learning_rate=0.001``, ``epsilon=1e-7``."""

    torch_class = torch.optim.Adam

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = amsgrad

    def _torch_kwargs(self) -> dict[str, Any]:
        return {**super()._torch_kwargs(), "amsgrad": self.amsgrad}

    def _hyperparameters(self) -> dict[str, Any]:
        return {**super()._hyperparameters(), "amsgrad": self.amsgrad}

    def _adjust_step(self) -> None:
        # Keras adds epsilon to sqrt(v) before bias correction, torch after it; scaling torch's
        # epsilon by 1 / sqrt(1 - beta_2 ** t) makes the two updates identical.
        eps = self.epsilon / math.sqrt(1.0 - self.beta_2 ** (self.iterations + 1))
        for group in self.torch_optimizer.param_groups:
            group["eps"] = eps


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay; Keras default ``weight_decay=0.004``."""

    torch_class = torch.optim.AdamW

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)

    @property
    def _decoupled_decay(self) -> float:
        return 0.0  # torch.optim.AdamW applies it itself

    def _torch_kwargs(self) -> dict[str, Any]:
        return {**super()._torch_kwargs(), "weight_decay": self.weight_decay}


@OPTIMIZERS.register("adamax")
class Adamax(_AdamFamily):
    """Adamax (infinity-norm Adam); Keras defaults."""

    torch_class = torch.optim.Adamax


@OPTIMIZERS.register("nadam")
class Nadam(_AdamFamily):
    """Adam with Nesterov momentum and Keras 3's schedule ``beta_1 * (1 - 0.5 * 0.96 ** t)``."""

    torch_class = torch.optim.NAdam

    def _torch_kwargs(self) -> dict[str, Any]:
        # torch computes 0.96 ** (t * momentum_decay); Keras 3 uses 0.96 ** t.
        return {**super()._torch_kwargs(), "momentum_decay": 1.0}


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop with Keras's update ``w -= lr * g / sqrt(v + eps)`` (torch's ``RMSprop`` uses
    ``sqrt(v) + eps``, which moves near-zero gradients far more on the first steps)."""

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 0.001, alpha: float = 0.9, eps: float = 1e-7,
                 momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum, "centered": centered})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None if closure is None else closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            states = [self.state[p] for p in params]
            for p, state in zip(params, states):
                if not state:
                    state["square_avg"] = torch.zeros_like(p)
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(p)
            rho = group["alpha"]
            square_avg = [s["square_avg"] for s in states]
            torch._foreach_mul_(square_avg, rho)
            torch._foreach_addcmul_(square_avg, grads, grads, value=1 - rho)
            if group["centered"]:
                grad_avg = [s["grad_avg"] for s in states]
                torch._foreach_mul_(grad_avg, rho)
                torch._foreach_add_(grad_avg, grads, alpha=1 - rho)
                denominator = torch._foreach_addcmul(square_avg, grad_avg, grad_avg, value=-1)
                torch._foreach_add_(denominator, group["eps"])
            else:
                denominator = torch._foreach_add(square_avg, group["eps"])
            torch._foreach_sqrt_(denominator)
            increment = torch._foreach_div(grads, denominator)
            torch._foreach_mul_(increment, group["lr"])
            if group["momentum"] > 0:
                buffers = [s["momentum_buffer"] for s in states]
                torch._foreach_mul_(buffers, group["momentum"])
                torch._foreach_add_(buffers, increment)
                increment = buffers
            torch._foreach_sub_(params, increment)
        return loss


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop with Keras's update and defaults ``rho=0.9``, ``epsilon=1e-7``."""

    torch_class = KerasRMSprop

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"alpha": self.rho, "eps": self.epsilon, "momentum": self.momentum, "centered": self.centered}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """Adagrad; Keras defaults ``initial_accumulator_value=0.1``, ``epsilon=1e-7``."""

    torch_class = torch.optim.Adagrad

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value, "eps": self.epsilon}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


@OPTIMIZERS.register("adadelta")
class Adadelta(Optimizer):
    """Adadelta; Keras defaults ``learning_rate=0.001``, ``rho=0.95``, ``epsilon=1e-7``."""

    torch_class = torch.optim.Adadelta

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"rho": self.rho, "eps": self.epsilon}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": self.rho, "epsilon": self.epsilon}


class TorchOptimizer(Optimizer):
    """Adapts a ``torch.optim`` optimizer class (built with torch's defaults) or a ready instance."""

    def __init__(self, optimizer: type[torch.optim.Optimizer] | torch.optim.Optimizer, **kwargs: Any) -> None:
        self.optimizer = optimizer
        self.torch_kwargs = kwargs
        lr = kwargs.get("lr")
        if isinstance(optimizer, torch.optim.Optimizer):
            lr = optimizer.param_groups[0].get("lr")
        Optimizer.__init__(self, learning_rate=float(lr) if lr is not None else 0.0,
                           name=getattr(optimizer, "__name__", type(optimizer).__name__).lower())
        if isinstance(optimizer, torch.optim.Optimizer):
            self.torch_optimizer = optimizer

    def build(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        params = [p for p in params if p.requires_grad]
        self._params = params
        if isinstance(self.optimizer, torch.optim.Optimizer):
            owned = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
            missing = [p for p in params if id(p) not in owned]
            if missing:
                raise ConfigError(
                    f"The torch optimizer passed to compile() does not hold {len(missing)} of the model's "
                    f"{len(params)} trainable tensors. Create it from model.module.parameters() after the "
                    "model is built, or pass the class (e.g. torch.optim.Adam) or a name (e.g. 'adam')."
                )
            return self.optimizer
        self.torch_optimizer = self.optimizer(params, **self.torch_kwargs)
        return self.torch_optimizer

    def get_config(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, **self.torch_kwargs}

    def __repr__(self) -> str:
        return f"TorchOptimizer({self.name})"


def get(identifier: str | dict | Optimizer | torch.optim.Optimizer | type) -> Optimizer:
    """An optimizer from a Keras name (``'adam'``), a config dict, an nnkit optimizer, or a
    ``torch.optim`` class or instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return OPTIMIZERS.get(identifier)()
    if isinstance(identifier, dict):
        return OPTIMIZERS.get(identifier.get("class_name", "")).from_config(identifier.get("config", {}))
    if isinstance(identifier, torch.optim.Optimizer) or (
        isinstance(identifier, type) and issubclass(identifier, torch.optim.Optimizer)
    ):
        return TorchOptimizer(identifier)
    raise ConfigError(
        f"Expected an optimizer name (e.g. 'adam'), an nnkit optimizer, or a torch.optim optimizer. "
        f"Received: {identifier!r}."
    )
