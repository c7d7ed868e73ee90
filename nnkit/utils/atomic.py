"""Crash-safe file writes: a reader sees the old file or the new one, never a torn mix.

The bytes go to a temporary file in the destination's folder, which is flushed and fsynced, then renamed
over the destination (``os.replace`` is atomic within one file system), and the folder is fsynced so the
rename itself survives a power cut. A process killed at any point leaves the previous file intact; at worst
a hidden ``.<name>.*.tmp`` file stays behind in the folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

from nnkit.errors import ConfigError


def ensure_folder(path: str | os.PathLike[str], what: str = "filepath", is_folder: bool = False) -> str:
    """Create the folder that will hold ``path`` (or ``path`` itself, if ``is_folder``) and check that it
    is writable.

    Args:
        path: A file path, or a folder path with ``is_folder=True``.
        what: The argument name to show in errors.
        is_folder: ``path`` names the folder itself.

    Returns:
        The folder's path.

    Raises:
        ConfigError: the folder cannot be created or written to (the message names it and says why).
    """
    absolute = os.path.abspath(os.fspath(path))
    folder = absolute if is_folder else os.path.dirname(absolute)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the folder {folder!r} for {what}={os.fspath(path)!r}: {exc.strerror or exc}. "
            "Choose a path in a folder you can write to."
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"The folder {folder!r} for {what}={os.fspath(path)!r} is not writable. "
            "Choose a path in a folder you can write to."
        )
    return folder


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without error.

    Example:
        >>> with atomic_open("weights.bin") as f:  # doctest: +SKIP
        ...     f.write(data)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files; mode must be 'w' or 'wb'. Received: {mode!r}.")
    path = os.fspath(path)
    folder = ensure_folder(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp's 0600 would make every checkpoint private
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def _file_mode(path: str) -> int:
    """The existing file's permissions, else what ``open()`` would give a new file (0666 minus the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    """Persist the rename (POSIX); folders cannot be opened for syncing on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
