"""Faster steps where the hardware allows: ``torch.compile`` (``jit_compile=True``) and mixed precision.

Both wrap the forward function the loop calls, once, when the loop is built; a model using neither runs
the plain function with no wrapper at all.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from nnkit.mixed_precision import Policy


def with_policy(forward: Callable[[Tensor], Tensor], policy: Policy, device: torch.device) -> Callable[[Tensor], Tensor]:
    """``forward`` under ``torch.autocast`` for a mixed policy, returning float32 (for losses and metrics)."""
    if not policy.is_mixed:
        return forward
    dtype = policy.torch_compute_dtype

    def mixed(x: Tensor) -> Tensor:
        with torch.autocast(device_type=device.type, dtype=dtype):
            output = forward(x)
        return tuple(part.float() for part in output) if isinstance(output, tuple) else output.float()

    return mixed


def grad_scaler(policy: Policy, device: torch.device, auto_scale_loss: bool = True) -> torch.amp.GradScaler | None:
    """A loss scaler for ``mixed_float16`` (float16 gradients underflow without it) unless ``auto_scale_loss``
    is off, else ``None``."""
    if policy.name != "mixed_float16" or not auto_scale_loss:
        return None
    return torch.amp.GradScaler(device.type)


#: Why torch.compile cannot work in this process (no C++ compiler, unsupported Python, ...), once known:
#: later models then run eagerly without trying (and failing, and warning) again.
_UNAVAILABLE: str | None = None


class Compiled:
    """``torch.compile(fn)`` that falls back to ``fn``, with one warning, where compiling is impossible
    (no C++ compiler for the CPU backend, a Python version torch.compile does not support yet, ...).
    Such a failure of the environment is remembered for the rest of the process.

    Errors of the model itself are not hidden: when the eager function fails too, its error is raised.
    """

    def __init__(self, fn: Callable[..., Any], what: str) -> None:
        self.eager, self.what = fn, what
        self.compiled: Callable[..., Any] | None = None
        if _UNAVAILABLE is not None:
            return
        try:
            self.compiled = torch.compile(fn)
        except Exception as exc:  # torch.compile itself refuses (e.g. unsupported Python version)
            self._give_up(exc, environment=True)

    def _give_up(self, exc: BaseException, environment: bool) -> None:
        global _UNAVAILABLE
        self.compiled = None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if environment:
            _UNAVAILABLE = reason
        later = " (and so will later models in this process)" if environment else ""
        warnings.warn(
            f"jit_compile=True: torch.compile is not available here ({type(exc).__name__}: {reason[:300]}), so "
            f"{self.what} runs uncompiled{later}. Results are the same, only slower; pass jit_compile=False to "
            "silence this.",
            RuntimeWarning, stacklevel=3,
        )

    def __call__(self, *args: Any) -> Any:
        if self.compiled is None:
            return self.eager(*args)
        try:
            return self.compiled(*args)
        except Exception as exc:
            if not _is_compiler_failure(exc):
                raise
            result = self.eager(*args)  # raises the model's own error if there is one
            self._give_up(exc, environment=_is_environment_failure(exc))
            return result


def _is_compiler_failure(exc: BaseException) -> bool:
    from torch._dynamo.exc import BackendCompilerFailed, TorchDynamoException

    if isinstance(exc, (BackendCompilerFailed, TorchDynamoException)):
        return True
    return type(exc).__module__.startswith(("torch._inductor", "torch._dynamo"))


def _is_environment_failure(exc: BaseException) -> bool:
    """Whether compiling failed for want of a working toolchain (true of every model in this process)."""
    from torch._dynamo.exc import BackendCompilerFailed

    return isinstance(exc, BackendCompilerFailed) or "InvalidCxxCompiler" in str(exc)
