"""Data-parallel training across processes with ``torch.distributed`` (DDP), started by ``torchrun``.

The same script runs unchanged on one process or many: launched as
``torchrun --nproc_per_node=N train.py``, ``fit`` joins the process group torchrun describes in the
environment (NCCL on GPUs, one GPU per process; gloo on CPUs), wraps the model in
``DistributedDataParallel`` (rank 0's initial weights are broadcast, gradients are averaged), splits every
batch of ``batch_size`` samples across the processes, and before logging an epoch sums the loss across
them and gathers every rank's outputs and targets into the metrics (every 64 batches), so History,
epoch-end callbacks and early stopping see the numbers of all samples on every rank. Batch-level logs are
each rank's own; a callback stopping training mid-epoch on one rank (``TerminateOnNaN``) stops every rank
at the same batch. Progress bars, CSV logs, TensorBoard, backups and model files are written by rank 0 only.

Example (two nodes with four GPUs each; run on each node with its ``--node_rank``)::

    torchrun --nnodes=2 --nproc_per_node=4 --node_rank=0 --rdzv_backend=c10d \\
        --rdzv_endpoint=node0.example.org:29500 train.py
"""

from __future__ import annotations

import atexit
import os

import torch
from torch import Tensor
from torch import distributed as dist

from nnkit.errors import ConfigError


def initialize_from_environment(use_gpu: bool = True) -> bool:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1), once; whether training is distributed.

    With ``use_gpu`` and CUDA available: NCCL, one GPU per process (``LOCAL_RANK``). Otherwise gloo, for
    CPU processes (a model on the CPU, e.g. with ``NNKIT_DEVICE=cpu``).

    Raises:
        ConfigError: more processes on this node than it has GPUs.
    """
    if not dist.is_available():
        return False
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        gpu = use_gpu and torch.cuda.is_available()
        if gpu:
            local, count = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
            if local >= count:
                raise ConfigError(
                    f"torchrun started process {local} on this node, which has {count} GPU(s): one GPU per "
                    f"process. Use --nproc_per_node={count}, or train on CPU processes with NNKIT_DEVICE=cpu."
                )
            torch.cuda.set_device(local)
        dist.init_process_group(backend="nccl" if gpu else "gloo")
        atexit.register(_leave_group)  # a group left to interpreter shutdown can abort the process
    return world_size() > 1


def _leave_group() -> None:
    """Leave the process group nnkit joined: every rank waits for the others, then the group is destroyed
    (at exit, torch's background threads otherwise may be torn down mid-flight: "terminate called ...")."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def world_size() -> int:
    """Number of training processes (1 without ``torch.distributed``)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without ``torch.distributed``)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    """Whether this process logs and writes files (rank 0)."""
    return rank() == 0


def local_device() -> torch.device | None:
    """The GPU of this process under torchrun (``cuda:LOCAL_RANK``), else ``None``."""
    if torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return None


def shared_permutation(n: int, device: torch.device) -> Tensor:
    """A random order of ``n`` samples, the same on every rank (drawn on rank 0, broadcast)."""
    order = torch.randperm(n, device=device)
    if world_size() > 1:
        carrier = order.cpu() if dist.get_backend() == "gloo" else order
        dist.broadcast(carrier, src=0)
        order = carrier.to(device)
    return order


def shard(indices: Tensor) -> Tensor:
    """This rank's part of one batch's sample indices (strided, so the parts differ by at most one sample;
    when the batch has fewer samples than ranks, a rank re-uses one so that every rank takes the step)."""
    size, here = world_size(), rank()
    part = indices[here::size]
    return part if len(part) else indices[here % len(indices):here % len(indices) + 1]


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on any rank (the same answer on every rank). Every rank must call it."""
    if world_size() == 1:
        return flag
    carrier = torch.tensor([int(flag)], device="cpu" if dist.get_backend() == "gloo" else local_device())
    dist.all_reduce(carrier, op=dist.ReduceOp.MAX)
    return bool(carrier.item())


def barrier() -> None:
    """Wait until every rank gets here (e.g. until rank 0 has written a file the others read next)."""
    if world_size() > 1:
        dist.barrier()


def sum_across_ranks(tensors: list[Tensor]) -> list[Tensor]:
    """Element-wise sums over all ranks (copies; the inputs are unchanged). Every rank must call it."""
    if world_size() == 1 or not tensors:
        return tensors
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])
    carrier = flat.cpu() if dist.get_backend() == "gloo" else flat
    dist.all_reduce(carrier, op=dist.ReduceOp.SUM)
    summed, start = [], 0
    for t in tensors:
        summed.append(carrier[start:start + t.numel()].reshape(t.shape).to(device=t.device, dtype=t.dtype))
        start += t.numel()
    return summed


def gather_rows(tensors: list[Tensor | None]) -> list[Tensor | None]:
    """Each tensor's rows from all ranks, concatenated in rank order (the same result on every rank).

    All tensors of one rank have the same number of rows; ranks may differ by a few. Every rank must call it.
    """
    if world_size() == 1:
        return tensors
    present = [t for t in tensors if t is not None]
    if not present:
        return tensors
    gloo = dist.get_backend() == "gloo"
    device = torch.device("cpu") if gloo else present[0].device
    count = torch.tensor([present[0].shape[0]], device=device)
    counts = [torch.zeros_like(count) for _ in range(world_size())]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    longest = max(sizes)
    gathered: list[Tensor | None] = []
    for t in tensors:
        if t is None:
            gathered.append(None)
            continue
        local = t.detach().to(device)
        padded = torch.zeros((longest, *local.shape[1:]), dtype=local.dtype, device=device)
        padded[:local.shape[0]] = local
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        gathered.append(torch.cat([part[:n] for part, n in zip(parts, sizes)]).to(t.device))
    return gathered
