"""Vocabulary lookups: ``IntegerLookup`` (inside a model too) and ``StringLookup`` (in the data pipeline).

Both map tokens to indices laid out as in Keras: ``[mask] + [OOV] * num_oov_indices + vocabulary`` (the
mask index only in ``"int"`` mode), learn their vocabulary with ``adapt`` (by descending frequency, ties
by descending token, exactly as Keras orders them) and encode indices as one-hot, multi-hot, counts or
TF-IDF. The vocabulary (and IDF weights) are configuration: ``get_config()`` holds them, so a saved
model keeps them. Strings cannot be torch tensors, so ``StringLookup`` takes lists or NumPy arrays of
``str`` and returns torch tensors (its inverse returns a NumPy array of ``str``).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import config
from nnkit.errors import ConfigError, DataError, NotReadyError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.encoding import ENCODED_MODES, adapt_batches, check_choice, encode_categories, encoded_shape
from nnkit.layers.hashing import hash_bucket, to_array

LOOKUP_MODES = ("int", *ENCODED_MODES, "tf_idf")


class IndexLookup(Layer):
    """What ``IntegerLookup`` and ``StringLookup`` share (Keras's ``IndexLookup``); not used directly."""

    layout = "any"
    #: The kind of token: ``"int64"`` or ``"string"``.
    vocabulary_dtype: ClassVar[str] = "int64"

    def _setup(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any, oov_token: Any,
               vocabulary: Any, idf_weights: Any, invert: bool, output_mode: str, pad_to_max_tokens: bool,
               sparse: bool, salt: Any, oov_method: str) -> None:
        kind = type(self).__name__
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        check_choice(output_mode, LOOKUP_MODES, "output_mode", kind)
        check_choice(oov_method, ("floormod", "farmhash"), "oov_method", kind)
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer))
                                       or max_tokens <= 1):
            raise ConfigError(f"{kind} expects `max_tokens` to be None or an int greater than 1 (it counts the mask "
                              f"and OOV indices). Received: max_tokens={max_tokens!r}.")
        if pad_to_max_tokens and max_tokens is None:
            raise ConfigError(f"{kind}(pad_to_max_tokens=True) needs `max_tokens`, the size to pad to.")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) \
                or num_oov_indices < 0:
            raise ConfigError(f"{kind} expects `num_oov_indices` to be an int >= 0. Received: {num_oov_indices!r}.")
        if invert and output_mode != "int":
            raise ConfigError(f"{kind}(invert=True) maps indices back to tokens, so it needs output_mode='int'. "
                              f"Received: output_mode={output_mode!r}.")
        if sparse:
            raise ConfigError(f"{kind}(sparse=True) is not supported: torch outputs are dense. Drop `sparse`.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ConfigError(f"{kind} takes `idf_weights` only with output_mode='tf_idf'. "
                              f"Received: output_mode={output_mode!r}.")
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ConfigError(f"{kind}(output_mode='tf_idf', vocabulary=...) also needs `idf_weights`, one per token.")
        if salt is not None:
            if self.vocabulary_dtype == "int64" and oov_method != "farmhash":
                raise ConfigError(f"{kind} uses `salt` only with oov_method='farmhash'. "
                                  f"Received: oov_method={oov_method!r}.")
            if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
                salt = [int(salt), int(salt)]
            elif not (isinstance(salt, (list, tuple)) and len(salt) == 2):
                raise ConfigError(f"{kind} expects `salt` to be an int or two ints. Received: salt={salt!r}.")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token, self.invert = mask_token, oov_token, bool(invert)
        self.output_mode, self.pad_to_max_tokens, self.sparse = output_mode, bool(pad_to_max_tokens), False
        self.salt, self.oov_method = None if salt is None else [int(s) for s in salt], oov_method
        self._tokens: list[Any] | None = None
        self._idf: np.ndarray | None = None
        self._static = vocabulary is not None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- the index layout ----------------------------------------------------------------------------
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The size of the vocabulary, mask and OOV indices included."""
        return self._token_start() + len(self._tokens or [])

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[Any]:
        """The vocabulary: the token at each index (mask and OOV tokens first, unless excluded)."""
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        return ([*special] if include_special_tokens else []) + list(self._tokens or [])

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def _token(self, value: Any) -> Any:
        """A token as the vocabulary holds it (a Python int or str)."""
        return int(value) if self.vocabulary_dtype == "int64" else value

    # -- setting the vocabulary ---------------------------------------------------------------------
    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the vocabulary (and, for ``"tf_idf"``, the IDF weights) instead of adapting.

        Args:
            vocabulary: A list, array or tensor of unique tokens, or the path of a text file with one token
                per line. It may start with the special tokens exactly as :meth:`get_vocabulary` lists them.
            idf_weights: One inverse document frequency per entry of ``vocabulary`` (``"tf_idf"`` only);
                the OOV weight defaults to their mean.

        Raises:
            ConfigError: repeated tokens, a misplaced mask/OOV token, too many tokens or bad IDF weights.
        """
        kind = type(self).__name__
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ConfigError(f"{kind}.set_vocabulary needs `idf_weights` with output_mode='tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ConfigError(f"{kind}.set_vocabulary takes `idf_weights` only with output_mode='tf_idf'.")
        if isinstance(vocabulary, (str, os.PathLike)):
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = f.read().splitlines()
            while vocabulary and vocabulary[-1] == "":
                vocabulary.pop()
        if isinstance(vocabulary, Tensor):
            vocabulary = vocabulary.tolist()
        values = [self._token(v) for v in np.asarray(vocabulary, dtype=object).reshape(-1).tolist()]
        if not values:
            raise ConfigError(f"{kind} cannot use an empty vocabulary.")
        start = self._token_start()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        found_special = len(values) >= start and values[:start] == special
        tokens = values[start:] if found_special else values
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ConfigError(f"{kind} got a vocabulary with repeated tokens: {repeated[:10]}. Make them unique.")
        for name, token in (("mask", self.mask_token), ("OOV", self.oov_token if self.invert else None)):
            if token is not None and token in tokens:
                raise ConfigError(
                    f"{kind} found the {name} token {token!r} inside the vocabulary. Leave the mask and OOV tokens "
                    f"out, or put them only at the start, in this order: {special!r}."
                )
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ConfigError(f"{kind} got a vocabulary of size {start + len(tokens)} (special tokens included), "
                              f"more than max_tokens={self.max_tokens}.")
        idf = None
        if idf_weights is not None:
            idf = np.asarray(idf_weights.tolist() if isinstance(idf_weights, Tensor) else idf_weights,
                             dtype=np.float32)
            if idf.ndim != 1 or len(idf) != len(values):
                raise ConfigError(f"{kind} needs one idf weight per vocabulary entry: {len(values)} entries but "
                                  f"idf_weights of shape {idf.shape}.")
            if not found_special:
                idf = np.concatenate([np.full(start, np.mean(idf), dtype=np.float32), idf])
        self._replace(tokens, idf)
        self._static = True

    def _replace(self, tokens: list[Any], idf: np.ndarray | None) -> None:
        """Install a new vocabulary (the built module too); an encoded output keeps its size once built."""
        if self.module is not None and self.output_mode != "int" and not self.pad_to_max_tokens:
            old, new = self.vocabulary_size(), self._token_start() + len(tokens)
            if self._tokens is not None and new != old:
                raise ConfigError(
                    f"{type(self).__name__} layer '{self.name}' (output_mode={self.output_mode!r}) already outputs "
                    f"{old} values; its new vocabulary would make {new}. Set max_tokens with "
                    "pad_to_max_tokens=True for a fixed size, or create a new layer."
                )
        self._tokens, self._idf = tokens, idf
        if self.module is not None:
            self.module.load(self)

    # -- adapt --------------------------------------------------------------------------------------
    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn the vocabulary (and IDF weights) from ``data``: the most frequent tokens first.

        Args:
            data: Tokens as a list, NumPy array or tensor (each row one document for ``"tf_idf"``), or an
                iterable of batches such as a ``DataLoader`` (``x`` of ``(x, y)`` batches).
            steps: How many batches of an iterable to read (all by default).

        Raises:
            ConfigError: the layer was given a vocabulary.
        """
        single = not _is_batches(data)
        documents = (row for i, batch in enumerate(adapt_batches(data)) if steps is None or i < steps
                     for row in self._documents(batch, single))
        self.learn(documents)

    def _documents(self, batch: Any, single: bool) -> list[list[Any]]:
        """The rows of a batch as lists of tokens (Keras: one array holds one token per document when 1-D, a
        1-D batch of an iterable is one document)."""
        array = self._adapt_array(batch)
        if array.ndim <= 1:
            array = array.reshape(-1, 1) if single else array.reshape(1, -1)
        return array.reshape(len(array), -1).tolist()

    def learn(self, documents: Iterable[list[Any]]) -> None:
        """Set the vocabulary from documents (lists of tokens), as :meth:`adapt` does after reading its data.

        Tokens are ordered by descending count, ties by descending token (Keras's order); ``max_tokens``
        keeps the most frequent; for ``"tf_idf"`` the IDF weight of a token is
        ``log(1 + documents / (1 + documents containing it))``, the OOV weight their mean.
        """
        if self._static:
            raise ConfigError(f"{type(self).__name__} layer '{self.name}' was given a vocabulary (vocabulary= or "
                              "set_vocabulary()); adapt() is for layers created without one.")
        counts: collections.Counter = collections.Counter()
        containing: collections.Counter = collections.Counter()
        num_documents = 0
        for row in documents:
            row = [self._token(v) for v in row]
            counts.update(row)
            if self.output_mode == "tf_idf":
                containing.update(set(row))
                num_documents += 1
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - self._token_start()]
        if not tokens:
            return
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.log(1 + num_documents / (1 + np.array([containing[t] for t in tokens], dtype=np.float64)))
            idf = idf.astype(np.float32)
            idf = np.concatenate([np.full(self._token_start(), idf.mean(), dtype=np.float32), idf])
        self._replace(tokens, idf)

    def _adapt_array(self, batch: Any) -> np.ndarray:
        if isinstance(batch, Tensor):
            return batch.detach().cpu().numpy()
        return to_array(batch) if self.vocabulary_dtype == "string" else np.asarray(batch)

    # -- encoding -----------------------------------------------------------------------------------
    def _idf_tensor(self) -> Tensor | None:
        if self.output_mode != "tf_idf" or self._idf is None:
            return None
        idf = np.zeros(self._depth(), dtype=np.float32)
        idf[:min(len(self._idf), len(idf))] = self._idf[:len(idf)]
        return torch.as_tensor(idf, dtype=config.float_dtype())

    def _check_ready(self) -> None:
        if self._tokens is None and (self.output_mode != "int" and not self.pad_to_max_tokens):
            raise NotReadyError(f"{type(self).__name__} layer '{self.name}' (output_mode={self.output_mode!r}) has "
                                "no vocabulary yet: pass vocabulary=[...] or call adapt(data) first.")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments with the current vocabulary (special tokens first) and IDF weights."""
        config = super().get_config()
        if self._tokens is not None:
            config["vocabulary"] = self.get_vocabulary()
            config["idf_weights"] = None if self._idf is None else self._idf.tolist()
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> IndexLookup:
        """Rebuild from :meth:`get_config` (Keras's ``vocabulary_size`` and ``vocabulary_dtype`` are ignored)."""
        config = {k: v for k, v in config.items() if k not in ("vocabulary_size", "has_input_vocabulary")}
        return cls(**config)


def _is_batches(data: Any) -> bool:
    """Whether ``adapt`` data is an iterable of batches rather than one array of tokens."""
    if isinstance(data, (np.ndarray, Tensor, str, bytes)) or hasattr(data, "to_numpy"):
        return False
    if isinstance(data, (list, tuple)):
        return bool(data) and isinstance(data[0], (np.ndarray, Tensor))
    return hasattr(data, "__iter__")


class IntegerTable(nn.Module):
    """Integer tokens -> indices (``searchsorted`` on the sorted vocabulary), or back with ``invert``."""

    def __init__(self, layer: IntegerLookup) -> None:
        super().__init__()
        self.layer_name = layer.name
        self.load(layer)

    def load(self, layer: IntegerLookup) -> None:
        """Take the layer's current vocabulary and settings (configuration, so non-persistent buffers)."""
        tokens = torch.tensor(layer._tokens or [], dtype=torch.int64)
        keys, order = torch.sort(tokens)
        self.register_buffer("keys", keys, persistent=False)
        self.register_buffer("indices", order + layer._token_start(), persistent=False)
        self.register_buffer("inverse", torch.tensor(layer.get_vocabulary(), dtype=torch.int64), persistent=False)
        self.register_buffer("idf", layer._idf_tensor(), persistent=False)
        self.mask_token, self.oov_token = layer.mask_token, layer.oov_token
        self.oov_start, self.num_oov, self.invert = layer._oov_start(), layer.num_oov_indices, layer.invert
        self.oov_method, self.salt = layer.oov_method, None if layer.salt is None else tuple(layer.salt)
        self.output_mode, self.depth, self.ready = layer.output_mode, layer._depth(), layer._tokens is not None

    def forward(self, x: Tensor) -> Tensor:
        if not self.ready and (self.output_mode != "int" or self.invert):
            raise NotReadyError(f"IntegerLookup layer '{self.layer_name}' has no vocabulary yet: pass "
                                "vocabulary=[...] or call adapt(data) first.")
        x = x.long()
        if self.invert:
            size = len(self.inverse)
            inside = (x >= 0) & (x < size)
            return torch.where(inside, self.inverse[x.clamp(0, size - 1)], torch.tensor(self.oov_token))
        index = torch.full_like(x, -1)
        if len(self.keys):
            at = torch.searchsorted(self.keys, x).clamp(max=len(self.keys) - 1)
            index = torch.where(self.keys[at] == x, self.indices[at], index)
        oov = index < 0
        if self.mask_token is not None:
            masked = x == self.mask_token
            index = torch.where(masked, 0 if self.output_mode == "int" else -1, index)
            oov &= ~masked
        if self.num_oov == 0:
            if bool(oov.any()):
                raise DataError(f"IntegerLookup layer '{self.layer_name}' has num_oov_indices=0, so every input "
                                f"must be in its vocabulary, but it received {x[oov][:5].tolist()}. Set "
                                "num_oov_indices=1 to map unknown values to an OOV index.")
        elif self.num_oov == 1:
            index = torch.where(oov, self.oov_start, index)
        elif self.oov_method == "floormod":
            index = torch.where(oov, torch.remainder(x, self.num_oov) + self.oov_start, index)
        elif bool(oov.any()):
            buckets = {v: hash_bucket(v, self.num_oov, self.salt) for v in x[oov].unique().tolist()}
            hashed = torch.tensor([buckets[v] for v in x[oov].tolist()], dtype=torch.int64, device=x.device)
            index = index.masked_scatter(oov, hashed + self.oov_start)
        return encode_lookups(index, self.output_mode, self.depth, self.idf)

    def extra_repr(self) -> str:
        return f"vocabulary={len(self.keys)}, output_mode={self.output_mode!r}, invert={self.invert}"


def encode_lookups(index: Tensor, output_mode: str, depth: int, idf: Tensor | None) -> Tensor:
    """Indices as the lookup layers output them: as they are, encoded, or counts times IDF weights."""
    if output_mode != "tf_idf":
        return encode_categories(index, output_mode, depth)
    return encode_categories(index, "count", depth) * idf.to(index.device)


@LAYERS.register("integer_lookup")
class IntegerLookup(IndexLookup):
    """Maps integer tokens (e.g. user ids) to contiguous indices from a vocabulary, or back with ``invert``.

    Works inside a model (and ``fit``) on integer inputs, and standalone on lists and arrays.

    Args:
        max_tokens: Largest vocabulary size, mask and OOV indices included (``None``: no limit).
        num_oov_indices: Indices for out-of-vocabulary values (0: unknown values raise a ``DataError``).
        mask_token: A value mapped to index 0 in ``"int"`` mode (dropped in the encoded modes).
        oov_token: What ``invert`` returns for OOV indices (default ``-1``).
        vocabulary: Tokens (list, array or file with one per line); otherwise call :meth:`adapt`.
        vocabulary_dtype: Only ``"int64"``.
        idf_weights: IDF weights for ``"tf_idf"`` with a given vocabulary.
        invert: Map indices back to tokens.
        output_mode: ``"int"`` (indices, int64), ``"one_hot"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``
            (float32, as Keras's output spec says; its TensorFlow lookups return int64 counts).
        sparse: Only ``False``.
        pad_to_max_tokens: Encode into ``max_tokens`` values even when the vocabulary is smaller.
        oov_method: ``"floormod"`` (``value % num_oov_indices``) or ``"farmhash"`` (FarmHash64 of the
            decimal string, as Keras) to spread OOV values over several OOV indices.
        salt: With ``"farmhash"``: hash with SipHash keyed by it instead.

    Example:
        >>> IntegerLookup(vocabulary=[12, 36, 1138, 42])([[12, 1138, 42], [42, 1000, 36]])
        tensor([[1, 3, 4],
                [4, 0, 2]])
    """

    input_dtype = torch.int64

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: int | None = None,
                 oov_token: int = -1, vocabulary: Any = None, vocabulary_dtype: str = "int64", idf_weights: Any = None,
                 invert: bool = False, output_mode: str = "int", sparse: bool = False, pad_to_max_tokens: bool = False,
                 oov_method: str = "floormod", salt: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if vocabulary_dtype != "int64":
            raise ConfigError(f"IntegerLookup supports only vocabulary_dtype='int64'. Received: {vocabulary_dtype!r}.")
        self.vocabulary_dtype = "int64"
        self._setup(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                    output_mode, pad_to_max_tokens, sparse, salt, oov_method)

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        self._check_ready()
        return IntegerTable(self), encoded_shape(input_shape, self.output_mode, self._depth())

    @property
    def weights(self) -> list[Tensor]:
        """None: the vocabulary and IDF weights are configuration."""
        return []


@LAYERS.register("string_lookup")
class StringLookup(IndexLookup):
    """Maps strings to indices from a vocabulary, or indices back to strings with ``invert``.

    Use it in the data pipeline (a ``DataLoader`` collate, or mapped over the data before ``fit``), as
    Keras recommends for backends other than TensorFlow: it takes a string, (nested) lists or NumPy arrays
    of ``str``/``bytes`` and returns a torch tensor (int64 indices, float32 encodings); with ``invert`` it
    takes indices and returns a NumPy array of ``str``. Arguments as in :class:`IntegerLookup`, except:

    Args:
        oov_token: The OOV token (default ``"[UNK]"``).
        encoding: How ``bytes`` inputs are decoded (default ``"utf-8"``).
        salt: Hash OOV strings into several OOV indices with SipHash keyed by it instead of FarmHash64.

    Example:
        >>> StringLookup(vocabulary=["a", "b", "c", "d"])([["a", "c", "d"], ["d", "z", "b"]])
        tensor([[1, 3, 4],
                [4, 0, 2]])
    """

    vocabulary_dtype = "string"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: str | None = None,
                 oov_token: str = "[UNK]", vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False, sparse: bool = False,
                 encoding: str = "utf-8", salt: Any = None, **kwargs: Any) -> None:
        super().__init__(**{k: v for k, v in kwargs.items() if k not in ("vocabulary_dtype", "oov_method")})
        self.encoding = encoding
        self._setup(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                    output_mode, pad_to_max_tokens, sparse, salt, "farmhash")

    def _token(self, value: Any) -> Any:
        return value.decode(self.encoding) if isinstance(value, bytes) else str(value)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Look ``inputs`` up (strings in, a tensor out; with ``invert``, indices in, strings out)."""
        if hasattr(inputs, "sample_shape"):
            raise ConfigError(
                f"StringLookup layer '{self.name}' works on strings in the data pipeline, not on a model's symbolic "
                "Input (torch tensors cannot hold strings). Map your data with it before fit, or in a DataLoader's "
                "collate_fn, and give the model the integer ids."
            )
        self._check_ready()
        if self.invert:
            return self._inverse(inputs)
        values = to_array(inputs)
        indices = self.indices([self._token(v) for v in values.reshape(-1).tolist()])
        return encode_lookups(torch.as_tensor(indices.reshape(values.shape)), self.output_mode, self._depth(),
                              self._idf_tensor())

    def indices(self, tokens: list[str]) -> np.ndarray:
        """The index of each token (mask, vocabulary or OOV), as int64; -1 for a mask in the encoded modes."""
        table = {token: i for i, token in enumerate(self.get_vocabulary()) if i >= self._token_start()}
        salt = None if self.salt is None else tuple(self.salt)
        out = np.empty(len(tokens), dtype=np.int64)
        for i, token in enumerate(tokens):
            index = table.get(token)
            if index is None:
                if self.mask_token is not None and token == self.mask_token:
                    index = 0 if self.output_mode == "int" else -1
                elif self.num_oov_indices == 0:
                    raise DataError(f"StringLookup layer '{self.name}' has num_oov_indices=0, so every input must "
                                    f"be in its vocabulary, but it received {token!r}. Set num_oov_indices=1.")
                else:
                    bucket = 0 if self.num_oov_indices == 1 else hash_bucket(token, self.num_oov_indices, salt)
                    index = self._oov_start() + bucket
                table[token] = index
            out[i] = index
        return out

    def _inverse(self, inputs: Any) -> np.ndarray:
        indices = inputs.detach().cpu().numpy() if isinstance(inputs, Tensor) else np.asarray(inputs)
        vocabulary = np.asarray(self.get_vocabulary(), dtype=object)
        inside = (indices >= 0) & (indices < len(vocabulary))
        out = np.where(inside, vocabulary[np.clip(indices, 0, len(vocabulary) - 1)], self.oov_token)
        return out.astype(str)
