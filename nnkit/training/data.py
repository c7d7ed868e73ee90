"""Turning user data into device tensors once, and slicing batches from them cheaply."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset

from nnkit import distributed
from nnkit.config import float_dtype
from nnkit.errors import DataError
from nnkit.utils.py_dataset import BatchStream, PyDataset

Batch = tuple[Any, Any, Tensor | None]  # (x, y, sample_weight); x and y are tensors, or tuples of them


def rows(value: Any, index: Any) -> Any:
    """``value[index]`` for a tensor, each part's for a tuple of tensors (several inputs or outputs)."""
    if isinstance(value, tuple):
        return tuple(None if part is None else part[index] for part in value)
    return None if value is None else value[index]


def count(value: Any) -> int:
    """The number of samples in a tensor or a tuple of tensors."""
    return next(part for part in value if part is not None).shape[0] if isinstance(value, tuple) else value.shape[0]


def to_device(value: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """A tensor, or tuple of tensors, on ``device``."""
    if isinstance(value, tuple):
        return tuple(to_device(part, device, non_blocking) for part in value)
    return None if value is None else value.to(device, non_blocking=non_blocking)


def concatenate(chunks: list[Any]) -> Any:
    """Batches joined along the sample axis, part by part for tuples."""
    if isinstance(chunks[0], tuple):
        return tuple(None if parts[0] is None else torch.cat(parts) for parts in zip(*chunks))
    return torch.cat(chunks)


def size(value: Any) -> int:
    """How many numbers a tensor, or tuple of tensors, holds."""
    return sum(part.numel() for part in value if part is not None) if isinstance(value, tuple) else value.numel()


def is_loader_input(x: Any) -> bool:
    """Whether ``x`` is a torch ``Dataset`` or ``DataLoader`` or a ``PyDataset`` (batched, not sliced)."""
    return isinstance(x, (Dataset, DataLoader, PyDataset))


def to_tensor(value: Any, what: str) -> Tensor:
    """Convert NumPy arrays, torch tensors, pandas objects and (nested) lists to a tensor.

    Raises:
        DataError: the value is not numeric, or is empty.
    """
    if isinstance(value, Tensor):
        tensor = value.detach()
    else:
        if hasattr(value, "dtypes") and hasattr(value, "columns"):  # a DataFrame: name a column that is not numbers
            value = numeric_frame(value, what)
        if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
            value = value.to_numpy()
        try:
            array = np.asarray(value)
        except ValueError as exc:  # ragged nested lists
            raise DataError(f"`{what}` could not be read as an array: {exc}. Give every sample the same shape.") from None
        if array.dtype == np.bool_:
            array = array.astype(np.float32)
        if array.dtype.kind not in "iuf":
            raise DataError(
                f"`{what}` must be numeric, but it has dtype {array.dtype}. Encode text or categories as "
                "numbers first (e.g. sklearn.preprocessing.LabelEncoder or OrdinalEncoder)."
            )
        if array.dtype == np.uint16 or array.dtype == np.uint32 or array.dtype == np.uint64:
            array = array.astype(np.int64)
        if not array.flags.writeable:  # e.g. pandas 3 hands out read-only views
            array = array.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.ndim == 0:
        raise DataError(f"`{what}` must hold at least one sample, but received a scalar.")
    if tensor.shape[0] == 0:
        raise DataError(f"`{what}` is empty (shape {tuple(tensor.shape)}); fit, evaluate and predict need samples.")
    if tensor.is_complex():
        raise DataError(f"`{what}` must be real-valued, but it has dtype {tensor.dtype}.")
    return tensor


def as_inputs(x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """Model inputs in ``dtype``, by default the float type of the weights (``float64`` data is cast once, here)."""
    dtype = dtype or float_dtype()
    return x if x.dtype == dtype else x.to(dtype)


def check_finite(tensor: Tensor, what: str) -> None:
    """Raise if a float tensor holds NaN or infinity, naming the first bad sample."""
    if not tensor.is_floating_point() or bool(torch.isfinite(tensor.sum())):
        return  # a NaN or inf anywhere makes the sum non-finite; the sum is a fast vectorised pass
    bad_rows = (~torch.isfinite(tensor)).reshape(tensor.shape[0], -1).any(dim=1).nonzero()
    if len(bad_rows):  # otherwise the sum merely overflowed
        bad = bad_rows[0, 0].item()
        raise DataError(
            f"`{what}` contains NaN or infinite values (first in sample {bad}). Remove or impute them "
            "before training, e.g. with sklearn.impute.SimpleImputer."
        )


def check_same_length(**tensors: Tensor | None) -> None:
    """Raise if the given arrays do not all have the same number of samples."""
    lengths = {name: count(t) for name, t in tensors.items() if t is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise DataError(f"All arrays must have the same number of samples, but {described}.")


class ArrayData:
    """In-memory ``x``, ``y`` and sample weights on one device, batched by slicing."""

    def __init__(self, x: Any, y: Any = None, sample_weight: Tensor | None = None) -> None:
        check_same_length(x=x, y=y, sample_weight=sample_weight)
        self.x, self.y, self.sample_weight = x, y, sample_weight

    def __len__(self) -> int:
        return count(self.x)

    def to(self, device: torch.device) -> ArrayData:
        """The same data on ``device`` (no copy when already there)."""
        return ArrayData(*(to_device(t, device, device.type == "cuda") for t in (self.x, self.y, self.sample_weight)))

    def split(self, validation_split: float) -> tuple[ArrayData, ArrayData]:
        """Keras's split: the last ``validation_split`` fraction, before any shuffling, validates."""
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.number)):
            raise DataError(f"validation_split must be a number in (0, 1), e.g. 0.2. Received "
                            f"{type(validation_split).__name__} {validation_split!r}.")
        if not 0.0 < validation_split < 1.0:
            raise DataError(f"validation_split must be in (0, 1). Received: {validation_split!r}.")
        cut = math.floor(len(self) * (1.0 - validation_split))
        if cut == 0 or cut == len(self):
            raise DataError(
                f"validation_split={validation_split} leaves an empty training or validation set for "
                f"{len(self)} samples. Use more data or a different fraction."
            )
        parts = (self.x, self.y, self.sample_weight)
        return ArrayData(*(rows(t, slice(None, cut)) for t in parts)), ArrayData(*(rows(t, slice(cut, None)) for t in parts))

    def steps(self, batch_size: int) -> int:
        """Number of batches in one pass."""
        return math.ceil(len(self) / batch_size)

    def batches(self, batch_size: int, shuffle: bool = False, shard: bool = True) -> Iterator[Batch]:
        """Yield ``(x, y, sample_weight)`` batches; a shuffled pass draws one permutation. In distributed
        training each rank gets its part of every batch (``shard=False``: all of it, as predict wants)."""
        x, y, w = self.x, self.y, self.sample_weight
        n = len(self)
        device = x[0].device if isinstance(x, tuple) else x.device
        if isinstance(x, tuple) or isinstance(y, tuple):  # several inputs or outputs: slice each part
            take = rows
        else:
            def take(t: Tensor | None, index: Any) -> Tensor | None:
                return None if t is None else t[index]
        if shard and distributed.world_size() > 1:  # every rank takes its part of the same batches
            order = distributed.shared_permutation(n, device) if shuffle else torch.arange(n, device=device)
            for start in range(0, n, batch_size):
                idx = distributed.shard(order[start:start + batch_size])
                yield take(x, idx), take(y, idx), take(w, idx)
        elif shuffle:
            order = torch.randperm(n, device=device)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                yield take(x, idx), take(y, idx), take(w, idx)
        else:
            for start in range(0, n, batch_size):
                window = slice(start, start + batch_size)
                yield take(x, window), take(y, window), take(w, window)


def loader_options(dataset: Dataset, batch_size: int, shuffle: bool, device: torch.device,
                   shard: bool = True) -> dict[str, Any]:
    """How nnkit batches a user's ``Dataset``: on a GPU with worker processes, pinned memory (copies then
    overlap compute), and in distributed training with a ``DistributedSampler`` giving each rank its part
    (``batch_size`` is split across ranks, as for arrays). An ``IterableDataset`` is read in its own order
    by this process alone (``shuffle`` does not apply, as in Keras for generators; worker processes would
    each replay the whole stream)."""
    if isinstance(dataset, IterableDataset):
        return {"batch_size": batch_size, "pin_memory": device.type == "cuda"}
    options: dict[str, Any] = {"batch_size": batch_size, "shuffle": shuffle}
    if device.type == "cuda":
        workers = min(4, os.cpu_count() or 1)
        options.update(pin_memory=True, num_workers=workers, persistent_workers=workers > 0)
    if shard and distributed.world_size() > 1:
        options["sampler"] = DistributedSampler(dataset, shuffle=shuffle, drop_last=False)
        options["shuffle"] = False
        options["batch_size"] = max(1, math.ceil(batch_size / distributed.world_size()))
    return options


class LoaderData:
    """Batches from a torch ``DataLoader`` (or a ``Dataset`` wrapped in one), moved to the device.

    In distributed training, a ``Dataset`` gets a ``DistributedSampler``. What nnkit cannot sample itself (a
    ``DataLoader`` without a ``DistributedSampler``, an ``IterableDataset``) is read whole by every rank, and
    each rank keeps its part of every batch, as for arrays; such a loader must give every rank the same
    batches (seed its shuffling).
    """

    def __init__(self, source: Dataset | DataLoader | PyDataset, batch_size: int, shuffle: bool,
                 device: torch.device, shard: bool = True) -> None:
        if isinstance(source, DataLoader):
            self.loader = source
        elif isinstance(source, PyDataset):  # already batched: read in (shuffled) batch order
            self.loader = BatchStream(source, shuffle)
        else:
            self.loader = DataLoader(source, **loader_options(source, batch_size, shuffle, device, shard))
        self.device = device
        self.sampler = getattr(self.loader, "sampler", None)
        self.split_batches = (shard and distributed.world_size() > 1
                              and not isinstance(self.sampler, DistributedSampler))
        self.passes = 0

    def steps(self) -> int | None:
        """Number of batches per pass, when the loader knows it."""
        try:
            return len(self.loader)
        except TypeError:
            return None

    def first_batch(self) -> Batch:
        """The first batch on the device, to build and check the model (a PyDataset's epoch hooks do not run)."""
        if isinstance(self.loader, BatchStream):
            return next(self._converted([self.loader.first()]))
        return next(iter(self.batches()))

    def batches(self) -> Iterator[Batch]:
        """Yield ``(x, y, sample_weight)`` batches on the device."""
        if isinstance(self.sampler, DistributedSampler):  # a new order each pass, the same on every rank
            self.sampler.set_epoch(self.passes)
        self.passes += 1
        return self._converted(self.loader)

    def _converted(self, items: Any) -> Iterator[Batch]:
        non_blocking = self.device.type == "cuda"  # host-to-GPU copies from pinned memory may overlap
        for item in items:
            if isinstance(item, Tensor):
                parts = [item]
            elif isinstance(item, (tuple, list)) and 1 <= len(item) <= 3:
                parts = list(item)
            else:
                raise DataError(
                    "Each batch from a Dataset or DataLoader must be x, (x,), (x, y) or (x, y, sample_weight). "
                    f"Received a {type(item).__name__}."
                )
            parts += [None] * (3 - len(parts))
            x, y, w = (_loaded(p, self.device, non_blocking) for p in parts)
            if self.split_batches:
                part = distributed.shard(torch.arange(count(x), device=self.device))
                x, y, w = (rows(t, part) for t in (x, y, w))
            yield (tuple(as_inputs(t) if t.is_floating_point() else t for t in x) if isinstance(x, tuple)
                   else as_inputs(x)), y, w


def _loaded(part: Any, device: torch.device, non_blocking: bool) -> Any:
    """A batch part from a DataLoader on ``device``: lists and tuples (several inputs) become tuples."""
    if part is None:
        return None
    if isinstance(part, (list, tuple)):
        return tuple(torch.as_tensor(p).to(device, non_blocking=non_blocking) for p in part)
    return torch.as_tensor(part).to(device, non_blocking=non_blocking)


def class_labels(y: Tensor) -> Tensor:
    """Integer class per sample: arg-max of one-hot rows, else the label itself (0/1 for binary)."""
    if y.ndim >= 2 and y.shape[-1] > 1:
        return y.argmax(dim=-1).reshape(y.shape[0], -1)[:, 0]
    return torch.round(y.reshape(y.shape[0], -1)[:, 0].float()).long()


def numeric_frame(frame: Any, what: str) -> Any:
    """``frame`` with its bool columns as 0/1 floats (as bool arrays are read); any other column that is not
    plain numbers is refused, naming it and the encoding that fixes it.

    Raises:
        DataError: for category, text or nullable (``Int64``, ``boolean``, ...) columns.
    """
    flags = []
    for name, dtype in frame.dtypes.items():
        kind = str(dtype)
        if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
            continue
        if kind == "bool":
            flags.append(name)
            continue
        if kind == "category":
            fix = (f"one-hot encode it (pandas.get_dummies(df, columns=[{name!r}]) or "
                   "sklearn.preprocessing.OneHotEncoder), or use its codes (df[col].cat.codes) for an Embedding")
        elif kind[:1].isupper() or kind == "boolean":  # pandas's nullable Int64, Float64, ...
            fix = (f"fill or drop its missing values, then df[{name!r}] = df[{name!r}].astype('float32') "
                   "(nullable columns cannot hold NaN as a number)")
        else:
            fix = "encode its values as numbers (sklearn.preprocessing.OrdinalEncoder or OneHotEncoder)"
        raise DataError(f"`{what}` column {name!r} has dtype {kind}, which is not plain numbers: {fix}.")
    return frame.astype(dict.fromkeys(flags, "float32")) if flags else frame


def class_weight_to_sample_weight(class_weight: dict[int, float] | str, y: Tensor) -> Tensor:
    """Per-sample weights from Keras-style ``class_weight`` (missing classes weigh 1).

    ``'balanced'`` gives each class ``n_samples / (n_classes * count)``, as scikit-learn does.
    """
    labels = class_labels(y)
    if labels.numel() and int(labels.min()) < 0:
        raise DataError("class_weight needs non-negative integer class labels in y.")
    if class_weight == "balanced":
        counts = torch.bincount(labels).to(torch.float64)
        present = counts > 0
        table = torch.zeros_like(counts)
        table[present] = labels.numel() / (int(present.sum()) * counts[present])
        return table[labels].to(torch.float32)
    if not isinstance(class_weight, dict):
        raise DataError(
            f"class_weight must be a dict {{class: weight}} or 'balanced'. Received: {class_weight!r}."
        )
    size = max(int(labels.max()) + 1, *(int(k) + 1 for k in class_weight)) if class_weight else int(labels.max()) + 1
    table = torch.ones(size, dtype=torch.float32)
    check_class_weight(class_weight)
    for key, weight in class_weight.items():
        if int(key) < 0:
            raise DataError(f"class_weight keys must be non-negative class indices. Received key {key!r}.")
        table[int(key)] = float(weight)
    return table[labels.cpu()].to(y.device)


def check_class_weight(class_weight: dict[Any, Any]) -> None:
    """Refuse a class weight that is not a finite, non-negative number (NaN would train into NaN weights).

    Raises:
        DataError: naming the class and the weight.
    """
    for key, weight in class_weight.items():
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise DataError(f"class_weight for class {key!r} must be a number. Received: {weight!r}.") from None
        if not math.isfinite(value) or value < 0:
            raise DataError(f"class_weight for class {key!r} is {value}: class weights must be finite and "
                            "non-negative. Fix that entry of class_weight (1.0 is the neutral weight).")
