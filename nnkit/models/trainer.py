"""Trainer: ``compile``, ``fit``, ``evaluate``, ``predict`` and the ``*_on_batch`` calls, Keras's training API.

:class:`~nnkit.models.Sequential` inherits it; the model side (layers, building, weights, saving) lives
there. A trainer needs from its model: ``name``, ``device``, ``to``, ``layers``, ``module``,
``_ensure_built``, ``_first_layer`` and ``_input_shape`` (see :mod:`nnkit.models.sequential`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit import distributed, losses, mixed_precision, optimizers
from nnkit import metrics as metrics_module
from nnkit.callbacks.callback import Callback, CallbackList
from nnkit.callbacks.history import History
from nnkit.callbacks.progbar import ProgbarLogger
from nnkit.errors import ConfigError, DataError, NotReadyError
from nnkit.layers.base import Shape
from nnkit.models import outputs, preparation, stepping, steps
from nnkit.training.data import ArrayData, Batch, LoaderData, is_loader_input
from nnkit.training.loop import Loop, StepFunctions


@dataclass
class _Source:
    """A re-iterable stream of batches with its length and target shape (``None`` without targets)."""

    batches: Callable[[], Iterator[Batch]]
    steps: int | None
    target_shape: Shape | None


class Trainer:
    """The training API of a model (Keras's ``Trainer``): optimizer, loss and metrics chosen by
    :meth:`compile`, a training loop built on first use and cached until the model changes."""

    def __init__(self) -> None:
        self.optimizer: optimizers.Optimizer | None = None
        self.loss: losses.Loss | None = None
        self._compile_args: dict[str, Any] | None = None
        self._loop: Loop | None = None
        self._predict_cache: tuple[Any, Callable[[Tensor], Tensor]] | None = None
        self._metrics: list[tuple[metrics_module.Metric, bool]] | None = None
        self._metrics_key: tuple | None = None
        self.stop_training = False
        self.history: History | None = None
        self._hooks: list[Any] = []

    # -- compile ------------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Choose the optimizer, loss and metrics (Keras signature and defaults).

        Args:
            optimizer: Name (``'adam'``), nnkit optimizer, or ``torch.optim`` class or instance.
            loss: Name (``'categorical_crossentropy'``), Loss, function ``fn(y_true, y_pred)`` or
                ``torch.nn`` loss module.
            loss_weights: A number scaling the loss (one output).
            metrics: List of metric names, Metrics or functions, reported in logs and History.
            weighted_metrics: Like ``metrics`` but weighted by ``sample_weight``/``class_weight``.
            jit_compile: ``True`` compiles the forward pass of training, evaluation and prediction with
                ``torch.compile`` (the first batches pay the compile time; where torch.compile is
                unavailable it warns once and runs uncompiled). ``'auto'`` and ``False`` run eagerly, as Keras's
                torch backend does.
            auto_scale_loss: Under ``mixed_float16``, scale the loss so float16 gradients do not underflow
                (a ``GradScaler``; ``False`` trains unscaled).
            run_eagerly, steps_per_execution: Accepted for Keras compatibility; nnkit always runs eagerly,
                one step per batch.

        The dtype policy (``nnkit.mixed_precision.set_global_policy``) in effect now applies to this model
        (Keras fixes it when layers are created; set it before building and compiling the model).
        """
        if jit_compile not in (True, False, "auto"):
            raise ConfigError(f"jit_compile must be True, False or 'auto'. Received: jit_compile={jit_compile!r}.")
        self.optimizer = optimizers.get(optimizer)
        if self._several_outputs():  # per-output losses and metrics, named after the outputs
            self.loss = None if loss is None else outputs.compile_losses(self, loss, loss_weights)
            chosen = {"metrics": metrics or [], "weighted_metrics": weighted_metrics or [], "loss_weight": None,
                      "loss_weights": loss_weights}
        else:
            self.loss = None if loss is None else losses.get(loss)
            chosen = {"metrics": preparation.metric_list(metrics, "metrics"),
                      "weighted_metrics": preparation.metric_list(weighted_metrics, "weighted_metrics"),
                      "loss_weight": preparation.loss_weight(loss_weights)}
        self._compile_args = {
            **chosen,
            "jit_compile": jit_compile is True, "policy": mixed_precision.global_policy(),
            "auto_scale_loss": bool(auto_scale_loss),
        }
        for identifier in preparation.metric_names(self._compile_args["metrics"], self._compile_args["weighted_metrics"]):
            if identifier not in ("accuracy", "acc"):
                metrics_module.get(identifier)
        self._loop, self._metrics, self._metrics_key = None, None, None

    def _several_outputs(self) -> bool:
        return self._io_counts()[1] > 1

    @property
    def compiled(self) -> bool:
        """Whether :meth:`compile` has been called."""
        return self._compile_args is not None

    def _require_compiled(self, action: str) -> losses.Loss:
        if self._compile_args is None:
            raise NotReadyError(
                f"You must call model.compile(optimizer=..., loss=...) before model.{action}()."
            )
        if self.loss is None:
            raise NotReadyError(f"The model was compiled without a loss; pass loss=... to compile() before {action}().")
        return self.loss

    def _require_trainable(self, action: str) -> None:
        if not any(p.requires_grad for p in self.module.parameters()):
            raise ConfigError(
                f"Sequential '{self.name}' has no trainable weights (every layer is frozen or weightless), so "
                f"{action}() has nothing to update. Set layer.trainable = True on a layer, or use "
                "evaluate()/predict()."
            )

    @property
    def metrics(self) -> list[metrics_module.Metric]:
        """The metric objects resolved for the last data seen (empty before fit/evaluate). In a model with its
        own ``train_step``, Keras's trackers: a ``loss`` mean and ``compile_metrics``, reset every epoch."""
        if self._custom_steps():
            return self._trackers()
        return [metric for metric, _ in self._metrics or []]

    # -- Keras's customization points (see nnkit.models.stepping) ----------------------------------------
    def _custom_steps(self) -> bool:
        """Whether the model overrides ``train_step`` or ``test_step`` (then fit runs those, step by step)."""
        return type(self).train_step is not Trainer.train_step or type(self).test_step is not Trainer.test_step

    def _trackers(self) -> list[metrics_module.Metric]:
        trackers = self.__dict__.get("_keras_trackers")
        if trackers is None:
            trackers = [metrics_module.Mean(name="loss"), stepping.CompileMetrics(self)]
            self.__dict__["_keras_trackers"] = trackers
        return trackers

    def reset_metrics(self) -> None:
        """Reset every metric in :attr:`metrics` (fit does it at the start of each epoch and evaluation)."""
        for metric in self.metrics:
            metric.reset_state()

    def train_step(self, data: Any) -> dict[str, Any]:
        """One training step on ``data`` (``x``, ``(x, y)`` or ``(x, y, sample_weight)``); returns the logs.
        Override it for custom training (a GAN, a VAE); ``fit`` then calls it for every batch."""
        return stepping.train_step(self, data)

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step on ``data``; returns the logs. Override it with ``train_step``."""
        return stepping.test_step(self, data)

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for one batch of ``data``."""
        x, _, _ = stepping.unpack(data)
        return self(x, training=False)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Tensor:
        """The compiled loss of ``y_pred`` against ``y``, plus weight penalties and the layers' added losses."""
        if self.loss is None:
            raise NotReadyError(f"Model '{self.name}' was compiled without a loss, so compute_loss has none to "
                                "compute; pass loss=... to compile(), or compute the loss in train_step yourself.")
        y_true = torch.as_tensor(y)
        if isinstance(y_pred, Tensor):  # the loss's own conversion (labels to indices, floats to float32)
            y_true = self.loss.prepare_targets(y_true, tuple(y_pred.shape[1:]))
        weights = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
        loss = self.loss(y_true, y_pred, weights)
        penalty, _ = steps.penalty(self._flat_layers(), self.device, self) if self._compile_args else (None, [])
        extra = None if penalty is None else penalty()
        return loss if extra is None else loss + extra

    @property
    def metrics_names(self) -> list[str]:
        """``['loss', *per-output losses, *metric names]``: the order of :meth:`evaluate`'s list result."""
        parts = getattr(self.loss, "part_names", [])
        names = [metric.name for metric in self.metrics]
        return ["loss", *parts, *(sorted(names) if parts else names)]

    def _resolve_metrics(self, target_shape: Any) -> list[tuple[metrics_module.Metric, bool]]:
        key = (target_shape, self._output_sample_shape)
        if self._metrics is None or self._metrics_key != key:
            if isinstance(self.loss, outputs.OutputLosses):
                self._metrics = outputs.resolve_metrics(self, self._compile_args, self.loss, target_shape, key[1])
            else:
                self._metrics = preparation.resolve_metrics(self._compile_args, self.loss, target_shape, key[1])
            self._metrics_key, self._loop = key, None
        return self._metrics

    def _get_loop(self, target_shape: Shape, train: bool = True) -> Loop:
        """The cached loop; ``train=False`` (evaluate) does not build a torch optimizer that nothing steps yet
        (its first construction imports half of torch), a later training call builds the loop again with one."""
        metrics = self._resolve_metrics(target_shape)
        if self._loop is None or (train and not self.__dict__.get("_loop_trains", True)):
            for handle in self._hooks:
                handle.remove()
            self._loop, self._hooks = steps.build_loop(self, self._ensure_built(), metrics, train=train)
            self._loop_trains = train or self.optimizer is None or self.optimizer.torch_optimizer is not None
        return self._loop

    def _predict_forward(self) -> Callable[[Tensor], Tensor]:
        """The module as ``predict`` calls it: under the dtype policy, compiled with ``jit_compile=True``."""
        args = self._compile_args or {}
        policy = args.get("policy") or mixed_precision.global_policy()
        key = (id(self.module), policy, args.get("jit_compile", False))
        if self._predict_cache is None or self._predict_cache[0] != key:
            forward = steps.accelerated(self.module, policy, key[2], self.device, self.name)
            self._predict_cache = (key, steps.predict_forward(self, forward))
        return self._predict_cache[1]

    # -- data ---------------------------------------------------------------------------------------
    def _array_data(self, x: Any, y: Any, sample_weight: Any = None, class_weight: Any = None,
                    what: str = "x") -> ArrayData:
        x_tensor = preparation.model_inputs(self, x, what)
        self._ensure_built(preparation.sample_shapes(x_tensor))
        preparation.check_input_shape(self, x_tensor, what)
        return preparation.array_data(self, x_tensor, y, sample_weight, class_weight).to(self.device)

    def _source(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None, *,
                batch_size: int, shuffle: bool = False, steps: int | None = None, targets: bool = True) -> _Source:
        """Batches of arrays or of a Dataset/DataLoader, checked against the model."""
        if isinstance(x, ArrayData):
            data = x
        elif is_loader_input(x):
            loader = LoaderData(x, batch_size, shuffle, self.device, shard=targets)
            first_x, first_y, _ = loader.first_batch()
            self._ensure_built(preparation.sample_shapes(first_x))
            preparation.check_input_shape(self, first_x, "x")
            total = steps or loader.steps()
            if not targets:
                return _Source(lambda: preparation.take(loader.batches(), total), total, None)
            output_shape = self._output_sample_shape
            target_shape = preparation.sample_shapes(self.loss.prepare_targets(first_y, output_shape))
            return _Source(preparation.loader_batches(loader, self.loss, output_shape, total), total, target_shape)
        elif targets:
            data = self._array_data(x, y, sample_weight, class_weight)
        else:
            tensor = preparation.model_inputs(self, x, "x")
            self._ensure_built(preparation.sample_shapes(tensor))
            preparation.check_input_shape(self, tensor, "x")
            data = ArrayData(tensor).to(self.device)
        total = preparation.limited(data.steps(batch_size), steps)
        target_shape = None if data.y is None else preparation.sample_shapes(data.y)
        return _Source(lambda: preparation.take(data.batches(batch_size, shuffle, shard=targets), total), total,
                       target_shape)

    def _callbacks(self, callbacks: list[Callback] | None, verbose: int, params: dict[str, Any],
                   history: bool = False) -> CallbackList:
        extra: list[Callback] = [History()] if history else []
        main = distributed.is_main_process()
        if verbose and main:
            extra.append(ProgbarLogger())
        # in distributed training, callbacks that print or write files (CSVLogger, ...) run on rank 0 only
        own = [cb for cb in callbacks or [] if main or not getattr(cb, "main_process_only", False)]
        return CallbackList([*own, *extra], model=self, params=params)

    def _join_distributed(self) -> None:
        """Under torchrun, join the process group and, for a model on a GPU, move to this process's GPU
        (see nnkit.distributed); a model on the CPU trains in CPU processes."""
        on_gpu = self.device.type == "cuda"
        if distributed.initialize_from_environment(use_gpu=on_gpu):
            device = distributed.local_device() if on_gpu else None
            if device is not None and self.device != device:
                self.to(device)

    # -- fit / evaluate / predict ----------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | str = "auto", callbacks: list[Callback] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: dict | str | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int | Iterable[int] = 1) -> History:
        """Train for ``epochs`` epochs; returns a :class:`History` (Keras signature and semantics).

        ``x`` may be a NumPy array, tensor, DataFrame, list, a torch ``Dataset``/``DataLoader`` or a
        :class:`~nnkit.utils.PyDataset` yielding ``(x, y)`` or ``(x, y, sample_weight)`` batches. ``validation_split`` holds out the
        last fraction of the samples, before shuffling, as Keras does.
        """
        if self._custom_steps():
            return stepping.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                                callbacks=callbacks, validation_split=validation_split,
                                validation_data=validation_data, shuffle=shuffle, sample_weight=sample_weight,
                                initial_epoch=initial_epoch, validation_batch_size=validation_batch_size,
                                validation_freq=validation_freq)
        self._require_compiled("fit")
        self._join_distributed()
        if batch_size is None and getattr(self.optimizer, "full_batch", False):
            # L-BFGS, Levenberg-Marquardt: an epoch is one step on all the data, whose order does not matter
            batch_size, shuffle = 1 << 62, False
        batch_size = preparation.batch_size(batch_size, x)
        verbose = preparation.verbosity(verbose)
        preparation.check_epochs(epochs, initial_epoch)
        preparation.check_validation_freq(validation_freq)
        x = preparation.py_dataset_input(x, y, sample_weight, class_weight, validation_split)
        if validation_split and is_loader_input(x):
            raise DataError("validation_split is not supported for a Dataset or DataLoader; pass validation_data.")
        if not is_loader_input(x):
            x = self._array_data(x, y, sample_weight, class_weight)
            if validation_split and validation_data is None:
                x, validation_data = x.split(validation_split)
        train = self._source(x, batch_size=batch_size, shuffle=shuffle, steps=steps_per_epoch)
        self._require_trainable("fit")
        loop = self._get_loop(train.target_shape)
        validation = None
        if validation_data is not None:
            if not (isinstance(validation_data, ArrayData) or is_loader_input(validation_data)):
                val_x, val_y, val_w = preparation.unpack_validation(validation_data)
                validation_data = self._array_data(val_x, val_y, val_w, what="validation_data x")
            validation = self._source(validation_data, batch_size=validation_batch_size or batch_size,
                                      steps=validation_steps).batches
        cbs = self._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": epochs, "steps": train.steps},
                              history=True)
        history = next(cb for cb in cbs if isinstance(cb, History))
        loop.fit(train.batches, epochs=epochs, initial_epoch=initial_epoch, callbacks=cbs, validation=validation,
                 validation_freq=validation_freq)
        self.history = history
        return history

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int | str = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: list[Callback] | None = None,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Loss and metrics on ``(x, y)``: a float without metrics, else ``[loss, *metrics]``
        in :attr:`metrics_names` order, or a dict with ``return_dict=True``."""
        if self._custom_steps():
            return stepping.evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                                     sample_weight=sample_weight, callbacks=callbacks, return_dict=return_dict)
        self._require_compiled("evaluate")
        self._join_distributed()
        batch_size = preparation.batch_size(batch_size, x)
        verbose = preparation.verbosity(verbose)
        x = preparation.py_dataset_input(x, y, sample_weight)
        source = self._source(x, y, sample_weight, batch_size=batch_size, steps=steps)
        loop = self._get_loop(source.target_shape, train=False)
        cbs = self._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": 1, "steps": source.steps})
        logs = loop.test_pass(source.batches(), cbs)
        return preparation.result_like_keras(self, logs, return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = "auto", steps: int | None = None,
                callbacks: list[Callback] | None = None) -> np.ndarray:
        """Model outputs for ``x`` as a NumPy array."""
        if type(self).predict_step is not Trainer.predict_step:
            return stepping.predict(self, x, batch_size=batch_size, verbose=verbose, callbacks=callbacks)
        batch_size = preparation.batch_size(batch_size, x)
        verbose = preparation.verbosity(verbose)
        source = self._source(x, batch_size=batch_size, steps=steps, targets=False)
        loop = Loop(StepFunctions(self, self._predict_forward(), None, None, None, None, []), control=self)
        cbs = self._callbacks(callbacks, verbose, {"verbose": verbose, "epochs": 1, "steps": source.steps})
        result = loop.predict_pass(source.batches(), cbs)
        if isinstance(result, tuple):  # several outputs: Keras's structure (a list, or a dict by output name)
            return self._structured_outputs(tuple(part.cpu().numpy() for part in result))
        return result.cpu().numpy()

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One optimisation step on one batch; returns its loss (and metrics) like :meth:`evaluate`."""
        self._require_compiled("train_on_batch")
        self._join_distributed()
        data = self._array_data(x, y, sample_weight, class_weight)
        self._require_trainable("train_on_batch")
        loop = self._get_loop(preparation.sample_shapes(data.y))
        logs = loop.train_pass(data.batches(len(data)), CallbackList())
        return preparation.result_like_keras(self, logs, return_dict)

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) on one batch, without updating weights."""
        self._require_compiled("test_on_batch")
        self._join_distributed()
        data = self._array_data(x, y, sample_weight)
        logs = self._get_loop(preparation.sample_shapes(data.y), train=False).test_pass(data.batches(len(data)), None)
        return preparation.result_like_keras(self, logs, return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Model outputs for one batch as a NumPy array."""
        return self.predict(x, batch_size=1 << 30, verbose=0)

    # -- compile config ---------------------------------------------------------------------------------
    def get_compile_config(self) -> dict[str, Any] | None:
        """The arguments ``compile`` was called with (``None`` before), as :meth:`compile_from_config` takes them."""
        if self._compile_args is None:
            return None
        args = self._compile_args
        several = isinstance(self.loss, outputs.OutputLosses)
        loss = dict(zip(self.loss.names, self.loss.output_losses)) if several else self.loss
        return {"optimizer": self.optimizer, "loss": loss, "metrics": args["metrics"],
                "weighted_metrics": args["weighted_metrics"],
                "loss_weights": args["loss_weights"] if several else args["loss_weight"],
                "jit_compile": args["jit_compile"], "auto_scale_loss": args["auto_scale_loss"],
                "dtype_policy": args["policy"].name}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile with :meth:`get_compile_config` output (under the dtype policy the model was compiled with)."""
        config = dict(config)
        policy = config.pop("dtype_policy", None)
        self.compile(**config)
        if policy is not None:
            self._compile_args["policy"] = mixed_precision.Policy(policy)

    # -- pickling / copy.deepcopy -------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # The cached training loop and hook handles hold closures, which cannot be pickled; the loop
        # is rebuilt on unpickling (below) so the optimizer's state (e.g. Adam's moments) carries over.
        return {**self.__dict__, "_loop": None, "_hooks": [], "_predict_cache": None,
                "_rebuild_loop": self._loop is not None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        rebuild = state.pop("_rebuild_loop", False)
        self.__dict__.update(state)
        if rebuild and self.optimizer.torch_optimizer is not None:  # (an evaluate-only loop built none)
            saved = self.optimizer.torch_optimizer.state_dict()
            self._get_loop(self._metrics_key[0])  # a new torch optimizer over the restored parameters
            self.optimizer.torch_optimizer.load_state_dict(saved)
