"""Optimizers with Keras names and default hyperparameters, building ``torch.optim`` optimizers.

Each one is an :class:`~nnkit.optimizers.base.Optimizer` spec; Adam/AdamW also take Keras's placement of
epsilon and RMSprop Keras's update, so their updates equal Keras's. Adafactor, Ftrl, Lamb and Lion, which
torch lacks, build the optimizers of :mod:`nnkit.optimizers.keras_updates`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from nnkit.errors import ConfigError
from nnkit.optimizers.base import OPTIMIZERS, Optimizer, _positive
from nnkit.optimizers.keras_rmsprop import KerasRMSprop
from nnkit.optimizers.keras_updates import KerasAdafactor, KerasFtrl, KerasLamb, KerasLion


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


@OPTIMIZERS.register("lamb")
class Lamb(_AdamFamily):
    """Lamb: Adam's step scaled per weight tensor by the trust ratio ``||w|| / ||step||``; Keras defaults.

    Args:
        learning_rate: Step size or schedule.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the second moment.
        epsilon: Added to the bias-corrected ``sqrt(v)``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    torch_class = KerasLamb


@OPTIMIZERS.register("lion")
class Lion(Optimizer):
    """Lion: ``w -= learning_rate * sign(beta_1 * m + (1 - beta_1) * g)``; Keras defaults.

    Its steps have the size of ``learning_rate`` in every coordinate, so it wants a learning rate 3-10x
    smaller than AdamW's (and a weight decay as many times larger).

    Args:
        learning_rate: Step size or schedule.
        beta_1: Weight of the momentum in the update direction, in ``(0, 1]``.
        beta_2: Decay rate of the momentum.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.

    Raises:
        ConfigError: ``beta_1`` is outside ``(0, 1]``.
    """

    torch_class = KerasLion

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(beta_1, (int, float)) or not 0.0 < beta_1 <= 1.0:
            raise ConfigError("Lion expects `beta_1` in (0, 1]; at 0 it degenerates to SignSGD. "
                              f"Received: beta_1={beta_1!r}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2)}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}


@OPTIMIZERS.register("ftrl")
class Ftrl(Optimizer):
    """FTRL-Proximal ("Follow The Regularized Leader") with Keras's online and shrinkage L2; Keras defaults.

    Args:
        learning_rate: Step size or schedule.
        learning_rate_power: How the per-weight learning rate decays with the summed squared gradients;
            ``<= 0`` (0 for a fixed rate).
        initial_accumulator_value: Start of the summed squared gradients, ``>= 0``.
        l1_regularization_strength: L1 strength (weights with ``|z| <= l1`` become exactly 0), ``>= 0``.
        l2_regularization_strength: Online (stabilizing) L2 strength, ``>= 0``.
        l2_shrinkage_regularization_strength: L2 penalty added to the gradient (magnitude shrinkage), ``>= 0``.
        beta: The paper's beta, added to the online L2 as ``beta / (2 * learning_rate)``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.

    Raises:
        ConfigError: ``learning_rate_power`` is positive or a strength or the accumulator value is negative.
    """

    torch_class = KerasFtrl

    def __init__(self, learning_rate: float = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(learning_rate_power, (int, float)) or learning_rate_power > 0:
            raise ConfigError("Ftrl expects `learning_rate_power` to be negative or zero. "
                              f"Received: learning_rate_power={learning_rate_power!r}.")
        for key, value in (("initial_accumulator_value", initial_accumulator_value),
                           ("l1_regularization_strength", l1_regularization_strength),
                           ("l2_regularization_strength", l2_regularization_strength),
                           ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength)):
            _positive(value, key, "Ftrl", allow_zero=True)
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"lr_power": self.learning_rate_power, "initial_accumulator_value": self.initial_accumulator_value,
                "l1": self.l1_regularization_strength, "l2": self.l2_regularization_strength,
                "l2_shrinkage": self.l2_shrinkage_regularization_strength, "beta": self.beta}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


@OPTIMIZERS.register("adafactor")
class Adafactor(Optimizer):
    """Adafactor: factored second moments (row and column means for tensors of rank >= 2) and a step
    relative to the weights' RMS; Keras defaults.

    As in Keras 3, the step size is ``max(epsilon_2, rms(w)) * min(learning_rate, 1 / sqrt(t))`` whether
    ``relative_step`` is true or not (Keras keeps the argument; so does nnkit, for configs).

    Args:
        learning_rate: Step size or schedule.
        beta_2_decay: Exponent of the second-moment decay ``beta_2 = 1 - t ** beta_2_decay``.
        epsilon_1: Added to the squared gradients, keeping the denominator away from 0.
        epsilon_2: Lower bound of the weights' RMS in the step size.
        clip_threshold: Largest RMS of an update (independent of ``clipnorm`` and friends).
        relative_step: Kept for Keras compatibility (see above).
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    torch_class = KerasAdafactor

    def __init__(self, learning_rate: float = 0.001, beta_2_decay: float = -0.8, epsilon_1: float = 1e-30,
                 epsilon_2: float = 1e-3, clip_threshold: float = 1.0, relative_step: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, relative_step

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"beta_2_decay": self.beta_2_decay, "eps": (self.epsilon_1, self.epsilon_2),
                "clip_threshold": self.clip_threshold}

    def _hyperparameters(self) -> dict[str, Any]:
        return {"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}


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
            self._load_pending_state()
            return self.optimizer
        self.torch_optimizer = self.optimizer(params, **self.torch_kwargs)
        self._load_pending_state()
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
