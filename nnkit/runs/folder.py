"""Claiming a run folder: one run per folder, claimed atomically, and replaced as one unit on overwrite.

Two runs started in the same second, or given the same ``--output``, never share a folder: a timestamped
folder is created with an exclusive ``mkdir`` (a taken name gets the next ``-2``, ``-3`` suffix), and every
claimed folder holds a lock file (created exclusively) while its run is going. A second run aimed at a
folder whose run is still going gets a clear error; a lock left by a run that was killed is taken over.

With ``output.overwrite``, the new run writes into a hidden folder beside the old one and swaps it in
when it has finished, so the folder never mixes the files of two runs (an old ``classes.json`` beside a
regression, an old ``cv_results.csv`` beside a plain training run).

A run stopped with Ctrl-C after some epochs keeps its folder like a finished run
(:meth:`RunFolder.keep_interrupted`); ``nnkit train --resume`` claims it again and writes in place
(:func:`claim_existing`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import socket
import time
from typing import Any

from nnkit.errors import ConfigError

LOCK_FILE = ".nnkit-run.lock"


class RunFolder:
    """A claimed run folder.

    Attributes:
        path: The folder the run's files end up in.
        work: Where the run writes while it goes: ``path`` itself, or a hidden sibling when it replaces an
            earlier run's folder (``output.overwrite``).
    """

    def __init__(self, path: str, work: str, created: bool) -> None:
        self.path, self.work, self._created = path, work, created
        self._settled = False

    def __repr__(self) -> str:
        return f"RunFolder(path={self.path!r}, work={self.work!r})"

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        """Commit when the run finished, abandon when it raised (Ctrl-C included) unless it kept an interrupted
        run (:meth:`keep_interrupted`)."""
        if self._settled:
            return
        if kind is None:
            self.commit()
        else:
            self.abandon()

    def final(self, written: str) -> str:
        """Where a file written under :attr:`work` is once the run has finished."""
        return os.path.join(self.path, os.path.relpath(written, self.work))

    def commit(self) -> None:
        """The run finished: swap in the new folder (overwrite) and release the lock."""
        self._settled = True
        if self.work != self.path:
            retired = _sibling(self.path, "replaced")
            os.rename(self.path, retired)
            os.rename(self.work, self.path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            _remove(os.path.join(self.path, LOCK_FILE))

    def keep_interrupted(self) -> None:
        """The run was interrupted after finishing some epochs and wrote what it has: keep it as a run (it
        replaces an earlier run's folder, as a finished run would) and release the lock."""
        self.commit()

    def abandon(self) -> None:
        """The run failed: remove what the claim created, keep what the run wrote (e.g. checkpoints)."""
        self._settled = True
        if self.work != self.path:
            shutil.rmtree(self.work, ignore_errors=True)
        _remove(os.path.join(self.path, LOCK_FILE))
        if self._created:
            with contextlib.suppress(OSError):  # not empty: the run left checkpoints worth keeping
                os.rmdir(self.path)


def claim_run_folder(config: dict[str, Any], source: str | None, override: str | None = None) -> RunFolder:
    """Claim the run folder of ``config``: ``override``, else ``output.dir`` with ``{name}``, ``{stem}`` and
    ``{timestamp}`` filled in. Use it as a context manager around the run (commit on success, abandon on
    any exception).

    Raises:
        ConfigError: the folder holds files (without ``output.overwrite``), another run is writing to it,
            or it cannot be created.
    """
    stem = config_stem(config, source)
    timestamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    template = override if override is not None else config["output"]["dir"]
    try:
        path = template.format(name=config["model"]["name"], stem=stem, timestamp=timestamp)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"output.dir: cannot fill in {template!r}: {exc}.") from None
    where = "--output" if override is not None else "output.dir"
    if not path:
        raise ConfigError(f"{where}: the run folder is empty. Name a folder, e.g. {where} runs/experiment-1.")
    return claim(path, where, numbered="{timestamp}" in template, overwrite=bool(config["output"]["overwrite"]))


def config_stem(config: dict[str, Any], source: str | None) -> str:
    """What ``{stem}`` in ``output.dir`` stands for: the config file's name without its suffix (the model's
    name without a file)."""
    return os.path.splitext(os.path.basename(source))[0] if source else config["model"]["name"]


def recorded_config(config: dict[str, Any], source: str | None) -> dict[str, Any]:
    """``config`` as the run folder's ``config.yaml`` records it: ``{stem}`` in ``output.dir`` filled in, so a
    rerun of that file (named ``config.yaml``) is named after the original config file, not after ``config``."""
    template = config["output"]["dir"]
    if "{stem}" not in template:
        return config
    stem = config_stem(config, source).replace("{", "{{").replace("}", "}}")
    return {**config, "output": {**config["output"], "dir": template.replace("{stem}", stem)}}


def claim_existing(path: str, where: str) -> RunFolder:
    """Claim an existing run folder to write into in place (resuming an interrupted run).

    Raises:
        ConfigError: ``path`` is not a folder, or another run is writing to it.
    """
    if not os.path.isdir(path):
        raise ConfigError(f"{where}: {path!r} is not a folder. Name the run folder of an interrupted run.")
    _lock(path, where, created=False)
    return RunFolder(path, path, created=False)


def claim(path: str, where: str, *, numbered: bool, overwrite: bool) -> RunFolder:
    """Claim ``path`` for one run.

    Args:
        path: The run folder.
        where: The setting that named it (``'output.dir'`` or ``'--output'``), for messages.
        numbered: A timestamped default: a taken name moves on to ``path-2``, ``path-3``, ... instead of failing.
        overwrite: Replace a folder that holds an earlier run's files.
    """
    candidate, count = path, 1
    while True:
        created = _make(candidate, where, exclusive=numbered)
        if created or not numbered:
            break
        count += 1
        candidate = f"{path}-{count}"
    _lock(candidate, where, created)
    if created or not _holds_files(candidate):
        return RunFolder(candidate, candidate, created)
    if not overwrite:
        _remove(os.path.join(candidate, LOCK_FILE))
        raise ConfigError(f"{where}: the run folder {candidate!r} already holds files. Choose another folder, delete "
                          "it, or set output.overwrite=true (--set output.overwrite=true).")
    work = _sibling(candidate, "partial")
    try:
        os.mkdir(work)
    except OSError as exc:
        _remove(os.path.join(candidate, LOCK_FILE))
        raise _cannot_create(where, work, exc) from None
    return RunFolder(candidate, work, created=False)


def _make(path: str, where: str, exclusive: bool) -> bool:
    """Create ``path`` (and its parents); whether this call created it. ``exclusive``: an existing folder
    counts as taken (returns False)."""
    if os.path.exists(path) and not os.path.isdir(path):
        if exclusive:
            return False
        raise ConfigError(f"{where}: {path!r} is a file, not a folder.")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        os.mkdir(path)
    except FileExistsError:
        if os.path.isdir(path):
            return False
        raise ConfigError(f"{where}: {path!r} is a file, not a folder.") from None
    except OSError as exc:
        raise _cannot_create(where, path, exc) from None
    return True


def _lock(path: str, where: str, created: bool) -> None:
    """Create the lock file exclusively; take over a lock whose run is gone."""
    lock = os.path.join(path, LOCK_FILE)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(lock)
            if holder is not None and _alive(holder):
                raise ConfigError(
                    f"{where}: another nnkit run (process {holder.get('pid')} on {holder.get('host')}, started "
                    f"{holder.get('started')}) is writing to the run folder {path!r}. Choose another folder, or "
                    "wait for that run to finish.") from None
            _remove(lock)  # left by a run that was killed
            continue
        except OSError as exc:
            if created:
                with contextlib.suppress(OSError):
                    os.rmdir(path)
            raise _cannot_create(where, path, exc) from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            json.dump(owner, f)
        return
    raise ConfigError(f"{where}: could not claim the run folder {path!r}: another run keeps claiming it.")


def _read(lock: str) -> dict | None:
    try:
        with open(lock, encoding="utf-8") as f:
            holder = json.load(f)
    except (OSError, ValueError):
        # Being written this instant by the run that just created it: that run is alive.
        return {"pid": "?", "host": socket.gethostname(), "started": "just now", "alive": True}
    return holder if isinstance(holder, dict) else None


def _alive(holder: dict) -> bool:
    """Whether the run holding a lock still runs (a lock from another machine is assumed held)."""
    if holder.get("alive") or holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, KeyError, ValueError, TypeError):
        return True
    return True


def _holds_files(path: str) -> bool:
    return any(name != LOCK_FILE for name in os.listdir(path))


def _sibling(path: str, kind: str) -> str:
    head, name = os.path.split(os.path.abspath(path))
    return os.path.join(head, f".{name}.{kind}-{os.getpid()}")


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _cannot_create(where: str, path: str, exc: OSError) -> ConfigError:
    return ConfigError(f"{where}: cannot create the run folder {path!r}: {exc.strerror or exc}"
                       + (f" ({exc.filename})" if exc.filename else "") + ".")
