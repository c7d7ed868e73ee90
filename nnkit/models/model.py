"""Model: what every nnkit model shares, Sequential and functional alike.

A model is a :class:`~nnkit.layers.Layer` (so it can be called on data, or on symbolic tensors inside
another model) and a :class:`~nnkit.models.trainer.Trainer` (``compile``/``fit``/``evaluate``/``predict``).
Its layers are compiled into one plain torch module, ``model.module``, which is what training runs.
``Model(inputs, outputs)`` makes a functional model (:mod:`nnkit.models.functional`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError, NotReadyError
from nnkit.layers import symbolic
from nnkit.layers.base import Layer, Shape
from nnkit.models.trainer import Trainer
from nnkit.utils.naming import unique_name


class Model(Trainer, Layer):
    """A model: layers compiled into one torch module, with Keras's training and saving API.

    ``Model(inputs, outputs, name=None)`` builds a functional model from symbolic tensors:

    Example:
        >>> inputs = Input(shape=(20,))
        >>> hidden = Dense(64, activation="relu")(inputs)
        >>> model = Model(inputs, Dense(1)(hidden))
    """

    layout = "keras"
    _is_model = True
    _inputs_make_a_graph = True  # Model(inputs, outputs) and subclasses built so are functional; not Sequential

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        from nnkit.models.functional import Functional

        inputs = args[0] if args else kwargs.get("inputs")
        if symbolic.is_symbolic(inputs) and cls._inputs_make_a_graph and not issubclass(cls, Functional):
            if cls is Model:
                return Functional.__new__(Functional)
            # a subclass built functionally, MyModel(inputs, outputs) (e.g. to override train_step): as in
            # Keras, it becomes a functional model that keeps the subclass's methods
            return Functional.__new__(_functional_subclass(cls))
        return super().__new__(cls)

    def __init__(self, *args: Any, name: str | None = None, trainable: bool = True, **kwargs: Any) -> None:
        if type(self) is Model and (args or kwargs):
            raise TypeError("Model(...) takes symbolic inputs and outputs, e.g. Model(keras.Input(shape=(4,)), "
                            f"outputs); received {args or kwargs!r:.100}.")
        Layer.__init__(self, name=name or unique_name(self._default_name()), trainable=trainable)
        Trainer.__init__(self)
        self.device = config.default_device()

    @classmethod
    def _default_name(cls) -> str:
        return "functional" if cls.__name__ == "Functional" else cls.__name__.lower()

    # -- what subclasses provide ---------------------------------------------------------------------
    @property
    def module(self) -> nn.Module:
        """The model as one plain torch module (built on first use)."""
        return self._ensure_built()

    # A subclass of Model with its own ``call`` (Keras's subclassing API) is its own module; Sequential and
    # Functional override these with their compiled modules.
    def _ensure_built(self, sample_shape: Any = None) -> nn.Module:
        if self._shapes[1] is None and not self.__dict__.get("_declared_built", False):
            if sample_shape is None:
                require_input_shape(self)
            self._build_subclassed(sample_shape)
        return self

    def _build_subclassed(self, sample_shape: Any) -> None:
        """Create the sublayers' weights by running ``call`` once on zeros of ``sample_shape``."""
        from nnkit.layers import calling

        if type(self).call is Model.call:
            raise NotReadyError(f"Model '{self.name}' has no layers: pass inputs and outputs (Model(inputs, "
                                "outputs)), or subclass Model and define call().")
        shape = calling.as_shapes(sample_shape)
        self._shapes = (shape, calling.as_shapes(calling.dry_run_shape(self, shape)))
        self.to(self.device)

    @property
    def layers(self) -> list[Layer]:
        """The layers the model holds as attributes (also in lists and dicts), in the order they were set."""
        return self._outer_layers()

    @property
    def _output_sample_shape(self) -> Any:
        """The per-sample shape of the (single) output."""
        self._ensure_built()
        return self._shapes[1]

    @property
    def _input_shape(self) -> Any:
        return self._shapes[0]

    @_input_shape.setter
    def _input_shape(self, value: Any) -> None:
        self._shapes = (value, self._shapes[1])

    def _first_layer(self) -> Layer | None:
        return None

    def _declared_input_shape(self) -> Shape | None:
        return None

    def build(self, input_shape: Any = None) -> None:  # type: ignore[override]
        """Build the model for inputs of ``input_shape`` (batch axis included, e.g. ``(None, 20)``)."""
        if input_shape is None:
            self._ensure_built()
        elif self._shapes[1] is None:
            from nnkit.layers import calling

            self._build_subclassed(calling.strip_batch(input_shape))

    @property
    def input_shape(self) -> Any:
        """``(None, *sample_shape)`` once built."""
        from nnkit.layers import calling

        self._ensure_built()
        return calling.batch_shape(self._shapes[0])

    @property
    def output_shape(self) -> Any:
        """``(None, *sample_shape)`` once built."""
        from nnkit.layers import calling

        return calling.batch_shape(self._output_sample_shape)

    # -- as a layer ----------------------------------------------------------------------------------
    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Run the model's module on ``inputs`` (moved to the model's device). A subclass defines its own."""
        device = self.device
        if isinstance(inputs, (list, tuple)):
            return self._ensure_built()(*(t.to(device) if isinstance(t, Tensor) else t for t in inputs))
        return self._ensure_built()(inputs.to(device) if isinstance(inputs, Tensor) else inputs)

    @property
    def input_dtype(self) -> torch.dtype | None:  # type: ignore[override]
        """The dtype data is converted to before it reaches the first layer (``None``: float)."""
        first = self._first_layer()
        return None if first is None else first.input_dtype

    @property
    def built(self) -> bool:
        """Whether the torch module exists (a subclass may declare itself built, ``self.built = True``, as
        Keras's GAN examples do for models that only run their own ``train_step``)."""
        return self._shapes[1] is not None or self.__dict__.get("_declared_built", False)

    @built.setter
    def built(self, value: bool) -> None:
        self.__dict__["_declared_built"] = bool(value)

    def attach(self, input_shape: Any) -> Any:
        """Build for inputs of ``input_shape`` (per sample) when called as a layer; return the output shape."""
        self._ensure_built(input_shape)
        return self._output_sample_shape

    def _infer_output_shape(self, shapes: Any) -> Any:
        self._ensure_built(shapes)
        return self._output_sample_shape

    # -- devices ----------------------------------------------------------------------------------------
    def to(self, device: str | torch.device) -> Model:  # type: ignore[override]
        """Move the model, its optimizer state (moments) and its future data to ``device``."""
        self.device = torch.device(device)
        module = self._module_if_built()
        if module is not None:
            before = list(module.parameters())
            nn.Module.to(module, self.device)  # on some devices the parameters become new objects
            running = self.optimizer.torch_optimizer if self.optimizer is not None else None
            if running is not None:  # the same optimizer state over the moved parameters, on their device
                moved = dict(zip(map(id, before), module.parameters()))
                state = running.state_dict()
                self.optimizer.build([moved.get(id(p), p) for group in running.param_groups for p in group["params"]])
                self.optimizer.torch_optimizer.load_state_dict(state)
        self._loop, self._predict_cache = None, None
        return self

    def _module_if_built(self) -> nn.Module | None:
        return self._ensure_built() if self.built else None

    # -- layers ----------------------------------------------------------------------------------------
    def _weight_layers(self) -> list[Layer]:
        """The layers that own weights, in Keras's weight order (an Input owns none)."""
        return self.layers

    def _io_counts(self) -> tuple[int, int]:
        """How many inputs and outputs the model has (without building it)."""
        return 1, 1

    def _flat_layers(self) -> list[Layer]:
        """Every layer, with nested models opened up (for penalties, constraints and hooks)."""
        flat: list[Layer] = []
        for layer in self._weight_layers():
            flat += layer._flat_layers() if isinstance(layer, Model) else [layer]
        return flat

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        """The weight penalties of every layer (a model nested in another contributes its own)."""
        return [term for layer in self._flat_layers() for term in layer.regularization_terms()]

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        """The weight constraints of every layer."""
        return [term for layer in self._flat_layers() for term in layer.constraint_terms()]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by ``name`` or by position ``index`` in :attr:`layers`.

        Raises:
            ValueError: no layer has that name or index (the message lists the names).
        """
        layers = self.layers
        if index is not None and name is not None:
            raise ConfigError("get_layer takes a name or an index, not both.")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ConfigError(f"Model '{self.name}' has {len(layers)} layers; index {index} is out of range.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"Model '{self.name}' has no layer named {name!r}. Its layers: "
                          f"{', '.join(layer.name for layer in layers)}.")

    # -- weights ----------------------------------------------------------------------------------------
    @property
    def weights(self) -> list[Tensor]:
        """All weights, layer by layer."""
        self._ensure_built()
        return _unique([w for layer in self._weight_layers() for w in layer.weights])

    @property
    def trainable_weights(self) -> list[Tensor]:
        """Weights that training updates."""
        self._ensure_built()
        return _unique([w for layer in self._weight_layers() for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """Frozen weights and buffers."""
        self._ensure_built()
        return _unique([w for layer in self._weight_layers() for w in layer.non_trainable_weights])

    @property
    def trainable(self) -> bool:
        """Whether the model is trainable; setting it freezes or unfreezes every layer."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._weight_layers():
            layer.trainable = value
        self._loop = None

    def get_weights(self) -> list[np.ndarray]:
        """All weights as NumPy arrays in Keras layout, layer by layer."""
        self._ensure_built()
        return [w for layer in self._weight_layers() for w in layer.get_weights()]

    def set_weights(self, weights: list[Any]) -> None:
        """Load weights in the order and layout of :meth:`get_weights` (Keras's order)."""
        self._ensure_built()
        layers = self._weight_layers()
        counts = [len(layer.get_weights()) for layer in layers]  # Keras's arrays, not torch's tensors
        if len(weights) != sum(counts):
            raise ConfigError(f"Model '{self.name}' has {sum(counts)} weight arrays but received {len(weights)}.")
        start = 0
        for layer, count in zip(layers, counts):
            layer.set_weights(list(weights[start:start + count]))
            start += count

    def count_params(self) -> int:
        """Number of scalar weights, trainable or not (moving statistics included, as in Keras)."""
        self._ensure_built()
        return sum(w.numel() for w in self.weights)

    def summary(self, line_length: int | None = None, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts (and, for graphs,
        which layers feed each one)."""
        from nnkit.models.summary import summary_text

        (print_fn or print)(summary_text(self, line_length or (98 if self._is_graph() else 72)))

    def _is_graph(self) -> bool:
        return False

    # -- saving ---------------------------------------------------------------------------------------
    def save(self, filepath: str | os.PathLike[str], overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Write the whole model to one file: architecture, compile settings, weights (safetensors),
        optimizer state and versions. Any name works (``model.keras`` too); the write is atomic.
        ``nnkit.models.load_model`` reads it back without running code from it.

        Raises:
            ConfigError: something in the model cannot be saved (the message says what and how to fix it).
        """
        from nnkit.saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath: str | os.PathLike[str], overwrite: bool = True) -> None:
        """Write only the weights (safetensors in an nnkit state file; the write is atomic)."""
        from nnkit.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str | os.PathLike[str], skip_mismatch: bool = False) -> None:
        """Load weights saved by :meth:`save_weights` or :meth:`save`, a plain safetensors file, or a torch
        ``state_dict`` in a ``.pt`` file (read with ``weights_only=True``)."""
        from nnkit.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON (``json.dumps`` keyword arguments such as ``indent=2`` pass through);
        ``nnkit.models.model_from_json`` rebuilds it."""
        from nnkit.saving import serialize

        return json.dumps({"class_name": type(self).__name__,
                           "config": serialize(self.get_config(), "model config", allow_bytecode=True)}, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, layers={self.layers!r})"


Model.call._nnkit_builtin = True  # type: ignore[attr-defined]  # the library's own call, not a user's

_FUNCTIONAL_SUBCLASSES: dict[type, type] = {}


def _functional_subclass(cls: type) -> type:
    """``cls`` with :class:`~nnkit.models.functional.Functional` behind it (made once per class)."""
    from nnkit.models.functional import Functional

    if cls not in _FUNCTIONAL_SUBCLASSES:
        _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__,
                                                                              "__qualname__": cls.__qualname__})
    return _FUNCTIONAL_SUBCLASSES[cls]


def _unique(tensors: list[Tensor]) -> list[Tensor]:
    """Tensors without repeats (a layer shared by two nodes, or by two nested models, counts once)."""
    seen: set[int] = set()
    return [t for t in tensors if not (id(t) in seen or seen.add(id(t)))]


def require_input_shape(model: Model) -> None:
    raise NotReadyError(
        f"Model '{model.name}' does not know its input shape yet. Give the first layer input_shape=... or "
        "input_dim=..., start with Input(shape=...), call model.build((None, n_features)), or fit it on data."
    )
