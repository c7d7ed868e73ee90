"""Finding, downloading and safely reading the files of ``keras.datasets`` (``imdb.npz``, ...).

A file name is looked up in nnkit's data folder (``path=`` of the loaders, else ``$NNKIT_DATA``, else
``~/.nnkit/datasets``) and then in Keras's cache (``$KERAS_HOME/datasets``, else ``~/.keras/datasets``),
so files Keras has already downloaded are reused; a full path is read as it is. A missing file is
downloaded from Keras's address into nnkit's data folder, checked against Keras's SHA-256, and moved into
place only when complete. Without a network the error names the folders and the address to fetch by hand.

The IMDB and Reuters archives hold ragged sequences as pickled object arrays, and the CIFAR-100 batches
are pickled dicts: they are read with an unpickler that only rebuilds NumPy arrays (as Keras does), so a
tampered file cannot run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nnkit.datasets.images import data_folder
from nnkit.errors import ConfigError, DataError
from nnkit.utils.atomic import ensure_folder

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_ALLOWED_GLOBALS = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")})
_CHUNK = 1 << 20


def keras_cache() -> Path:
    """Keras's download folder: ``$KERAS_HOME/datasets``, else ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home).expanduser() / "datasets"


def candidates(name: str | os.PathLike[str], folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where a file ``name`` may be: itself if it is a path, else in nnkit's data folder, then Keras's cache."""
    path = Path(name).expanduser()
    if path.is_absolute() or len(path.parts) > 1:
        return [path]
    return [data_folder(folder) / path, keras_cache() / path]


def fetch(name: str | os.PathLike[str], origin: str, sha256: str | None, title: str,
          folder: str | os.PathLike[str] | None = None) -> Path:
    """The local file ``name`` (see :func:`candidates`), downloaded from ``origin`` when it is nowhere.

    Raises:
        OSError: the file is missing and the download failed (nothing is left behind).
        DataError: the downloaded file is not the one Keras publishes (its SHA-256 differs).
    """
    places = candidates(name, folder)
    for place in places:
        if place.is_file():
            return place
    target = places[0]
    ensure_folder(target, what="path")
    try:
        with urllib.request.urlopen(origin, timeout=60) as response, tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False) as staging:
            digest = hashlib.sha256()
            while chunk := response.read(_CHUNK):
                staging.write(chunk)
                digest.update(chunk)
    except (OSError, urllib.error.URLError, ValueError) as err:
        with contextlib.suppress(NameError, OSError):
            os.unlink(staging.name)
        where = " or ".join(repr(str(p)) for p in places)
        raise OSError(
            f"{title}: {Path(name).name!r} is not in {where}, and downloading it from {origin} failed: "
            f"{type(err).__name__}: {str(err).rstrip('.')}. Check the network connection (and proxy settings), or download "
            f"that address by hand into {str(target.parent)!r} (or pass path= to the file)."
        ) from err
    if sha256 is not None and digest.hexdigest() != sha256:
        os.unlink(staging.name)
        raise DataError(f"{title}: the file downloaded from {origin} has SHA-256 {digest.hexdigest()}, not Keras's "
                        f"{sha256}; it was discarded. Try again later, or download it by hand.")
    os.replace(staging.name, target)  # complete files only: a rename within one folder is atomic
    return target


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds NumPy arrays (Keras's guard against tampered dataset files)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Refusing to load `{module}.{name}` from a dataset file: only NumPy arrays "
                                     "are allowed. The file may be corrupted or malicious.")


def _read_member(buffer: io.BytesIO) -> np.ndarray:
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array: skip the header, then unpickle arrays only
        buffer.seek(0)
        version = np.lib.format.read_magic(buffer)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(buffer)
        else:
            np.lib.format.read_array_header_2_0(buffer)
        return RestrictedUnpickler(buffer).load()


def load_npz(path: Path, title: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of a Keras ``.npz`` archive (object arrays unpickled safely).

    Raises:
        DataError: the file is not such an archive, lacks a key, or holds something other than arrays.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy") and member[:-4] in keys:
                    arrays[member[:-4]] = _read_member(io.BytesIO(archive.read(member)))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        raise DataError(f"Could not read {title} from {str(path)!r}: {type(err).__name__}: {str(err).rstrip('.')}. The file may be "
                        "truncated or corrupted: delete it and load again to download it.") from err
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DataError(f"{str(path)!r} is not Keras's {title} file: it has no array {', '.join(map(repr, missing))}. "
                        "Delete it and load again to download it.")
    return arrays


def load_pickle(path: Path, title: str) -> Any:
    """A pickled Python 2 dict of arrays (CIFAR's batches), keys decoded to ``str``.

    Raises:
        DataError: the file cannot be read or holds more than arrays, lists and numbers.
    """
    try:
        with open(path, "rb") as handle:
            loaded = RestrictedUnpickler(handle, encoding="bytes").load()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise DataError(f"Could not read {title} from {str(path)!r}: {type(err).__name__}: {str(err).rstrip('.')}. The file may be "
                        "truncated or corrupted: delete it and load again.") from err
    if not isinstance(loaded, dict):
        raise DataError(f"{str(path)!r} is not a {title} batch: it holds a {type(loaded).__name__}, not a dict.")
    return {key.decode("utf8") if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def split_shuffled(x: np.ndarray, y: np.ndarray, test_split: float, seed: int) -> tuple[tuple, tuple]:
    """Keras's housing split: shuffle with ``RandomState(seed)``, the first ``1 - test_split`` trains."""
    check_test_split(test_split)
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def check_test_split(test_split: float) -> None:
    """``test_split`` in [0, 1), as Keras requires.

    Raises:
        ConfigError: it is not.
    """
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not 0 <= test_split < 1:
        raise ConfigError(f"Invalid `test_split` argument: {test_split!r}. It must be between 0 and 1 (exclusive of "
                          "1), the fraction of samples kept for testing.")
