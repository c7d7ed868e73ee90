"""``Hashing``: values to bins by a stable hash, the same hashes TensorFlow (and so Keras) computes.

Without a salt the hash is FarmHash's ``Fingerprint64`` (TensorFlow's ``to_hash_bucket_fast``); with one
it is SipHash-2-4 keyed by the two salt words (``to_hash_bucket_strong``). Both are written here in pure
Python, so bins equal Keras's without TensorFlow. Integers hash as their decimal strings, as in Keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.encoding import ENCODED_MODES, check_choice, encode_categories, encoded_shape

_MASK = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _rotate(value: int, shift: int) -> int:
    return ((value >> shift) | (value << (64 - shift))) & _MASK if shift else value


def _fetch64(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 8], "little")


def _fetch32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "little")


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def _hash_len16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & _MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK
    b ^= b >> 47
    return (b * mul) & _MASK


def _hash_len0to16(s: bytes) -> int:
    n = len(s)
    if n >= 8:
        mul = _K2 + n * 2
        a = (_fetch64(s, 0) + _K2) & _MASK
        b = _fetch64(s, n - 8)
        c = (_rotate(b, 37) * mul + a) & _MASK
        d = ((_rotate(a, 25) + b) * mul) & _MASK
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = _K2 + n * 2
        return _hash_len16((n + (_fetch32(s, 0) << 3)) & _MASK, _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK) * _K2) & _MASK
    return _K2


def _hash_len17to32(s: bytes) -> int:
    n = len(s)
    mul = _K2 + n * 2
    a = (_fetch64(s, 0) * _K1) & _MASK
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK
    d = (_fetch64(s, n - 16) * _K2) & _MASK
    return _hash_len16((_rotate((a + b) & _MASK, 43) + _rotate(c, 30) + d) & _MASK,
                       (a + _rotate((b + _K2) & _MASK, 18) + c) & _MASK, mul)


def _hash_len33to64(s: bytes) -> int:
    n = len(s)
    mul = _K2 + n * 2
    a = (_fetch64(s, 0) * _K2) & _MASK
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _MASK
    d = (_fetch64(s, n - 16) * _K2) & _MASK
    y = (_rotate((a + b) & _MASK, 43) + _rotate(c, 30) + d) & _MASK
    z = _hash_len16(y, (a + _rotate((b + _K2) & _MASK, 18) + c) & _MASK, mul)
    e = (_fetch64(s, 16) * mul) & _MASK
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & _MASK
    h = ((z + _fetch64(s, n - 24)) * mul) & _MASK
    return _hash_len16((_rotate((e + f) & _MASK, 43) + _rotate(g, 30) + h) & _MASK,
                       (e + _rotate((f + a) & _MASK, 18) + g) & _MASK, mul)


def _weak_hash32(s: bytes, at: int, a: int, b: int) -> tuple[int, int]:
    w, x, y, z = (_fetch64(s, at + i) for i in (0, 8, 16, 24))
    a = (a + w) & _MASK
    b = _rotate((b + a + z) & _MASK, 21)
    c = a
    a = (a + x + y) & _MASK
    b = (b + _rotate(a, 44)) & _MASK
    return (a + z) & _MASK, (b + c) & _MASK


def fingerprint64(data: bytes) -> int:
    """FarmHash ``Fingerprint64`` (``farmhashna::Hash64``) of ``data``, an unsigned 64-bit int."""
    n = len(data)
    if n <= 16:
        return _hash_len0to16(data)
    if n <= 32:
        return _hash_len17to32(data)
    if n <= 64:
        return _hash_len33to64(data)
    seed = 81
    x, y = seed, (seed * _K1 + 113) & _MASK
    z = (_shift_mix((y * _K2 + 113) & _MASK) * _K2) & _MASK
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _fetch64(data, 0)) & _MASK
    end, last64 = ((n - 1) // 64) * 64, n - 64
    s = 0
    while True:
        x = (_rotate((x + y + v[0] + _fetch64(data, s + 8)) & _MASK, 37) * _K1) & _MASK
        y = (_rotate((y + v[1] + _fetch64(data, s + 48)) & _MASK, 42) * _K1) & _MASK
        x ^= w[1]
        y = (y + v[0] + _fetch64(data, s + 40)) & _MASK
        z = (_rotate((z + w[0]) & _MASK, 33) * _K1) & _MASK
        v = _weak_hash32(data, s, (v[1] * _K1) & _MASK, (x + w[0]) & _MASK)
        w = _weak_hash32(data, s + 32, (z + w[1]) & _MASK, (y + _fetch64(data, s + 16)) & _MASK)
        z, x = x, z
        s += 64
        if s == end:
            break
    mul = _K1 + ((z & 0xFF) << 1)
    s = last64
    w = ((w[0] + ((n - 1) & 63)) & _MASK, w[1])
    v = ((v[0] + w[0]) & _MASK, v[1])
    w = ((w[0] + v[0]) & _MASK, w[1])
    x = (_rotate((x + y + v[0] + _fetch64(data, s + 8)) & _MASK, 37) * mul) & _MASK
    y = (_rotate((y + v[1] + _fetch64(data, s + 48)) & _MASK, 42) * mul) & _MASK
    x ^= (w[1] * 9) & _MASK
    y = (y + v[0] * 9 + _fetch64(data, s + 40)) & _MASK
    z = (_rotate((z + w[0]) & _MASK, 33) * mul) & _MASK
    v = _weak_hash32(data, s, (v[1] * mul) & _MASK, (x + w[0]) & _MASK)
    w = _weak_hash32(data, s + 32, (z + w[1]) & _MASK, (y + _fetch64(data, s + 16)) & _MASK)
    z, x = x, z
    return _hash_len16((_hash_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _MASK,
                       (_hash_len16(v[1], w[1], mul) + x) & _MASK, mul)


def _sip_round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK
    v1 = _rotate(v1, 51) ^ v0  # rotate left 13
    v0 = _rotate(v0, 32)
    v2 = (v2 + v3) & _MASK
    v3 = _rotate(v3, 48) ^ v2  # left 16
    v0 = (v0 + v3) & _MASK
    v3 = _rotate(v3, 43) ^ v0  # left 21
    v2 = (v2 + v1) & _MASK
    v1 = _rotate(v1, 47) ^ v2  # left 17
    v2 = _rotate(v2, 32)
    return v0, v1, v2, v3


def siphash64(data: bytes, key: tuple[int, int]) -> int:
    """SipHash-2-4 of ``data`` under the 128-bit ``key`` given as two unsigned 64-bit words."""
    k0, k1 = key[0] & _MASK, key[1] & _MASK
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573
    n = len(data)
    tail = data[n - n % 8:] + bytes(7 - n % 8) + bytes([n & 0xFF])
    for at in range(0, n - n % 8 + 8, 8):
        m = _fetch64(data, at) if at < n - n % 8 else _fetch64(tail, 0)
        v3 ^= m
        for _ in range(2):
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def as_bytes(value: Any) -> bytes:
    """A value as TensorFlow hashes it: strings as UTF-8, integers (and floats, truncated) as decimals."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (float, np.floating)):
        value = int(value)
    return str(int(value)).encode("ascii")


def hash_bucket(value: Any, num_buckets: int, salt: tuple[int, int] | None = None) -> int:
    """``to_hash_bucket_fast`` (``salt=None``) or ``to_hash_bucket_strong`` of one value."""
    data = as_bytes(value)
    return (fingerprint64(data) if salt is None else siphash64(data, salt)) % num_buckets


class HashBins(nn.Module):
    """Hashes each value into ``[0, num_bins)`` (bin 0 kept for ``mask_value`` when given), then encodes."""

    def __init__(self, num_bins: int, mask_value: Any, salt: tuple[int, int] | None, output_mode: str) -> None:
        super().__init__()
        self.num_bins, self.mask_value, self.salt, self.output_mode = num_bins, mask_value, salt, output_mode

    def bins(self, values: np.ndarray) -> np.ndarray:
        """Bin ids of an array of strings or numbers (any shape), as int64."""
        masked = self.mask_value is not None and self.num_bins > 1
        buckets = self.num_bins - 1 if masked else self.num_bins
        flat = values.reshape(-1)
        cache: dict[Any, int] = {}
        out = np.empty(flat.shape, dtype=np.int64)
        for i, value in enumerate(flat.tolist()):
            found = cache.get(value)
            if found is None:
                found = cache[value] = (0 if masked and value == self.mask_value
                                        else hash_bucket(value, buckets, self.salt) + masked)
            out[i] = found
        return out.reshape(values.shape)

    def forward(self, x: Any) -> Tensor:
        device = x.device if isinstance(x, Tensor) else None
        values = x.detach().cpu().numpy() if isinstance(x, Tensor) else to_array(x)
        if self.output_mode == "one_hot" and values.ndim and values.shape[-1] == 1:
            values = values[..., 0]
        indices = torch.as_tensor(self.bins(values), device=device)
        return encode_categories(indices, self.output_mode, self.num_bins)

    def extra_repr(self) -> str:
        return f"num_bins={self.num_bins}, salted={self.salt is not None}, output_mode={self.output_mode!r}"


def to_array(values: Any) -> np.ndarray:
    """Strings or numbers (a value, nested lists or an array) as a NumPy array of ``str`` or numbers."""
    try:
        array = np.asarray(values, dtype=object if _has_text(values) else None)
        ragged = array.dtype == object and array.size and isinstance(array.flat[0], (list, tuple, np.ndarray))
    except ValueError:
        ragged = True
    if ragged:
        raise DataError("Expected rows of one length, but received nested lists of different lengths. Pad them "
                        "to one length first (TextVectorization takes a list of whole strings).")
    if array.dtype.kind == "S" or (array.dtype == object and array.size and isinstance(array.flat[0], bytes)):
        array = np.vectorize(lambda b: b.decode("utf-8") if isinstance(b, bytes) else b, otypes=[object])(array)
    if array.dtype.kind not in "biufUO":
        raise DataError(f"Expected strings or numbers; received an array of dtype {array.dtype}.")
    return array


def _has_text(values: Any) -> bool:
    while isinstance(values, (list, tuple)) and values:
        values = values[0]
    return isinstance(values, (str, bytes))


@LAYERS.register("hashing")
class Hashing(Layer):
    """Maps strings or integers to ``num_bins`` bins by a stable hash (Keras's exact bins, see the module).

    Hashing runs in Python on the CPU (a few microseconds per distinct value in a batch); as Keras
    recommends, use it in the data pipeline. It works inside a model on integer inputs too.

    Args:
        num_bins: Number of bins, including bin 0 for ``mask_value`` when that is set.
        mask_value: A value mapped to bin 0 (the others then go to ``1 .. num_bins - 1``).
        salt: An int or two ints: hash with SipHash-2-4 keyed by them instead of FarmHash64.
        output_mode: ``"int"`` (bin ids, int64), ``"one_hot"``, ``"multi_hot"`` or ``"count"`` (float32).
        sparse: Only ``False``.

    Example:
        >>> Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).tolist()
        [[1], [0], [1], [1], [2]]
    """

    layout = "any"
    input_dtype = torch.int64

    def __init__(self, num_bins: int, mask_value: Any = None, salt: int | list[int] | None = None,
                 output_mode: str = "int", sparse: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
            raise ConfigError(f"Hashing expects `num_bins` to be a positive int. Received: num_bins={num_bins!r}.")
        self.output_mode = check_choice(output_mode, ("int", *ENCODED_MODES), "output_mode", "Hashing")
        if sparse:
            raise ConfigError("Hashing(sparse=True) is not supported: torch outputs are dense. Drop `sparse`.")
        if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
            salt = [int(salt), int(salt)]
        elif salt is not None and not (isinstance(salt, (list, tuple)) and len(salt) == 2
                                       and all(isinstance(s, (int, np.integer)) for s in salt)):
            raise ConfigError(f"Hashing expects `salt` to be an int or a list of two ints. Received: salt={salt!r}.")
        self.num_bins, self.mask_value, self.sparse = int(num_bins), mask_value, False
        self.salt = None if salt is None else [int(s) for s in salt]

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        salt = None if self.salt is None else tuple(self.salt)
        return (HashBins(self.num_bins, self.mask_value, salt, self.output_mode),
                encoded_shape(input_shape, self.output_mode, self.num_bins))

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Strings (lists or arrays of ``str``) are hashed directly; numbers go through the layer call."""
        if _has_text(inputs) or (isinstance(inputs, np.ndarray) and inputs.dtype.kind in "USO"):
            if self.module is None:
                self.attach(to_array(inputs).shape[1:])
            return self.module(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, with ``salt`` as two ints (as in Keras)."""
        return {**super().get_config(), "salt": self.salt}
