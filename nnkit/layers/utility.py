"""Escape hatches: ``Lambda(fn)`` for any tensor function and ``TorchModule(module)`` for any
``torch.nn.Module``, so a model is never limited to the layers nnkit ships.
"""

from __future__ import annotations

import copy
import inspect
import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape

_DRY_RUN_BATCH = 2


def _sample_shape(shape: Any, where: str) -> Shape:
    """A user-given per-sample output shape as a tuple of positive ints."""
    shape = (shape,) if isinstance(shape, int) else shape
    if (not isinstance(shape, (list, tuple, torch.Size))
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ConfigError(
            f"{where} expects `output_shape` to be the shape of one output sample (no batch axis) as positive ints, "
            f"e.g. (10,). Received: output_shape={shape!r}."
        )
    return tuple(shape)


def dry_run(module: nn.Module, sample_shape: Shape, where: str, fix: str) -> Any:
    """Call ``module`` in eval mode, without gradients, on zeros shaped ``(2, *sample_shape)``.

    The module's train/eval mode is restored afterwards, so running statistics stay untouched.

    Raises:
        ConfigError: the call failed; the message names ``where`` and suggests ``fix``.
    """
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros((_DRY_RUN_BATCH, *sample_shape), dtype=config.float_dtype(), device=device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(x)
    except Exception as exc:
        raise ConfigError(
            f"{where} could not infer its output shape by calling it on zeros of shape {tuple(x.shape)}: "
            f"{type(exc).__name__}: {exc}. {fix}"
        ) from exc
    finally:
        module.train(was_training)


def _output_sample_shape(output: Any, where: str) -> Shape:
    if not isinstance(output, Tensor):
        raise ConfigError(f"{where} must return one tensor per call. Received an object of type "
                          f"{type(output).__name__} from a test call.")
    if output.ndim == 0 or output.shape[0] != _DRY_RUN_BATCH:
        raise ConfigError(
            f"{where} must keep the batch axis first: called on a batch of {_DRY_RUN_BATCH} samples it returned "
            f"shape {tuple(output.shape)}."
        )
    return tuple(output.shape[1:])


# -- Lambda --------------------------------------------------------------------------------------------------
class LambdaModule(nn.Module):
    """Calls ``function(x, **arguments)``, adding ``training=`` when the function accepts it."""

    def __init__(self, function: Callable[..., Tensor], arguments: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.function, self.arguments = function, dict(arguments or {})
        try:
            self.wants_training = "training" in inspect.signature(function).parameters
        except (TypeError, ValueError):  # builtins without a signature
            self.wants_training = False

    def forward(self, x: Tensor) -> Tensor:
        if self.wants_training:
            return self.function(x, training=self.training, **self.arguments)
        return self.function(x, **self.arguments)

    def extra_repr(self) -> str:
        return getattr(self.function, "__name__", repr(self.function))


@LAYERS.register("lambda")
class Lambda(Layer):
    """Wraps a tensor function as a layer: ``Lambda(lambda x: x ** 2)``.

    The function receives the batch as a torch tensor (Keras layout, batch axis first) and returns
    one tensor with the batch axis first. It has no weights; for learned parameters wrap a
    ``torch.nn.Module`` with :class:`TorchModule` instead.

    Args:
        function: ``fn(x, **arguments)``; if it accepts ``training`` it is told whether the model trains.
        output_shape: Shape of one output sample (no batch axis), or a function from the batched input
            shape ``(None, ...)`` to the batched output shape. By default it is found by calling
            ``function`` on a small batch of zeros.
        mask: Not supported (must be ``None``).
        arguments: Extra keyword arguments for ``function``.

    Example:
        >>> Lambda(lambda x: x.clamp(min=0).sqrt())  # doctest: +SKIP
    """

    def __init__(self, function: Callable[..., Tensor], output_shape: Any = None, mask: Any = None,
                 arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not callable(function):
            raise ConfigError(f"Lambda expects a callable `function`. Received: {function!r}.")
        super().__init__(**kwargs)
        if mask is not None:
            raise ConfigError("Lambda(mask=...) is not supported; pass mask=None.")
        if arguments is not None and not isinstance(arguments, dict):
            raise ConfigError(f"Lambda expects `arguments` to be a dict of keyword arguments. Received: {arguments!r}.")
        if output_shape is not None and not callable(output_shape):
            _sample_shape(output_shape, "Lambda")
        self.function, self.output_shape_arg, self.arguments = function, output_shape, arguments

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        module = LambdaModule(self.function, self.arguments)
        where = f"Lambda layer '{self.name}'"
        if callable(self.output_shape_arg):
            batched = self.output_shape_arg((None, *input_shape))
            return module, _sample_shape(tuple(batched)[1:], where)
        if self.output_shape_arg is not None:
            return module, _sample_shape(self.output_shape_arg, where)
        output = dry_run(module, input_shape, where, "Pass output_shape=... (one sample, no batch axis).")
        return module, _output_sample_shape(output, where)


# -- TorchModule ------------------------------------------------------------------------------------------------
class FirstOutput(nn.Module):
    """Passes on the first element of a module that returns a tuple, e.g. ``nn.LSTM``'s ``(output, state)``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x)[0]


@LAYERS.register("torch_module", aliases=("torchmodule",))
class TorchModule(Layer):
    """Any ``torch.nn.Module`` as a layer; ``Sequential.add(module)`` wraps modules this way.

    The module is used as-is (its parameters train with the model, ``trainable=False`` freezes them,
    ``get_weights`` returns them in torch layout). It receives the batch in the layout the model
    reports (channels last for images) unless ``channels_first=True``.

    Args:
        module: The module; called as ``module(x)`` on one tensor. A module returning a tuple (such as
            ``nn.LSTM``) passes on its first element.
        output_shape: Shape of one output sample (no batch axis) in the model's layout. By default it is
            found by calling the module, in eval mode and without gradients, on a small batch of zeros.
        channels_first: Whether the module wants channels at axis 1, as torch's ``Conv2d``,
            ``MaxPool2d`` or ``BatchNorm2d`` do. With channels-last data the model moves the channel
            axis there and back (once for a run of such layers); with
            ``image_data_format() == 'channels_first'`` nothing moves.

    Example:
        >>> Sequential([Input(shape=(28, 28, 1)), TorchModule(nn.Conv2d(1, 8, 3), channels_first=True),
        ...             Flatten(), Dense(10)])  # doctest: +SKIP
    """

    keeps_module_mode = True  # the user's module: building the layer leaves its train/eval mode alone

    def __init__(self, module: nn.Module, output_shape: Any = None, channels_first: bool = False,
                 **kwargs: Any) -> None:
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"TorchModule expects a torch.nn.Module. Received: {module!r}. For a plain function use Lambda(fn)."
            )
        super().__init__(**kwargs)
        if output_shape is not None:
            _sample_shape(output_shape, "TorchModule")
        self.torch_module, self.output_shape_arg = module, output_shape
        self.channels_first = bool(channels_first)
        self.layout = "torch" if self.channels_first and config.image_data_format() == "channels_last" else "keras"

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        where = f"TorchModule layer '{self.name}' ({type(self.torch_module).__name__})"
        if self.output_shape_arg is not None:
            return self.torch_module, _sample_shape(self.output_shape_arg, where)
        moved = self.layout == "torch" and len(input_shape) >= 2
        shape = (input_shape[-1], *input_shape[:-1]) if moved else input_shape
        output = dry_run(self.torch_module, shape, where, "Pass output_shape=... (one sample, no batch axis).")
        module = self.torch_module
        if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
            module, output = FirstOutput(module), output[0]
        out = _output_sample_shape(output, where)
        if self.layout == "torch" and len(out) >= 2:
            out = (*out[1:], out[0])
        return module, out

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TorchModule:
        """A layer around a fresh copy of the module (re-initialized where its submodules define
        ``reset_parameters``), so a model rebuilt from a config does not share weights with the original."""
        config = dict(config)
        module = copy.deepcopy(config.pop("module"))
        for submodule in module.modules():
            reset = getattr(submodule, "reset_parameters", None)
            if callable(reset):
                reset()
        return cls(module, **config)

    def __repr__(self) -> str:
        return f"TorchModule({self.torch_module!r})" if len(self._config) == 1 else super().__repr__()
