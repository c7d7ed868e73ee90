"""``TextVectorization``: strings -> token ids or bag-of-words vectors, for the data pipeline.

Text is standardized, split into tokens, optionally turned into n-grams, and looked up in a vocabulary
(a :class:`StringLookup` whose mask token ``""`` is index 0 and pads sequences). As Keras recommends for
backends other than TensorFlow, use it outside the model: on lists or NumPy arrays of ``str``, mapped over
the data before ``fit`` or in a ``DataLoader``'s ``collate_fn``; it returns torch tensors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Layer
from nnkit.layers.encoding import adapt_batches, check_choice
from nnkit.layers.hashing import to_array
from nnkit.layers.lookup import LOOKUP_MODES, StringLookup, encode_lookups

#: Keras's punctuation (``tf.strings.regex_replace`` pattern): ASCII punctuation only.
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_WHITESPACE = re.compile(r"[^ \t\n\r\f\v]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@LAYERS.register("text_vectorization")
class TextVectorization(Layer):
    """Turns strings into sequences of token ids or into multi-hot / count / TF-IDF vectors.

    Args:
        max_tokens: Largest vocabulary, the padding ``""`` and OOV ``"[UNK]"`` tokens included.
        standardize: ``"lower_and_strip_punctuation"`` (default), ``"lower"``, ``"strip_punctuation"``,
            ``None`` or a callable taking a NumPy array of ``str`` and returning one (as on Keras's
            non-TensorFlow backends). Lowercasing and punctuation cover ASCII only, exactly as Keras's.
        split: ``"whitespace"`` (default), ``"character"``, ``None`` (each string is one token) or a
            callable taking one standardized ``str`` and returning its tokens (Keras hands a callable a
            TensorFlow tensor instead).
        ngrams: ``None``, an int ``n`` (all 1..n-grams) or a tuple of sizes; n-grams join tokens by spaces.
        output_mode: ``"int"`` (token ids, int64, padded with 0), ``"multi_hot"``, ``"count"`` or
            ``"tf_idf"`` (float32 of ``vocabulary_size()`` values, or ``max_tokens`` with
            ``pad_to_max_tokens``).
        output_sequence_length: With ``"int"``: pad or cut every sequence to this length (else to the
            longest in the batch).
        pad_to_max_tokens: Encode into ``max_tokens`` values even when the vocabulary is smaller.
        vocabulary: Tokens (list, array or a text file with one per line); otherwise call :meth:`adapt`.
        idf_weights: IDF weights for ``"tf_idf"`` with a given vocabulary.
        sparse: Only ``False``.
        ragged: Only ``False`` (torch has no ragged tensors: int sequences are padded).
        encoding: How ``bytes`` inputs are decoded.

    Example:
        >>> layer = TextVectorization(output_mode="int", output_sequence_length=4)
        >>> layer.adapt(["foo bar", "bar baz", "baz bada boom"])
        >>> layer([["foo qux bar"], ["qux baz"]])
        tensor([[4, 1, 3, 0],
                [1, 2, 0, 0]])
    """

    def __init__(self, max_tokens: int | None = None, standardize: str | Callable | None = "lower_and_strip_punctuation",
                 split: str | Callable | None = "whitespace", ngrams: int | tuple[int, ...] | None = None,
                 output_mode: str = "int", output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Any = None, idf_weights: Any = None, sparse: bool = False, ragged: bool = False,
                 encoding: str = "utf-8", **kwargs: Any) -> None:
        kwargs.pop("vocabulary_size", None)  # in Keras's configs
        super().__init__(**kwargs)
        if not callable(standardize):
            check_choice(standardize, ("lower_and_strip_punctuation", "lower", "strip_punctuation", None),
                         "standardize", "TextVectorization")
        if not callable(split):
            check_choice(split, ("whitespace", "character", None), "split", "TextVectorization")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        check_choice(output_mode, LOOKUP_MODES, "output_mode", "TextVectorization")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams > 0)
                or (isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and n > 0 for n in ngrams))):
            raise ConfigError(f"TextVectorization expects `ngrams` to be None, a positive int or a tuple of them. "
                              f"Received: ngrams={ngrams!r}.")
        if ngrams is not None and split is None:
            raise ConfigError("TextVectorization makes n-grams of the tokens of a split; with split=None each "
                              "string is one token. Set split, or drop ngrams.")
        if output_sequence_length is not None and (output_mode != "int" or not isinstance(output_sequence_length, int)
                                                   or output_sequence_length < 1):
            raise ConfigError(f"TextVectorization takes `output_sequence_length` (a positive int) only with "
                              f"output_mode='int'. Received: output_sequence_length={output_sequence_length!r}, "
                              f"output_mode={output_mode!r}.")
        if ragged:
            raise ConfigError("TextVectorization(ragged=True) is not supported: torch has no ragged tensors, so "
                              "int sequences are padded with 0. Drop `ragged`.")
        self.standardize, self.split, self.ngrams = standardize, split, ngrams
        self._widths = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self.output_mode, self.output_sequence_length, self.encoding = output_mode, output_sequence_length, encoding
        self.sparse, self.ragged = False, False
        self.__dict__["_lookup"] = StringLookup(
            max_tokens=max_tokens, mask_token="", output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens,
            vocabulary=vocabulary, idf_weights=idf_weights, sparse=sparse, encoding=encoding,
            name=f"{self.name}_lookup")

    # -- text to tokens ---------------------------------------------------------------------------------
    def _strings(self, inputs: Any) -> np.ndarray:
        """Inputs as a 1-D array of ``str``: a batch of strings, or ``(batch, 1)``."""
        if isinstance(inputs, Tensor):
            raise DataError(f"TextVectorization layer '{self.name}' takes strings (a list or NumPy array of str), "
                            "not a tensor.")
        values = to_array(inputs)
        if values.dtype.kind not in "UO":
            raise DataError(f"TextVectorization layer '{self.name}' takes strings; received an array of "
                            f"dtype {values.dtype}.")
        if self.split is not None and values.ndim > 1:
            if values.shape[-1] != 1:
                raise DataError(f"TextVectorization layer '{self.name}' splits strings, so its inputs must be of "
                                f"shape (batch,) or (batch, 1). Received shape {values.shape}.")
            values = values[..., 0]
        return values

    def _standardized(self, values: np.ndarray) -> np.ndarray:
        values = np.vectorize(lambda v: v.decode(self.encoding) if isinstance(v, bytes) else str(v),
                              otypes=[object])(values) if values.size else values.astype(object)
        if callable(self.standardize):
            return np.asarray(self.standardize(values.astype(str)), dtype=object)
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            values = np.vectorize(lambda v: v.translate(_ASCII_LOWER), otypes=[object])(values)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            values = np.vectorize(lambda v: PUNCTUATION.sub("", v), otypes=[object])(values)
        return values

    def _tokens(self, text: str) -> list[str]:
        if self.split == "whitespace":
            tokens = _WHITESPACE.findall(text)
        elif self.split == "character":
            tokens = list(text)
        else:
            tokens = [str(t) for t in self.split(text)]
        if self._widths is None:
            return tokens
        return [" ".join(tokens[i:i + n]) for n in self._widths for i in range(len(tokens) - n + 1)]

    def tokenize(self, inputs: Any) -> list[list[str]] | np.ndarray:
        """The standardized tokens of each string (with ``split=None``, the standardized strings)."""
        values = self._standardized(self._strings(inputs))
        if self.split is None:
            return values
        return [self._tokens(text) for text in values.reshape(-1).tolist()]

    # -- vocabulary -------------------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary from ``data``: its tokens by descending count, ties by descending token.

        Args:
            data: Strings (a list or NumPy array), or an iterable of batches of them (``x`` of ``(x, y)``).
            batch_size: Unused (Keras's argument).
            steps: How many batches of an iterable to read (all by default).
        """
        def documents() -> Iterable[list[str]]:
            for i, batch in enumerate(adapt_batches(data)):
                if steps is not None and i >= steps:
                    return
                tokens = self.tokenize(batch)
                yield from ([[t] for t in tokens.reshape(-1).tolist()] if self.split is None else tokens)

        self._lookup.learn(documents())

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the vocabulary (and IDF weights for ``"tf_idf"``); see :meth:`StringLookup.set_vocabulary`."""
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The token at each index: ``""`` (padding, ``"int"`` mode), ``"[UNK]"``, then the vocabulary."""
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """The vocabulary size, padding and OOV tokens included."""
        return self._lookup.vocabulary_size()

    # -- calling --------------------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Tensor:
        """Vectorize a batch of strings (see the class docstring for the outputs)."""
        if hasattr(inputs, "sample_shape"):
            raise ConfigError(
                f"TextVectorization layer '{self.name}' works on strings in the data pipeline, not on a model's "
                "symbolic Input (torch tensors cannot hold strings). Vectorize the data before fit, or in a "
                "DataLoader's collate_fn, and give the model the resulting ids or vectors."
            )
        lookup = self._lookup
        lookup._check_ready()
        tokens = self.tokenize(inputs)
        if self.split is None:
            index = torch.as_tensor(lookup.indices(tokens.reshape(-1).tolist()).reshape(tokens.shape))
            if self.output_mode != "int" and index.ndim == 1:
                index = index.unsqueeze(-1)  # one token per sample
        else:
            length = max((len(t) for t in tokens), default=0)
            if self.output_mode == "int" and self.output_sequence_length is not None:
                length = self.output_sequence_length
            pad = 0 if self.output_mode == "int" else -1  # -1 encodes as nothing
            index = torch.full((len(tokens), length), pad, dtype=torch.int64)
            flat = lookup.indices([t for row in tokens for t in row[:length]])
            at = 0
            for i, row in enumerate(tokens):
                n = min(len(row), length)
                index[i, :n] = torch.from_numpy(flat[at:at + n])
                at += n
        if self.output_mode == "int" and self.output_sequence_length is not None and self.split is None:
            index = index[..., :self.output_sequence_length]
            short = self.output_sequence_length - index.shape[-1]
            index = torch.nn.functional.pad(index, (0, short)) if short > 0 else index
        return encode_lookups(index, self.output_mode, lookup._depth(), lookup._idf_tensor())

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments with the current vocabulary and IDF weights."""
        config = super().get_config()
        lookup = self._lookup.get_config()
        config.update(vocabulary=lookup.get("vocabulary"), idf_weights=lookup.get("idf_weights"))
        return config
