"""LayerSpec: a Keras-style layer description that builds a plain ``torch.nn.Module``.

A spec's config is exactly its constructor arguments (captured automatically), so
``get_config`` / ``from_config`` never drift from ``__init__``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from nnkit import regularizers
from nnkit.errors import ConfigError, NotReadyError
from nnkit.registry import Registry, capture_config, closest
from nnkit.utils.naming import unique_name

LAYERS: Registry[type[LayerSpec]] = Registry("layer")

Shape = tuple[int, ...]


def keras_layer_name(class_name: str) -> str:
    """Keras's automatic layer name for a class: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def check_layer_dtype(dtype: Any, layer: str) -> None:
    """Accept a layer's ``dtype`` only where nnkit honours it: ``'float32'`` (or the configured floatx)."""
    from nnkit import config

    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else getattr(dtype, "name", dtype)
    if name in ("float32", config.floatx()):
        return
    raise ConfigError(
        f"Layer '{layer}': dtype={dtype!r} per layer is not supported; nnkit computes a whole model under one "
        "dtype policy. Drop the argument and call nnkit.mixed_precision.set_global_policy('mixed_float16' or "
        "'mixed_bfloat16') before compile(), or nnkit.config.set_floatx('float64') for float64 weights."
    )


class LayerSpec:
    """Base class of nnkit layers.

    Args:
        name: Unique layer name; Keras-style automatic names (``dense``, ``dense_1``) by default.
        input_shape: Shape of one sample, e.g. ``(20,)``; only meaningful on a model's first layer.
        input_dim: Shorthand for ``input_shape=(input_dim,)``.
        batch_input_shape: Keras's legacy ``(batch, *input_shape)``.
        trainable: Whether the layer's weights are updated by training.
        dtype: ``None`` or ``'float32'`` (Keras's advice to keep a mixed-precision model's last layer in
            float32: nnkit's outputs are float32 already). Weights use ``nnkit.config.floatx()`` and the
            compute dtype comes from ``nnkit.mixed_precision``, for the whole model; other values raise.
    """

    _BASE_ARGS: ClassVar[tuple[str, ...]] = ("name", "input_shape", "input_dim", "batch_input_shape",
                                             "batch_size", "trainable", "dtype", "activity_regularizer")

    #: Which tensor layout the built module works in. ``"keras"``: exactly the shapes the layer
    #: reports (channels last for images). ``"torch"``: the same tensors with the last (channel) axis
    #: moved to axis 1, as torch's convolutions want. ``"any"``: element-wise, either works.
    #: Sequential inserts one axis move where consecutive layers disagree, not one per layer.
    layout: str = "keras"

    #: Whether ``dtype=`` names a compute dtype to check (``Input`` takes any dtype: it describes the data).
    checks_dtype: ClassVar[bool] = True

    #: Whether the module computes a Keras-style mask (``compute_mask``) for the layers after it.
    produces_mask: bool = False

    #: The dtype the model converts ``x`` to when this layer comes first; ``None`` means the float type
    #: of the weights. ``Embedding`` reads integer token ids (``torch.int64``).
    input_dtype: ClassVar[torch.dtype | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = capture_config(cls.__dict__["__init__"])

    def __init__(self, **kwargs: Any) -> None:
        unknown = [k for k in kwargs if k not in self._BASE_ARGS]
        if unknown:
            allowed = [*inspect.signature(type(self).__init__).parameters, *self._BASE_ARGS]
            hint = closest(unknown[0], allowed)
            raise TypeError(
                f"{type(self).__name__} got an unexpected keyword argument '{unknown[0]}'."
                + (f" Did you mean '{hint}'?" if hint else "")
            )
        self._config = self.__dict__.get("_config", dict(kwargs))
        self.name: str = kwargs.get("name") or unique_name(keras_layer_name(type(self).__name__))
        self._declared_shape = self._shape_from(kwargs)
        self._trainable = bool(kwargs.get("trainable", True))
        if kwargs.get("dtype") is not None and self.checks_dtype:
            check_layer_dtype(kwargs["dtype"], self.name)
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        self.module: nn.Module | None = None
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None

    # -- what subclasses implement -----------------------------------------------------------
    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        """Return the torch module for inputs of ``input_shape`` (no batch axis) and its output shape."""
        raise NotImplementedError

    def regularization_terms(self) -> list[tuple[torch.Tensor, Any]]:
        """``(tensor, regularizer)`` pairs whose penalties join the training loss."""
        return []

    def constraint_terms(self) -> list[tuple[torch.Tensor, Any]]:
        """``(parameter, constraint)`` pairs projected after every optimizer step."""
        return []

    def check_data(self, x: torch.Tensor, what: str) -> None:
        """Check a whole input array once per fit/evaluate/predict when this layer comes first (e.g.
        ``Embedding``'s ids lie in ``[0, input_dim)``); raise ``DataError`` naming ``what``. No-op here."""

    # -- shapes -------------------------------------------------------------------------------
    def _shape_from(self, kwargs: dict[str, Any]) -> Shape | None:
        shape = kwargs.get("input_shape")
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (kwargs["input_dim"],)
        if shape is None and kwargs.get("batch_input_shape") is not None:
            shape = tuple(kwargs["batch_input_shape"])[1:]
        if shape is None:
            return None
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise ConfigError(
                f"Layer '{self.name}' expects `input_shape` to be positive ints, e.g. (20,). Received: {shape!r}."
            )
        return shape

    @property
    def declared_input_shape(self) -> Shape | None:
        """The per-sample input shape given to this layer's constructor, if any."""
        return self._declared_shape

    def attach(self, input_shape: Shape) -> Shape:
        """Build (or keep, when the shape is unchanged) this layer's module; return its output shape."""
        if self.module is None or self.input_shape != input_shape:
            module, output_shape = self.build(tuple(input_shape))
            self.module, self.input_shape, self.output_shape = module, tuple(input_shape), tuple(output_shape)
            self.trainable = self._trainable
        return self.output_shape  # type: ignore[return-value]

    @property
    def built(self) -> bool:
        """Whether the layer has a module."""
        return self.module is not None

    # -- weights --------------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's weights; setting it freezes or unfreezes them."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        if self.module is not None:
            for p in self.module.parameters():
                p.requires_grad_(self._trainable)

    @property
    def weights(self) -> list[nn.Parameter]:
        """The layer's parameters followed by its buffers (e.g. running statistics)."""
        if self.module is None:
            return []
        return [*self.module.parameters(), *(b for b in self.module.buffers() if b.is_floating_point())]

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        """Parameters updated by training."""
        return [p for p in self.weights if isinstance(p, nn.Parameter) and p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        """Frozen parameters and buffers."""
        return [p for p in self.weights if not (isinstance(p, nn.Parameter) and p.requires_grad)]

    def _to_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        """Convert weight ``index`` from torch layout to Keras layout (identity by default)."""
        return array

    def _from_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        """Convert weight ``index`` from Keras layout to torch layout (identity by default)."""
        return array

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays in Keras layout (a Dense kernel is ``(inputs, units)``)."""
        # copies, as in Keras: on CPU .numpy() would share memory with the live parameters
        return [np.array(self._to_keras(i, w.detach().cpu().numpy())) for i, w in enumerate(self.weights)]

    def set_weights(self, weights: list[Any]) -> None:
        """Load weights given in Keras layout, as returned by :meth:`get_weights`."""
        own = self.weights
        if len(weights) != len(own):
            raise ConfigError(
                f"Layer '{self.name}' has {len(own)} weight arrays but set_weights received {len(weights)}."
            )
        with torch.no_grad():
            for i, (target, value) in enumerate(zip(own, weights)):
                array = self._from_keras(i, np.asarray(value))
                if tuple(array.shape) != tuple(target.shape):
                    raise ConfigError(
                        f"Layer '{self.name}' weight {i} has shape {self._to_keras(i, target.detach().cpu().numpy()).shape} "
                        f"(Keras layout) but received an array of shape {np.asarray(value).shape}."
                    )
                target.copy_(torch.as_tensor(array, dtype=target.dtype))

    def count_params(self) -> int:
        """Number of scalar weights, trainable or not (moving statistics included, as in Keras)."""
        if self.module is None:
            raise NotReadyError(f"Layer '{self.name}' is not built yet, so it has no parameters to count.")
        return sum(w.numel() for w in self.weights)

    # -- config -----------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (with defaults filled in) plus the resolved name."""
        signature = inspect.signature(type(self).__init__)
        config = {
            k: p.default for k, p in list(signature.parameters.items())[1:]
            if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        }
        config.update(self._config)
        config["name"] = self.name
        return {k: _serializable(v) for k, v in config.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LayerSpec:
        """Rebuild a layer from :meth:`get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        signature = inspect.signature(type(self).__init__)
        shown = []
        for key, value in self._config.items():
            param = signature.parameters.get(key)
            if param is None or param.default is inspect.Parameter.empty or value != param.default:
                shown.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _serializable(value: Any) -> Any:
    """Objects with a config (initializers, regularizers) become ``{"class_name", "config"}``."""
    if hasattr(value, "get_config") and not isinstance(value, type):
        return {"class_name": type(value).__name__, "config": value.get_config()}
    if isinstance(value, tuple):
        return list(value)
    return value


def regularizer_terms(pairs: list[tuple[torch.Tensor, Any]]) -> list[tuple[torch.Tensor, Any]]:
    """Resolve regularizer identifiers and drop empty ones."""
    resolved = [(tensor, regularizers.get(reg)) for tensor, reg in pairs]
    return [(tensor, reg) for tensor, reg in resolved if reg is not None]
