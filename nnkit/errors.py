"""Exception types raised by nnkit.

Each one also derives from the built-in exception a caller would naturally catch, so
``except ValueError`` keeps working for bad configuration or data.
"""


class NnkitError(Exception):
    """Base class of every error nnkit raises on purpose."""


class ConfigError(NnkitError, ValueError):
    """An argument, name or configuration value is invalid."""


class DataError(NnkitError, ValueError):
    """Training or prediction data has the wrong shape, type, length or values."""


class NotReadyError(NnkitError, RuntimeError):
    """The model is used before a required step (build, compile, fit)."""


class WriteError(NnkitError, OSError):
    """A file could not be written (the disk is full, the folder is read-only, ...); names the file and why.

    ``errno``, ``strerror`` and ``filename`` are those of the operating system's error.
    """

    @classmethod
    def of(cls, path: str, exc: OSError) -> "WriteError":
        """The error for writing ``path``, from the ``OSError`` the write raised."""
        import errno

        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            fix = "The disk (or your quota) is full: free some space, or write to another disk, and try again."
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = "Make the folder writable, or write to another folder."
        else:
            fix = "Check the disk and the folder, and try again."
        error = cls(f"Cannot write {path!r}: {reason}. {fix}")
        error.errno, error.strerror, error.filename = exc.errno, exc.strerror, path
        return error

    def __str__(self) -> str:  # the message, not OSError's "[Errno 28] ...: 'file'"
        return str(self.args[0]) if self.args else super().__str__()
