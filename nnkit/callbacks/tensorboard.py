"""TensorBoard: write logs, the learning rate and weight histograms for TensorBoard (optional extra)."""

from __future__ import annotations

import os
import time
from typing import Any

from nnkit.callbacks.callback import Callback
from nnkit.errors import ConfigError


def _summary_writer_class() -> type:
    """torch's ``SummaryWriter``, which needs the optional ``tensorboard`` package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            "The TensorBoard callback needs the optional `tensorboard` package, which is not installed. "
            "Install it with `pip install tensorboard`, or leave TensorBoard out of the callbacks."
        ) from exc
    return SummaryWriter


class TensorBoard(Callback):
    """Log training for TensorBoard through torch's ``SummaryWriter``, laid out as Keras does.

    ``log_dir/train`` gets ``epoch_<name>`` scalars of the training logs and ``epoch_learning_rate``;
    ``log_dir/validation`` gets the validation logs under the same tags (``val_loss`` -> ``epoch_loss``),
    so TensorBoard draws the two runs on one chart. View with ``tensorboard --logdir <log_dir>``.

    Args:
        log_dir: Folder of the event files.
        histogram_freq: Every this many epochs, write a histogram of every weight (0: never).
        write_graph: Accepted for Keras compatibility; the graph is not written (torch needs an input
            example: call ``SummaryWriter.add_graph(model.module, x)`` yourself).
        write_images: Not supported (must be False).
        write_steps_per_second: Also log training steps per second each epoch.
        update_freq: ``'epoch'``, or also write ``batch_<name>`` scalars every this many batches (each
            write reads the running logs from the device once).
        profile_batch: Not supported (must be 0); use ``torch.profiler``.
        embeddings_freq: Not supported (must be 0).
        embeddings_metadata: Not supported (must be None).

    Raises:
        ImportError: the ``tensorboard`` package is missing.
        ConfigError: an unsupported option is set, or ``update_freq``/``histogram_freq`` is invalid.
    """

    main_process_only = True  # in distributed training only rank 0 writes (nnkit.distributed)

    def __init__(self, log_dir: str | os.PathLike[str] = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int = 0, embeddings_freq: int = 0, embeddings_metadata: Any = None) -> None:
        super().__init__()
        for key, value, default in (("write_images", write_images, False), ("profile_batch", profile_batch, 0),
                                    ("embeddings_freq", embeddings_freq, 0),
                                    ("embeddings_metadata", embeddings_metadata, None)):
            if value != default:
                raise ConfigError(f"TensorBoard does not support {key}={value!r} in nnkit (leave it at {default!r}).")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ConfigError(f"TensorBoard expects `histogram_freq` to be a non-negative int. "
                              f"Received: {histogram_freq!r}.")
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq <= 0):
            raise ConfigError(f"TensorBoard expects update_freq='epoch' or a positive int. Received: {update_freq!r}.")
        self._writer_class = _summary_writer_class()
        self.log_dir, self.histogram_freq, self.write_graph = os.fspath(log_dir), histogram_freq, write_graph
        self.write_steps_per_second, self.update_freq = write_steps_per_second, update_freq
        self._writers: dict[str, Any] = {}
        self._epoch_start, self._batches = 0.0, 0
        if update_freq != "epoch":  # bound per instance: with 'epoch', no batch hook runs at all
            self.on_train_batch_end = self._on_train_batch_end

    def _writer(self, run: str) -> Any:
        if run not in self._writers:
            self._writers[run] = self._writer_class(log_dir=os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._close()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start, self._batches = time.monotonic(), 0

    def _on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches += 1
        if self._batches % self.update_freq:
            return
        step = int(self.model.optimizer.iterations)
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        validation = {k[len("val_"):]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in train:
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            seconds = time.monotonic() - self._epoch_start
            train["steps_per_second"] = (self.params.get("steps") or 0) / seconds if seconds > 0 else 0.0
        for run, values in (("train", train), ("validation", validation)):
            if values:
                writer = self._writer(run)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for name, weight in self.model.module.state_dict().items():
                if weight.is_floating_point():
                    writer.add_histogram(name.replace(".", "/"), weight.detach().cpu(), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._close()

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def __repr__(self) -> str:
        return f"TensorBoard(log_dir={self.log_dir!r}, histogram_freq={self.histogram_freq}, " \
               f"update_freq={self.update_freq!r})"
