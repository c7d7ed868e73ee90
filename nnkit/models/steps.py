"""From a built model to the functions one training step calls: the forward the loss sees, the
loss itself, and the penalties and projections around the optimizer step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, fx, nn
from torch.nn.parallel import DistributedDataParallel

from nnkit import distributed, losses
from nnkit.layers.base import Layer, adds_losses
from nnkit.mixed_precision import Policy
from nnkit.models import graph, outputs
from nnkit.training import acceleration
from nnkit.training.loop import Loop, StepFunctions

_FUSABLE = {nn.Softmax: "softmax", nn.Sigmoid: "sigmoid"}


def build_loop(model: Any, module: nn.Sequential, metrics: list[Any], train: bool = True) -> tuple[Loop, list[Any]]:
    """The training loop of a compiled, built model, and the hook handles it registered; with ``train=False``
    (a loop that only evaluates) a torch optimizer not built yet stays unbuilt."""
    # the activity hooks go in first: the training forward must keep the containers they sit on
    layers = model._flat_layers()
    penalty_fn, hooks = penalty(layers, model.device, model)
    body, activation, loss = loss_path(module, model.layers[-1], model.loss, model)
    trainable = [p for p in module.parameters() if p.requires_grad]
    if distributed.world_size() > 1 and trainable:  # gradients averaged across ranks; rank 0's weights broadcast
        device_ids = [model.device.index] if model.device.type == "cuda" else None
        forward = DistributedDataParallel(body, device_ids=device_ids)
    else:
        forward = flat_forward(body)
    if model._io_counts()[0] > 1:
        forward = Spread(forward)
    owners = [m for m in module.modules() if adds_losses(m)] + ([model] if adds_losses(model) else [])
    if owners:  # losses added by an earlier call (an eager model(x)) are not this step's
        forward = FreshLosses(forward, owners)
    forward = InMode(forward, model)
    args = model._compile_args
    loss_fn = loss if args["loss_weight"] is None else Scaled(loss, args["loss_weight"])
    optimizer = model.optimizer
    check = getattr(optimizer, "check_model", None)
    if check is not None:  # an optimizer that cannot honour every model feature says so before training
        check(model.name, activity_penalties=bool(hooks), added_losses=bool(owners), outputs=model._io_counts()[1])
    built = optimizer.torch_optimizer
    same = built is not None and [id(p) for p in getattr(optimizer, "_params", [])] == list(map(id, trainable))
    # keep the running optimizer (and its moments) when only the loop, not the weights, changed
    torch_optimizer = built if same else (optimizer.build(trainable) if trainable and (train or built is not None) else None)
    constraints = [term for layer in layers for term in layer.constraint_terms()]
    if constraints and torch_optimizer is not None:
        hooks.append(torch_optimizer.register_step_post_hook(ConstraintProjection(constraints)))
    forward = accelerated(forward, args["policy"], args["jit_compile"], model.device, model.name)
    functions = StepFunctions(model, forward, activation, loss_fn, penalty_fn, optimizer, metrics,
                              scaler=acceleration.grad_scaler(args["policy"], model.device, args["auto_scale_loss"]),
                              loss_parts=getattr(model.loss, "part_names", None))
    return Loop(functions, control=model), hooks


def accelerated(forward: Callable[[Tensor], Tensor], policy: Policy, jit_compile: bool, device: torch.device,
                name: str) -> Callable[[Tensor], Tensor]:
    """``forward`` under the dtype policy, compiled with ``torch.compile`` when asked."""
    forward = acceleration.with_policy(forward, policy, device)
    return acceleration.Compiled(forward, f"model '{name}'") if jit_compile else forward


def loss_path(module: nn.Module, last_layer: Layer, loss: losses.Loss,
              model: Any = None) -> tuple[nn.Module, Any, losses.Loss]:
    """``(body, output_activation, loss)``: cross-entropy runs on the logits before a final
    softmax/sigmoid when the loss has a logits twin (Keras-on-TensorFlow's stable path); ``body`` is the
    module computing what the loss sees (sharing the model's weights)."""
    if isinstance(module, fx.GraphModule):
        return _graph_loss_path(module, model, loss)
    if isinstance(module, Layer):  # a subclassed model: its own call()
        return _subclass_loss_path(module, loss)
    if not isinstance(module, nn.Sequential) or not len(module):
        return module, None, loss
    last = module[-1]
    activation = last[-1] if isinstance(last, nn.Sequential) and len(last) else last
    kind = _FUSABLE.get(type(activation))
    if last_layer.activity_regularizer is not None:
        kind = None  # the penalty is defined on the layer's activated output
    if kind == "softmax" and activation.dim not in (-1, len(last_layer.output_shape)):
        kind = None
    fused = loss.with_logits_of(kind) if kind else None
    if fused is None:
        return module, None, loss
    body = list(module)[:-1]
    if last is not activation:
        body += list(last)[:-1]
    return type(module)(*body), activation, fused


def _graph_loss_path(module: fx.GraphModule, model: Any, loss: losses.Loss) -> tuple[nn.Module, Any, losses.Loss]:
    """:func:`loss_path` for a graph: a copy whose outputs stop before a final softmax/sigmoid wherever that
    output's loss has a logits twin (and no activity penalty watches the output)."""
    several = isinstance(loss, outputs.OutputLosses)
    output_losses = loss.output_losses if several else [loss]
    layers = [t._keras_history[0] for t in model.outputs]
    fused: dict[int, losses.Loss] = {}

    def strip(index: int, activation: nn.Module) -> bool:
        kind, layer, own = _FUSABLE.get(type(activation)), layers[index], output_losses[index]
        if kind is None or own is None or layer.activity_regularizer is not None:
            return False
        if kind == "softmax" and activation.dim not in (-1, len(layer.output_shape)):
            return False
        twin = own.with_logits_of(kind)
        if twin is not None:
            fused[index] = twin
        return twin is not None

    body, activations = graph.without_final_activations(module, strip)
    if not activations:
        return module, None, loss
    if not several:
        return body, activations[0], fused[0]
    twins = [fused.get(i, own) for i, own in enumerate(output_losses)]
    return body, PerOutput(activations), outputs.OutputLosses(twins, loss.weights, loss.names)


def _subclass_loss_path(model: Any, loss: losses.Loss) -> tuple[nn.Module, Any, losses.Loss]:
    """:func:`loss_path` for a subclassed model: a test call finds the built-in layer whose output is the
    model's output; when it ends in a softmax/sigmoid that the loss can take as logits, training runs the
    model with that layer stopping before its activation."""
    layer = _output_layer(model)
    module = getattr(layer, "module", None)
    if (layer is None or type(module) is not nn.Sequential or len(module) < 2 or layer.activity_regularizer
            is not None or type(module[-1]) not in _FUSABLE):
        return model, None, loss
    activation = module[-1]
    if isinstance(activation, nn.Softmax) and activation.dim not in (-1, len(layer.output_shape)):
        return model, None, loss
    twin = loss.with_logits_of(_FUSABLE[type(activation)])
    return (LogitsOf(model, layer), activation, twin) if twin is not None else (model, None, loss)


def _output_layer(model: Any) -> Layer | None:
    """The one built-in layer (called once) whose output object is what a test call of the model returns,
    when nothing else reads that output (another layer, or an ``add_loss``): only then may training skip
    its activation without anyone seeing logits instead of probabilities."""
    from nnkit.layers import calling

    calls: list[tuple[Layer, Any]] = []
    read: set[int] = set()
    layers = [m for m in model.modules() if isinstance(m, Layer) and m is not model]
    candidates = [m for m in layers if not m._custom and not m._is_model]
    handles = [m.register_forward_hook(lambda layer, _, output: calls.append((layer, output))) for m in candidates]
    handles += [m.register_forward_pre_hook(lambda _, args: read.update(id(a) for a in args)) for m in layers]
    try:
        sample = [1 if d is None else d for d in model._shapes[0]] if isinstance(model._shapes[0], tuple) else None
        if sample is None:
            return None
        was_training = model.training
        model.train(False)
        with torch.no_grad():
            output = model.forward(torch.zeros((2, *sample), dtype=calling.config.float_dtype()))
        model.train(was_training)
    except Exception:  # a call that needs more than zeros of the input shape: no fusion, nothing lost
        return None
    finally:
        for handle in handles:
            handle.remove()
    added = [m for m in model.modules() if m.__dict__.pop("_added_losses", None)]
    producers = [layer for layer, value in calls if value is output]
    if len(producers) != 1 or sum(layer is producers[0] for layer, _ in calls) != 1 or id(output) in read or added:
        return None
    return producers[0]


class LogitsOf(nn.Module):
    """A subclassed model's forward with one layer's final activation skipped (a module, so DDP can wrap it)."""

    def __init__(self, model: Any, layer: Layer) -> None:
        super().__init__()
        self.model = model
        object.__setattr__(self, "layer", layer)  # already inside the model: not a second child

    def forward(self, x: Any) -> Any:
        from nnkit.layers import calling

        calling.TRAINING.logits_of = self.layer
        try:
            return self.model.forward(x)
        finally:
            calling.TRAINING.logits_of = None


class PerOutput:
    """Applies the final activations a fused loss path left out, output by output (picklable)."""

    def __init__(self, activations: dict[int, nn.Module]) -> None:
        self.activations = activations

    def __call__(self, y_pred: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return tuple(self.activations[i](part) if i in self.activations else part for i, part in enumerate(y_pred))


def flat_forward(module: nn.Sequential) -> Callable[[Tensor], Tensor]:
    """Call the leaf modules of nested ``nn.Sequential`` containers in order.

    Same result as ``module(x)`` minus one container call per layer, which on small models is a
    measurable share of a step. Containers with hooks are kept whole so the hooks still run.
    """
    leaves: list[nn.Module] = []

    def collect(container: nn.Module) -> None:
        for child in container.children():
            plain = type(child) is nn.Sequential and not (child._forward_hooks or child._forward_pre_hooks)
            collect(child) if plain else leaves.append(child)

    if isinstance(module, (fx.GraphModule, Layer)) and not (module._forward_hooks or module._forward_pre_hooks):
        return module.forward  # generated code, or a subclassed model's call, without nn.Module's call around it
    if type(module) is not nn.Sequential or module._forward_hooks or module._forward_pre_hooks:
        return module
    collect(module)

    def forward(x: Tensor) -> Tensor:
        for leaf in leaves:
            x = leaf(x)
        return x

    return forward


class InMode:
    """Runs a forward pass with the module's train/eval mode as the layer calls' ``training`` context, so
    layers called inside it (a subclassed model's, custom layers in a graph) follow fit and evaluate, while
    a model called directly meanwhile (from a callback) infers, as in Keras (picklable)."""

    def __init__(self, forward: Callable[..., Any], module: nn.Module) -> None:
        self.forward, self.module = forward, module

    def __call__(self, x: Any) -> Any:
        from nnkit.layers import calling

        state = calling.TRAINING
        outer, state.value = state.value, self.module.training
        try:
            return self.forward(x)
        finally:
            state.value = outer


class FreshLosses:
    """Forgets the losses custom layers added before this step's forward pass (picklable)."""

    def __init__(self, forward: Callable[..., Any], owners: list[Any]) -> None:
        self.forward, self.owners = forward, owners

    def __call__(self, x: Any) -> Any:
        for owner in self.owners:
            owner.__dict__.pop("_added_losses", None)
        return self.forward(x)


class Spread:
    """Calls a module of several inputs with a batch's tuple of input tensors (picklable)."""

    def __init__(self, forward: Callable[..., Any]) -> None:
        self.forward = forward

    def __call__(self, x: tuple[Tensor, ...]) -> Any:
        return self.forward(*x)


def predict_forward(model: Any, forward: Callable[..., Any]) -> Callable[..., Any]:
    """``forward`` as predict calls it: with a batch's tuple of inputs for models of several inputs."""
    return Spread(forward) if model._io_counts()[0] > 1 else forward


class Scaled:
    """``loss`` times a constant ``loss_weights`` factor."""

    def __init__(self, loss: Callable[..., Tensor], weight: float) -> None:
        self.loss, self.weight = loss, weight

    def __call__(self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        return self.weight * self.loss(y_true, y_pred, sample_weight)


def penalty(layers: list[Layer], device: torch.device,
            owner: Any = None) -> tuple[Callable[[], Tensor] | None, list[Any]]:
    """The regularization added to each step's loss, and the hook handles it registered.

    Weight penalties plus activity penalties that forward hooks record (Keras semantics:
    ``regularizer(output) / batch_size``, in fit and evaluate). Stale activity hooks (from a copy or
    an unpickled model, which carry hooks without handles) are removed first.
    """
    for layer in layers:
        hooks = layer.module._forward_hooks
        for key in [k for k, hook in hooks.items() if isinstance(hook, ActivityPenalty)]:
            del hooks[key]
    # a zero factor (e.g. a searched l2 of 0.0) adds nothing to the loss or its gradient: skip its work
    terms = [term for layer in layers for term in layer.regularization_terms()
             if not getattr(term[1], "is_zero", False)]
    activity: list[Tensor] = []
    handles = [layer.module.register_forward_hook(ActivityPenalty(layer.activity_regularizer, activity))
               for layer in layers if layer.activity_regularizer is not None]
    # custom layers (their own `call`) may add_loss during the forward pass
    scanned = [*layers, owner] if owner is not None else layers  # the model's own call may add_loss too
    custom = list({id(m): m for layer in scanned for m in layer.modules() if adds_losses(m)}.values())
    if not terms and not handles and not custom:
        return None, handles

    def total() -> Tensor | None:
        values = [regularizer(tensor) for tensor, regularizer in terms] + activity
        for layer in custom:
            values += [torch.as_tensor(v).sum() for v in layer.__dict__.pop("_added_losses", [])]
        activity.clear()
        if len(values) == 1:
            return values[0]
        return torch.stack(values).sum() if values else None  # None: nothing to add this step

    return total, handles


class ActivityPenalty:
    """Forward hook adding ``regularizer(output) / batch_size`` to ``sink`` (fit and evaluate).

    A class rather than a closure so a model holding it can be pickled and deep-copied.
    """

    def __init__(self, regularizer: Callable[[Tensor], Tensor], sink: list[Tensor]) -> None:
        self.regularizer, self.sink = regularizer, sink

    def __call__(self, module: nn.Module, inputs: Any, output: Tensor) -> None:
        if not torch.is_inference_mode_enabled():  # predict() has no loss to add it to
            self.sink.append(self.regularizer(output) / max(1, output.shape[0]))


class ConstraintProjection:
    """Optimizer step post-hook projecting constrained weights back onto their sets (picklable)."""

    def __init__(self, constraints: list[tuple[Tensor, Callable[[Tensor], Tensor]]]) -> None:
        self.constraints = constraints

    def __call__(self, *_: Any) -> None:
        with torch.no_grad():
            for weight, constraint in self.constraints:
                weight.copy_(constraint(weight))
