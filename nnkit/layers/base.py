"""Layer: the one base of nnkit layers and models, a callable ``torch.nn.Module`` with Keras's manners.

A layer's config is exactly its constructor arguments (captured automatically), so ``get_config`` /
``from_config`` never drift from ``__init__``. Built-in layers build one plain torch module
(``layer.module``, e.g. an ``nn.Linear``) that models chain or wire into a graph without any wrapper;
calling a layer on data runs that module (channels-last in and out), calling it on a symbolic
``Input`` records a graph node.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.modules import module as torch_module

from nnkit import regularizers
from nnkit.errors import ConfigError, NotReadyError
from nnkit.layers import calling, penalties, symbolic, variables  # noqa: F401 (variables: weights' Variable API)
from nnkit.registry import Registry, capture_config, closest
from nnkit.utils.naming import unique_name

LAYERS: Registry[type[Layer]] = Registry("layer")

Shape = tuple[int, ...]


def keras_layer_name(class_name: str) -> str:
    """Keras's automatic layer name for a class: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Layer(nn.Module):
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

    #: Whether the built module keeps the train/eval mode it has (a user's module given to ``TorchModule``);
    #: otherwise it starts in the layer's mode (inference until ``fit`` or ``training=True``).
    keeps_module_mode: ClassVar[bool] = False

    #: Models compile their own module (see nnkit.models); a layer that is not a model may be a custom one.
    _is_model: ClassVar[bool] = False

    #: Attributes holding the layers this one wraps (Bidirectional, TimeDistributed, ...): its ``trainable`` is
    #: theirs, and they set their own weights (a recurrent layer keeps its frozen zero bias).
    wraps: ClassVar[tuple[str, ...]] = ()

    #: Whether ``call`` takes ``training`` (then it receives the mode the call runs in, as Keras passes it).
    _call_takes_training: ClassVar[bool] = False

    #: The mode of a call that nothing gives a mode (no ``training=``, no ``fit``/``predict``): Keras's default
    #: of ``call``'s ``training``, False except for the augmentation layers, which augment there.
    training_by_default: ClassVar[bool] = False

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
        if "call" in cls.__dict__:  # Keras hands `training` to a call that names it
            cls._call_takes_training = "training" in inspect.signature(cls.__dict__["call"]).parameters
        if "build" in cls.__dict__ and not cls._is_model:  # layer.build((None, 5)) by hand builds, as in Keras
            cls.build = calling.marks_built(cls.__dict__["build"])

    @property
    def _custom(self) -> bool:
        """Whether this is a user's layer in Keras's style (its own ``call``; weights from ``add_weight``)."""
        return type(self).call is not Layer.call and not self._is_model

    def __init__(self, **kwargs: Any) -> None:
        nn.Module.__init__(self)
        self.training = False  # inference unless asked (Keras's default); fit switches the model to training
        if self.training_by_default:
            calling.TRAINING.trains_by_default = True  # outermost calls now look for such layers
        unknown = [k for k in kwargs if k not in self._BASE_ARGS]
        if unknown:
            allowed = [*inspect.signature(type(self).__init__).parameters, *self._BASE_ARGS]
            hint = closest(unknown[0], allowed)
            raise TypeError(
                f"{type(self).__name__} got an unexpected keyword argument '{unknown[0]}'."
                + (f" Did you mean '{hint}'?" if hint else "")
            )
        self._config = self.__dict__.get("_config", dict(kwargs))
        if kwargs.get("name") is not None and not isinstance(kwargs["name"], str):
            raise ConfigError(f"{type(self).__name__} expects `name` to be a string. Received: name={kwargs['name']!r}.")
        self.name: str = kwargs.get("name") or unique_name(keras_layer_name(type(self).__name__))
        self._declared_shape = calling.declared_shape(kwargs, self.name)
        self._trainable = bool(kwargs.get("trainable", True))
        if kwargs.get("dtype") is not None and self.checks_dtype:
            calling.check_layer_dtype(kwargs["dtype"], self.name)
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        if not isinstance(getattr(type(self), "module", None), property):  # models compile theirs
            self.module: nn.Module | None = None
        self._shapes: tuple[Any, Any] = (None, None)  # (input, output) sample shapes of the built module
        self._inbound_nodes: list[symbolic.Node] = []

    # -- calling ----------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the layer: on symbolic tensors (``Input``) it records a graph node and returns symbolic
        outputs; on data (arrays, lists, tensors) it builds itself on first use and returns tensors.

        ``training=True``/``False`` switches Dropout, BatchNormalization and the noise layers between their
        training and inference behaviour for this call and the layer calls inside it; ``None`` keeps what an
        enclosing call was given, else the layer's mode: inference, except while ``fit`` trains it.
        """
        state = calling.TRAINING
        # The mode needs no change when an enclosing call (or fit) set this layer's mode, or when nothing did and
        # the layer infers; an outermost call of a layer left in training mode (a callback during fit) infers.
        # An outermost call may also need the layers that train by default (augmentation) switched, once any exist.
        settled = state.value == self.training if state.value is not None else (
            state.depth > 0 or not (self.training or (state.trains_by_default and calling.training_by_default(self))))
        plain = (settled and len(args) == 1 and not kwargs and type(args[0]) is Tensor and self._shapes[1] is not None
                 and args[0].dtype in _DIRECT_DTYPES and not (self._forward_hooks or self._forward_pre_hooks
                                                              or _HOOKS_FORWARD or _HOOKS_PRE or _HOOKS_BACKWARD
                                                              or _HOOKS_BACKWARD_PRE))
        if plain and not state.custom_layers:  # the common case, kept cheap: a built layer on a tensor
            fast = self.__dict__.get("_fast_path")
            if fast is not None and state.logits_of is not self:
                module, children = fast  # a built-in layer's modules, called directly while no hook watches them
                if not (module._forward_hooks or module._forward_pre_hooks):
                    x = args[0]
                    for child in children:
                        x = child(x)
                    return x
            if self._call_takes_training:
                return self.call(args[0], training=self.training)
            return self.call(args[0])  # what torch's __call__ would end in, without its bookkeeping
        if state.depth == 0:  # an outermost call: losses added by an earlier call are forgotten, as in Keras
            for layer in self.__dict__.get("_loss_owner_cache") or self._loss_owners():
                layer.__dict__.pop("_added_losses", None)
        if plain:
            return self._counted(type(self).forward, args, {})
        if settled and len(args) == 1 and not kwargs and type(args[0]) is Tensor and self._shapes[1] is not None \
                and args[0].dtype in _DIRECT_DTYPES:  # hooks: through torch's __call__
            return self._counted(nn.Module.__call__, args, kwargs)
        return self._counted(type(self)._call, (args, kwargs), {})

    def _counted(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``function(self, *args, **kwargs)`` one layer-call deeper (see ``calling.TrainingFlag.depth``)."""
        state = calling.TRAINING
        state.depth += 1
        try:
            return function(self, *args, **kwargs)
        finally:
            state.depth -= 1

    def _loss_owners(self) -> list[Layer]:
        """The custom layers in this layer (itself included), which may ``add_loss``; cached once built."""
        owners = self.__dict__.get("_loss_owner_cache")
        if owners is None:
            owners = [m for m in self.modules() if adds_losses(m)]
            if self.built:
                self.__dict__["_loss_owner_cache"] = owners
        return owners

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not args:
            if "inputs" not in kwargs:
                raise TypeError(f"Layer '{self.name}' was called without inputs; call it as layer(x).")
            args = (kwargs.pop("inputs"),)
        if symbolic.is_symbolic(args):
            kwargs.pop("training", None)
            return symbolic.call_layer(self, args, kwargs)
        training = kwargs.pop("training", None)
        args = tuple(calling.as_data(a, self) for a in args)
        for key, value in kwargs.items():  # masks and other array arguments keep their dtype
            if isinstance(value, np.ndarray):
                kwargs[key] = torch.as_tensor(value)
        if not self.built:
            self._build_for(args[0] if len(args) == 1 else list(args))
        outer = calling.TRAINING.value
        mode = outer if training is None else bool(training)
        if mode is None and calling.TRAINING.depth <= 1:  # an outermost call without `training`: inference,
            defaults = calling.training_by_default(self)  # except in layers that train by default (augmentation)
            if defaults:
                return calling.call_with_defaults(self, defaults, nn.Module.__call__, args, kwargs)
            mode = False
        if mode is None or mode == self.training:  # the mode an enclosing call or fit gave it
            return nn.Module.__call__(self, *args, **kwargs)
        calling.TRAINING.value, before = mode, self.training
        try:
            self.train(mode)
            return nn.Module.__call__(self, *args, **kwargs)
        finally:
            self.train(before)
            calling.TRAINING.value = outer

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """torch's entry point: :meth:`call` (so hooks and ``torch.compile`` see a normal module), given the
        mode it runs in as ``training`` when it takes one."""
        if self._call_takes_training and "training" not in kwargs:
            kwargs["training"] = self.training
        return self.call(*args, **kwargs)

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The computation on tensors in Keras layout (channels last): the built module, with the
        channel axis moved for modules that work channels-first. Custom layers override this."""
        module = self.__dict__.get("_built_module")
        if module is None:
            module = self.module
        if calling.TRAINING.logits_of is self:  # a loss on the logits asked this layer to skip its activation
            if self.layout != "torch" or not isinstance(inputs, Tensor) or inputs.ndim < 3:
                for child in tuple(module._modules.values())[:-1]:
                    inputs = child(inputs)
                return inputs
            module = module[:-1]
        if self.layout == "torch" and isinstance(inputs, Tensor) and inputs.ndim >= 3:
            return calling.channels_last(module(inputs.movedim(-1, 1), *args, **kwargs))
        if type(module) is nn.Sequential and not (args or kwargs or module._forward_hooks or module._forward_pre_hooks):
            for child in module._modules.values():  # Dense and its activation: no container call in between
                inputs = child(inputs)
            return inputs
        return module(inputs, *args, **kwargs)

    def _build_for(self, inputs: Any) -> None:
        """Build from the shapes of the first data the layer is called on."""
        shapes = symbolic.map_structure(lambda t: tuple(t.shape[1:]) if isinstance(t, Tensor) else None, inputs)
        self.attach(shapes)

    def _symbolic_outputs(self, output_shape: Any, kwargs: dict[str, Any]) -> Any:
        """The output shape(s) of a symbolic call with ``kwargs`` (layers whose arguments add outputs override)."""
        return output_shape

    def _infer_output_shape(self, shapes: Any) -> Any:
        """The output sample shape for inputs of ``shapes``, without changing the built layer."""
        if shapes == self.input_shape:
            return self.output_shape
        if not calling.compatible(self.input_shape, shapes):
            raise ConfigError(
                f"Layer '{self.name}' ({type(self).__name__}) was built for inputs of shape "
                f"{calling.batch_shape(self.input_shape)} but is now called on inputs of shape {calling.batch_shape(shapes)}. "
                "A layer called twice shares its weights, so both inputs need the same shape."
            )
        state = dict(self.__dict__)
        try:  # a throwaway build works out the shape; the built module and attributes are restored after
            _, output_shape = calling.build_module(self, shapes)
        except TypeError:
            output_shape = self.output_shape
        finally:
            self.__dict__.clear()
            self.__dict__.update(state)
        return output_shape

    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's first call (as in Keras)."""
        return self._first_node("input").args[0]

    @property
    def output(self) -> Any:
        """The symbolic output(s) of the layer's first call (as in Keras)."""
        return self._first_node("output").outputs

    def _first_node(self, what: str) -> symbolic.Node:
        if not self._inbound_nodes:
            raise NotReadyError(f"Layer '{self.name}' has not been called on a symbolic input yet, so it has no "
                                f"{what}. Call it on keras.Input(...) (or build the model that holds it) first.")
        return self._inbound_nodes[0]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """The output shape, batch axis included, for inputs of ``input_shape`` (batch axis included)."""
        shapes = calling.strip_batch(input_shape)
        return calling.batch_shape(self._infer_output_shape(shapes) if self.built else self.attach(shapes))

    @property
    def input_shape(self) -> Any:
        """The per-sample input shape the layer was built for (``None`` before)."""
        return self._shapes[0]

    @input_shape.setter
    def input_shape(self, value: Any) -> None:
        self._shapes = (value, self._shapes[1])

    @property
    def output_shape(self) -> Any:
        """The per-sample output shape of the built layer (``None`` before)."""
        return self._shapes[1]

    @output_shape.setter
    def output_shape(self, value: Any) -> None:
        self._shapes = (self._shapes[0], value)

    # -- what subclasses implement -----------------------------------------------------------
    def build(self, input_shape: Any) -> tuple[nn.Module, Shape] | None:
        """Create the layer's weights for inputs of ``input_shape`` (one sample, no batch axis).

        Built-in layers return their torch module and output shape. A custom layer (one that overrides
        :meth:`call`) creates its weights with :meth:`add_weight` and returns nothing, as in Keras; it is
        then its own module, and its output shape comes from :meth:`compute_output_shape` or a test call.
        """
        return None

    # -- Keras's API for custom layers ---------------------------------------------------------
    def add_weight(self, shape: Any = None, initializer: Any = None, dtype: Any = None, trainable: bool = True,
                   regularizer: Any = None, constraint: Any = None, name: str | None = None,
                   **kwargs: Any) -> nn.Parameter:
        """Create a weight of ``shape`` (Keras layout), filled by ``initializer`` (default
        ``'glorot_uniform'``), tracked by the layer (also when not assigned to an attribute).

        Raises:
            ConfigError: a bad shape or an unknown initializer, regularizer or constraint (naming the layer).
        """
        from nnkit import config, constraints, initializers

        shape = () if shape is None else (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ConfigError(f"Layer '{self.name}': add_weight(shape=...) takes non-negative ints, e.g. (4, 8). "
                              f"Received: shape={shape!r}. Build weights in build(input_shape), where sizes are known.")
        try:
            fill = initializers.get(initializer if initializer is not None else "glorot_uniform")
            penalty, projection = regularizers.get(regularizer), constraints.get(constraint)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"Layer '{self.name}': add_weight(name={name!r}): {exc}") from None
        weight = nn.Parameter(fill.keras_layout(shape, config.float_dtype()), requires_grad=bool(trainable))
        key = name if name and name.isidentifier() and not hasattr(self, name) else f"weight_{len(self._parameters)}"
        self.register_parameter(key, weight)
        terms = self.__dict__.setdefault("_weight_terms", [])
        terms.append((weight, penalty, projection, bool(trainable)))
        return weight

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, nn.Parameter) and "_parameters" in self.__dict__:
            for key, existing in list(self._parameters.items()):  # add_weight's result kept under its own name
                if existing is value and key != name:
                    del self._parameters[key]
        elif name.startswith("_") or "_modules" not in self.__dict__:
            pass  # nnkit's own bookkeeping (e.g. the captured config) stays as it is
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, nn.Module) for v in value):
            value = nn.ModuleList(value)  # sublayers in a list count (weights, modes, devices), as in Keras
        elif (isinstance(value, dict) and value and all(isinstance(v, nn.Module) for v in value.values())
              and all(isinstance(k, str) for k in value)):
            value = nn.ModuleDict(value)
        super().__setattr__(name, value)

    def add_loss(self, value: Any) -> None:
        """Add ``value`` (a scalar tensor computed in :meth:`call`) to the training loss of this step."""
        if not torch.is_inference_mode_enabled():  # predict has no loss to add it to
            self.__dict__.setdefault("_added_losses", []).append(value)

    @property
    def losses(self) -> list[Tensor]:
        """Keras's list: the losses :meth:`add_loss` added and the activity penalties of the last call (this
        layer's, then its sublayers'), then the penalties of the trainable weights (computed when read)."""
        return penalties.layer_losses(self)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or self.__dict__.get("module") is not None or not self._custom:
                raise
            raise AttributeError(
                f"Layer '{self.__dict__.get('name')}' ({type(self).__name__}) has no attribute {name!r} yet: weights "
                "made with add_weight() in build() exist once the layer is built, on its first call or by "
                "layer.build(input_shape). Create them in build() and use them in call()."
            ) from None

    def _sublayers(self) -> list[Layer]:
        """The layers a custom layer holds as attributes (also in lists and dicts), not itself."""
        return [m for m in self.modules() if isinstance(m, Layer) and m is not self]

    def regularization_terms(self) -> list[tuple[torch.Tensor, Any]]:
        """``(tensor, regularizer)`` pairs whose penalties join the training loss (a custom layer's from
        ``add_weight(regularizer=...)`` and its sublayers')."""
        own = [(w, r) for w, r, _, _ in self.__dict__.get("_weight_terms", []) if r is not None]
        return own + [t for layer in self._direct_sublayers() for t in layer.regularization_terms()]

    def constraint_terms(self) -> list[tuple[torch.Tensor, Any]]:
        """``(parameter, constraint)`` pairs projected after every optimizer step."""
        own = [(w, c) for w, _, c, _ in self.__dict__.get("_weight_terms", []) if c is not None]
        return own + [t for layer in self._direct_sublayers() for t in layer.constraint_terms()]

    def _direct_sublayers(self) -> list[Layer]:
        """The outermost layers inside a custom layer (each reports its own sublayers); none for built-ins."""
        return self._outer_layers() if self.__dict__.get("module") is self else []

    def _outer_layers(self) -> list[Layer]:
        """The layers this module holds as attributes (also in lists and dicts), not those inside them."""
        found: list[Layer] = []

        def visit(module: nn.Module) -> None:
            for child in module.children():
                found.append(child) if isinstance(child, Layer) else visit(child)

        visit(self)
        return found

    def check_data(self, x: torch.Tensor, what: str) -> None:
        """Check a whole input array once per fit/evaluate/predict when this layer comes first (e.g.
        ``Embedding``'s ids lie in ``[0, input_dim)``); raise ``DataError`` naming ``what``. No-op here."""

    # -- shapes -------------------------------------------------------------------------------
    @property
    def declared_input_shape(self) -> Shape | None:
        """The per-sample input shape given to this layer's constructor, if any."""
        return self._declared_shape

    def attach(self, input_shape: Any) -> Any:
        """Build (or keep, when the shape is unchanged) this layer's module; return its output shape.

        ``input_shape`` is one sample's shape, or a list of them for layers with several inputs.
        """
        input_shape = calling.as_shapes(input_shape)
        if self._custom:
            if self.module is None:
                self.__dict__["_in_attach"] = True
                try:  # Keras hands a custom build the shape with its batch axis
                    self.build(calling.batch_shape(input_shape))
                finally:
                    del self.__dict__["_in_attach"]
                self._finish_custom_build(input_shape)
            return self.output_shape
        if self.module is None or self.input_shape != input_shape:
            module, output_shape = calling.build_module(self, input_shape)
            self.module = module if self.keeps_module_mode else module.train(self.training)
            self.__dict__["_built_module"] = module  # what call() runs, read without nn.Module's attribute lookup
            if type(self).call is Layer.call and self.layout != "torch":
                children = tuple(module._modules.values()) if type(module) is nn.Sequential else (module,)
                self.__dict__["_fast_path"] = (module, children)
            self._shapes = (input_shape, calling.as_shapes(output_shape))
            self.trainable = self._trainable
            penalties.watch_activity(self)
        return self.output_shape

    def _finish_custom_build(self, input_shape: Any) -> None:
        """A custom layer is its own module (a plain attribute, not a child of itself)."""
        object.__setattr__(self, "module", self)
        calling.TRAINING.custom_layers = True  # from now on layer calls count their depth (for add_loss)
        self._shapes = (input_shape, None)
        self._shapes = (input_shape, calling.as_shapes(self._custom_output_shape(input_shape)))
        self.trainable = self._trainable
        penalties.watch_activity(self)

    def _custom_output_shape(self, input_shape: Any) -> Any:
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            return calling.strip_batch(self.compute_output_shape(calling.batch_shape(input_shape)))
        return calling.dry_run_shape(self, input_shape)

    @property
    def built(self) -> bool:
        """Whether the layer has a module (a custom layer may set ``self.built = True`` itself, as in Keras)."""
        return self.module is not None

    @built.setter
    def built(self, value: bool) -> None:
        if value and self._custom and self.__dict__.get("module") is None:
            object.__setattr__(self, "module", self)
            calling.TRAINING.custom_layers = True

    # -- weights --------------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's weights; setting it freezes or unfreezes them."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        if self.wraps:
            modules = self.__dict__.get("_modules", {})
            for layer in (modules.get(name) for name in self.wraps):
                if isinstance(layer, Layer):  # (not set yet while the wrapper's constructor runs)
                    layer.trainable = value
            return
        frozen = {id(w) for w, _, _, trainable in self.__dict__.get("_weight_terms", []) if not trainable}
        for layer in self._sublayers() if self.module is self else []:
            layer.trainable = value
        if self.module is not None:
            for p in self.module.parameters():
                p.requires_grad_(self._trainable and id(p) not in frozen)

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
        return {k: calling.config_value(v) for k, v in config.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
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


# Tensors a built layer takes as they are; others (float64, ...) go the way that casts them, as Keras does.
_DIRECT_DTYPES = frozenset({torch.float32, torch.int64, torch.int32, torch.bool})

_HOOKS_FORWARD, _HOOKS_PRE = torch_module._global_forward_hooks, torch_module._global_forward_pre_hooks
_HOOKS_BACKWARD, _HOOKS_BACKWARD_PRE = torch_module._global_backward_hooks, torch_module._global_backward_pre_hooks


def adds_losses(module: nn.Module) -> bool:
    """Whether ``module`` is a layer or model with a ``call`` of its user's (which may ``add_loss``)."""
    return isinstance(module, Layer) and not getattr(type(module).call, "_nnkit_builtin", False)


Layer.call._nnkit_builtin = True  # type: ignore[attr-defined]


def regularizer_terms(pairs: list[tuple[torch.Tensor, Any]]) -> list[tuple[torch.Tensor, Any]]:
    """Resolve regularizer identifiers and drop empty ones."""
    resolved = [(tensor, regularizers.get(reg)) for tensor, reg in pairs]
    return [(tensor, reg) for tensor, reg in resolved if reg is not None]
