"""``PyDataset`` (legacy name ``Sequence``): batches computed by Python code, as ``fit`` reads them.

A subclass returns whole batches from ``__getitem__`` and their count from ``__len__``; ``fit``,
``evaluate`` and ``predict`` read them in order (``fit(shuffle=True)`` shuffles the batch order, as Keras
does), call ``on_epoch_begin`` before and ``on_epoch_end`` after every pass, and fetch ahead with
``workers`` threads, or processes with ``use_multiprocessing=True``.
"""

from __future__ import annotations

import itertools
import random
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from nnkit.errors import ConfigError, DataError


class PyDataset:
    """Base class for datasets that build each batch in Python (Keras's ``keras.utils.PyDataset``).

    Implement ``__getitem__(index)`` returning one batch, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
    as NumPy arrays or tensors, and ``__len__()`` returning the number of batches (or override the
    ``num_batches`` property, returning ``None`` for an endless dataset, which needs ``steps_per_epoch``).
    ``on_epoch_begin`` and ``on_epoch_end`` run before and after every pass of ``fit``, ``evaluate`` or
    ``predict`` over the dataset.

    Args:
        workers: How many batches are fetched concurrently (threads, or processes with
            ``use_multiprocessing``); 1 reads them one after another in the training process.
        use_multiprocessing: Fetch batches in worker processes (the dataset must be picklable). nnkit
            uses torch ``DataLoader`` workers for this.
        max_queue_size: How many fetched batches may wait to be trained on.

    Example:
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return math.ceil(len(self.x) / self.batch_size)
        ...     def __getitem__(self, index):
        ...         window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[window], self.y[window]
        >>> model.fit(Batches(x, y, 32), epochs=5)  # doctest: +SKIP
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = [name for name in ("_workers", "_use_multiprocessing", "_max_queue_size") if not hasattr(self, name)]
        if missing:
            self._workers = getattr(self, "_workers", 1)
            self._use_multiprocessing = getattr(self, "_use_multiprocessing", False)
            self._max_queue_size = getattr(self, "_max_queue_size", 10)
            warnings.warn(
                f"{type(self).__name__} should call `super().__init__(**kwargs)` in its constructor. `**kwargs` can "
                "include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass these arguments to "
                "`fit()`, as they will be ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        """Number of batches fetched concurrently."""
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        """Whether batches are fetched in worker processes."""
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        """How many fetched batches may wait."""
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) returning one batch.")

    def __iter__(self) -> Iterator[Any]:
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        for index in itertools.count() if count is None else range(count):
            yield self[index]

    @property
    def num_batches(self) -> int | None:
        """Number of batches (``len(self)``), or ``None`` for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__ (the number of batches) or the num_batches property "
            "(None for an endless dataset)."
        )

    def on_epoch_begin(self) -> None:
        """Called at the beginning of every pass."""

    def on_epoch_end(self) -> None:
        """Called at the end of every pass."""

    def __repr__(self) -> str:
        try:
            count = self.num_batches
        except NotImplementedError:
            count = "?"
        return f"{type(self).__name__}(num_batches={count}, workers={self.workers})"


Sequence = PyDataset  # Keras 2's name, kept by Keras 3 as an alias


def standardize_batch(batch: Any) -> tuple:
    """A batch as a ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` tuple (a lone array is ``(x,)``).

    Raises:
        DataError: the batch is something else.
    """
    if isinstance(batch, list):
        batch = tuple(batch)
    elif not isinstance(batch, tuple) and hasattr(batch, "shape"):  # one array or tensor: inputs only
        return (batch,)
    if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
        shown = f"a tuple of {len(batch)} items" if isinstance(batch, tuple) else f"a {type(batch).__name__}"
        raise DataError(
            "PyDataset.__getitem__() must return a batch (x,), (x, y) or (x, y, sample_weight) of arrays. "
            f"Received {shown}. Return one of those tuples."
        )
    return batch


class BatchStream:
    """One pass after another over a PyDataset's batches, as ``fit`` reads them (``len`` is the batch count).

    Each pass calls ``on_epoch_begin`` first and ``on_epoch_end`` when its last batch has been used (or the
    pass is abandoned). An endless dataset (``num_batches`` ``None``) continues where the previous pass
    stopped, as Keras's does.
    """

    def __init__(self, dataset: PyDataset, shuffle: bool = False) -> None:
        self.dataset, self.shuffle = dataset, shuffle
        self._next_endless = 0
        workers, queue = dataset.workers, dataset.max_queue_size
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ConfigError(f"{type(dataset).__name__}: workers must be a non-negative int. Received: {workers!r}.")
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
            raise ConfigError(f"{type(dataset).__name__}: max_queue_size must be a positive int. Received: {queue!r}.")

    def __len__(self) -> int:
        count = self.dataset.num_batches
        if count is None:
            raise TypeError("an endless PyDataset has no length")
        return count

    def __repr__(self) -> str:
        return f"BatchStream({self.dataset!r}, shuffle={self.shuffle})"

    def first(self) -> tuple:
        """The first batch, without running the epoch hooks (to build and check the model)."""
        return standardize_batch(self.dataset[0])

    def _order(self) -> Iterator[int]:
        count = self.dataset.num_batches
        if count is None:
            return itertools.count(self._next_endless)
        if count < 1:
            raise DataError(f"The PyDataset {type(self.dataset).__name__} is empty: its __len__ returned {count}.")
        order = list(range(count))
        if self.shuffle:
            random.shuffle(order)  # Python's random, as Keras (seeded by set_random_seed)
        return iter(order)

    def __iter__(self) -> Iterator[tuple]:
        dataset = self.dataset
        dataset.on_epoch_begin()
        try:
            order = self._order()
            if dataset.use_multiprocessing and dataset.workers > 0:
                batches = self._in_processes(order)
            elif dataset.workers > 1:
                batches = self._in_threads(order)
            else:
                batches = (dataset[index] for index in order)
            endless = dataset.num_batches is None
            for batch in batches:
                if endless:
                    self._next_endless += 1
                yield standardize_batch(batch)
        finally:
            dataset.on_epoch_end()

    def _in_threads(self, order: Iterator[int]) -> Iterator[Any]:
        """Batches fetched by ``workers`` threads, at most ``max_queue_size`` ahead, in order."""
        dataset = self.dataset
        pending: list[Future] = []
        with ThreadPoolExecutor(dataset.workers, thread_name_prefix="nnkit-pydataset") as pool:
            try:
                for index in order:
                    pending.append(pool.submit(dataset.__getitem__, index))
                    if len(pending) >= dataset.max_queue_size:
                        yield pending.pop(0).result()
                while pending:
                    yield pending.pop(0).result()
            finally:
                for future in pending:
                    future.cancel()

    def _in_processes(self, order: Iterator[int]) -> Iterator[Any]:
        """Batches fetched by ``workers`` torch DataLoader processes, in order."""
        from torch.utils.data import DataLoader

        workers = self.dataset.workers
        sampler = order if self.dataset.num_batches is None else list(order)  # a list: a sampler with a length
        yield from DataLoader(_Indexed(self.dataset), batch_size=None, sampler=sampler, num_workers=workers,
                              collate_fn=_as_is, prefetch_factor=max(1, self.dataset.max_queue_size // workers))


class _Indexed:
    """A PyDataset as a map-style dataset for DataLoader workers (which must not run the epoch hooks)."""

    def __init__(self, dataset: PyDataset) -> None:
        self.dataset = dataset

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]


def _as_is(batch: Any) -> Any:
    return batch

