"""Attention layers: ``MultiHeadAttention``, ``Attention`` (dot-product), ``AdditiveAttention`` and
``EinsumDense``, with Keras's arguments, shapes and weights (kept in Keras layout, so ``get_weights`` /
``set_weights`` exchange them unchanged).

They are called as Keras calls them: ``MultiHeadAttention(...)(query, value, key=None)`` and
``Attention()([query, value])`` / ``([query, value, key])``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit import activations, config, initializers
from nnkit.errors import ConfigError
from nnkit.layers.base import LAYERS, Layer, Shape, regularizer_terms


def _parameter(shape: tuple[int, ...], initializer: Any) -> nn.Parameter:
    weight = nn.Parameter(torch.empty(shape, dtype=config.float_dtype()))
    initializers.get(initializer)(weight)
    return weight


def _causal_mask(queries: int, keys: int, device: torch.device) -> Tensor:
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril()


class MultiHeadAttentionModule(nn.Module):
    """Keras's multi-head attention over ``(batch, steps, features)`` tensors, weights in Keras layout."""

    def __init__(self, query_dim: int, value_dim_in: int, key_dim_in: int, heads: int, key_dim: int, value_dim: int,
                 output_dim: int, use_bias: bool, dropout: float, kernel_initializer: Any, bias_initializer: Any) -> None:
        super().__init__()
        self.heads, self.key_dim, self.dropout = heads, key_dim, dropout
        make = _parameter
        self.query_kernel = make((query_dim, heads, key_dim), kernel_initializer)
        self.key_kernel = make((key_dim_in, heads, key_dim), kernel_initializer)
        self.value_kernel = make((value_dim_in, heads, value_dim), kernel_initializer)
        self.output_kernel = make((heads, value_dim, output_dim), kernel_initializer)
        self.use_bias = use_bias
        if use_bias:
            self.query_bias = make((heads, key_dim), bias_initializer)
            self.key_bias = make((heads, key_dim), bias_initializer)
            self.value_bias = make((heads, value_dim), bias_initializer)
            self.output_bias = make((output_dim,), bias_initializer)

    def forward(self, query: Tensor, value: Tensor, key: Tensor | None = None, attention_mask: Tensor | None = None,
                use_causal_mask: bool = False, return_attention_scores: bool = False) -> Any:
        key = value if key is None else key
        q = torch.einsum("btd,dnh->btnh", query, self.query_kernel)
        k = torch.einsum("bsd,dnh->bsnh", key, self.key_kernel)
        v = torch.einsum("bsd,dnh->bsnh", value, self.value_kernel)
        if self.use_bias:
            q, k, v = q + self.query_bias, k + self.key_bias, v + self.value_bias
        scores = torch.einsum("bsnh,btnh->bnts", k, q * (1.0 / math.sqrt(self.key_dim)))
        mask = _combined_mask(attention_mask, use_causal_mask, scores)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        dropped = F.dropout(weights, self.dropout, self.training) if self.dropout else weights
        context = torch.einsum("bnts,bsnh->btnh", dropped, v)
        output = torch.einsum("btnh,nhd->btd", context, self.output_kernel)
        if self.use_bias:
            output = output + self.output_bias
        return (output, weights) if return_attention_scores else output


def _combined_mask(attention_mask: Tensor | None, causal: bool, scores: Tensor) -> Tensor | None:
    """A boolean mask broadcastable to ``scores`` (``(batch, [heads,] queries, keys)``), or ``None``."""
    mask = None
    if attention_mask is not None:
        mask = attention_mask.bool()
        if mask.ndim == scores.ndim - 1:
            mask = mask.unsqueeze(1)
    if causal:
        causal_mask = _causal_mask(scores.shape[-2], scores.shape[-1], scores.device)
        mask = causal_mask if mask is None else mask & causal_mask
    return mask


@LAYERS.register("multi_head_attention")
class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.), as ``keras.layers.MultiHeadAttention``.

    Called as ``layer(query, value, key=None, attention_mask=None, use_causal_mask=False)`` on
    ``(batch, steps, features)`` tensors; returns ``(batch, query steps, output features)``.

    Args:
        num_heads: Number of attention heads.
        key_dim: Size of each head for queries and keys.
        value_dim: Size of each head for values (default ``key_dim``).
        dropout: Dropout rate on the attention weights (training only).
        use_bias: Whether the projections have biases.
        output_shape: Size of the output features (default: the query's).
        kernel_initializer, bias_initializer: Initializers of the projection weights.
        kernel_regularizer, bias_regularizer: Penalties on the projection weights.
    """

    layout = "keras"

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: Any = None, attention_axes: Any = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"MultiHeadAttention expects `{name}` to be a positive int. Received: {value!r}.")
        if attention_axes is not None or kernel_constraint is not None or bias_constraint is not None:
            raise ConfigError("MultiHeadAttention(attention_axes=..., kernel_constraint=..., bias_constraint=...) is "
                              "not supported; attention runs over the steps axis of (batch, steps, features).")
        if not 0 <= dropout < 1:
            raise ConfigError(f"MultiHeadAttention expects `dropout` in [0, 1). Received: {dropout!r}.")
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim or key_dim
        self.dropout, self.use_bias = float(dropout), use_bias
        self.output_size = output_shape[-1] if isinstance(output_shape, (list, tuple)) else output_shape
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def build(self, input_shape: Any) -> tuple[nn.Module, Shape]:
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        query = shapes[0]
        value = shapes[1] if len(shapes) > 1 else query
        key = shapes[2] if len(shapes) > 2 and shapes[2] is not None else value
        for what, shape in (("query", query), ("value", value), ("key", key)):
            if len(shape) != 2 or shape[-1] is None:
                raise ConfigError(f"MultiHeadAttention layer '{self.name}' takes (batch, steps, features) tensors "
                                  f"with known features; received a {what} of shape {(None, *shape)}.")
        output = self.output_size or query[-1]
        module = MultiHeadAttentionModule(query[-1], value[-1], key[-1], self.num_heads, self.key_dim, self.value_dim,
                                          output, self.use_bias, self.dropout, self.kernel_initializer,
                                          self.bias_initializer)
        return module, (query[0], output)

    def _symbolic_outputs(self, output_shape: Any, kwargs: dict[str, Any]) -> Any:
        if not kwargs.get("return_attention_scores"):
            return output_shape
        query, value = self.input_shape if isinstance(self.input_shape, list) else (self.input_shape,) * 2
        return [output_shape, (self.num_heads, query[0], value[0])]  # (outputs, attention scores)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        m = self.module
        kernels = [m.query_kernel, m.key_kernel, m.value_kernel, m.output_kernel]
        biases = [m.query_bias, m.key_bias, m.value_bias, m.output_bias] if m.use_bias else []
        return regularizer_terms([(k, self.kernel_regularizer) for k in kernels]
                                 + [(b, self.bias_regularizer) for b in biases])

    @property
    def weights(self) -> list[nn.Parameter]:
        """Keras's order: query, key, value and output projections, each kernel then bias."""
        if self.module is None:
            return []
        m = self.module
        order = ["query", "key", "value", "output"]
        return [w for name in order for w in ([getattr(m, f"{name}_kernel")]
                                               + ([getattr(m, f"{name}_bias")] if m.use_bias else []))]


class AttentionModule(nn.Module):
    """Dot-product (``score_mode='dot'``) or additive attention over ``[query, value(, key)]``."""

    def __init__(self, additive: bool, features: int, use_scale: bool, dropout: float, score_mode: str) -> None:
        super().__init__()
        self.additive, self.dropout, self.score_mode = additive, dropout, score_mode
        self.scale = None
        if use_scale:
            shape = (features,) if additive else ()
            initial = torch.ones(shape, dtype=config.float_dtype())
            if additive:  # Keras's glorot_uniform on a vector: fan_in = fan_out = features
                limit = math.sqrt(3.0 / features)
                nn.init.uniform_(initial, -limit, limit)
            self.scale = nn.Parameter(initial)
        self.concat_score_weight = nn.Parameter(torch.ones((), dtype=config.float_dtype())) \
            if score_mode == "concat" else None

    def forward(self, inputs: list[Tensor], use_causal_mask: bool = False,
                return_attention_scores: bool = False) -> Any:
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        if self.additive:
            summed = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
            scores = (summed * self.scale).sum(-1) if self.scale is not None else summed.sum(-1)
        elif self.score_mode == "concat":
            summed = torch.tanh(self.scale * (query.unsqueeze(-2) + key.unsqueeze(-3)) if self.scale is not None
                                else query.unsqueeze(-2) + key.unsqueeze(-3))
            scores = self.concat_score_weight * summed.sum(-1)
        else:
            scores = torch.matmul(query, key.transpose(-1, -2))
            if self.scale is not None:
                scores = scores * self.scale
        if use_causal_mask:
            mask = _causal_mask(scores.shape[-2], scores.shape[-1], scores.device)
            scores = scores.masked_fill(~mask, -1e9)
        weights = torch.softmax(scores, dim=-1)
        dropped = F.dropout(weights, self.dropout, self.training) if self.dropout else weights
        output = torch.matmul(dropped, value)
        return (output, weights) if return_attention_scores else output


class _AttentionLayer(Layer):
    """Shared arguments, checks and shapes of ``Attention`` and ``AdditiveAttention``."""

    additive = False
    layout = "keras"

    def __init__(self, use_scale: bool = False, dropout: float = 0.0, score_mode: str = "dot", seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"Attention expects score_mode 'dot' or 'concat'. Received: {score_mode!r}.")
        if not 0 <= dropout < 1:
            raise ConfigError(f"{type(self).__name__} expects `dropout` in [0, 1). Received: {dropout!r}.")
        self.use_scale, self.dropout, self.score_mode = use_scale, float(dropout), score_mode

    def build(self, input_shape: Any) -> tuple[nn.Module, Shape]:
        if not isinstance(input_shape, list) or len(input_shape) not in (2, 3):
            raise ConfigError(f"{type(self).__name__} layer '{self.name}' is called on [query, value] or [query, "
                              f"value, key]. Received inputs of shape {input_shape}.")
        query, value = input_shape[0], input_shape[1]
        module = AttentionModule(self.additive, query[-1], self.use_scale, self.dropout, self.score_mode)
        return module, (*query[:-1], value[-1])

    def _symbolic_outputs(self, output_shape: Any, kwargs: dict[str, Any]) -> Any:
        if not kwargs.get("return_attention_scores"):
            return output_shape
        query, value = self.input_shape[0], self.input_shape[1]
        return [output_shape, (*query[:-1], value[-2])]  # (outputs, attention scores)


@LAYERS.register("attention")
class Attention(_AttentionLayer):
    """Dot-product attention (Luong style), as ``keras.layers.Attention``: ``Attention()([query, value])``.

    Args:
        use_scale: Learn a scalar that scales the scores.
        dropout: Dropout rate on the attention weights (training only).
        score_mode: ``'dot'`` (scores ``query @ key.T``) or ``'concat'`` (``sum(tanh(query + key))``).
    """


@LAYERS.register("additive_attention")
class AdditiveAttention(_AttentionLayer):
    """Additive attention (Bahdanau style), as ``keras.layers.AdditiveAttention``:
    ``AdditiveAttention()([query, value])``.

    Args:
        use_scale: Learn a per-feature scale of the scores (default ``True``).
        dropout: Dropout rate on the attention weights (training only).
    """

    additive = True

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)


# Keras's three forms of equation, with "..." written as "0": none, leading and trailing ellipsis.
_EQUATIONS = {None: r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", "left": r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)",
              "right": r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0"}


class EinsumModule(nn.Module):
    """``activation(einsum(equation, x, kernel) + bias)``."""

    def __init__(self, equation: str, kernel_shape: Shape, bias_shape: Shape | None, kernel_initializer: Any,
                 bias_initializer: Any, activation: Any) -> None:
        super().__init__()
        self.equation = equation
        self.kernel = _parameter(kernel_shape, kernel_initializer)
        self.bias = _parameter(bias_shape, bias_initializer) if bias_shape is not None else None
        self.activation = activations.module(activation) or nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = torch.einsum(self.equation, x, self.kernel)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def extra_repr(self) -> str:
        return f"equation={self.equation!r}"


@LAYERS.register("einsum_dense")
class EinsumDense(Layer):
    """A dense layer written as an einsum, as ``keras.layers.EinsumDense``:
    ``EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")``.

    Args:
        equation: ``"<input>,<kernel>-><output>"``, one letter per axis (the batch axis included).
        output_shape: The output shape without the batch axis (``None`` for sizes taken from the input).
        activation: Activation after the bias.
        bias_axes: Letters of the output axes that get a bias.
        kernel_initializer, bias_initializer: Initializers of the weights.
        kernel_regularizer, bias_regularizer: Penalties on the weights.
    """

    def __init__(self, equation: str, output_shape: Any, activation: Any = None, bias_axes: str | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        text = str(equation).replace(" ", "")
        dotted = text.replace("...", "0")
        side, match = next(((side, m) for side, pattern in _EQUATIONS.items()
                            if (m := re.fullmatch(pattern, dotted)) is not None), (None, None))
        if match is None:
            raise ConfigError(f"EinsumDense expects an equation such as 'ab,bc->ac', '...b,bc->...c' or "
                              f"'ab...,bc->ac...'. Received: {equation!r}.")
        self.equation, self.specs, self._elided_side = text, match.groups(), side
        self.output_shape_arg = (output_shape,) if isinstance(output_shape, int) or output_shape is None \
            else tuple(output_shape)
        activations.get(activation)
        self.activation, self.bias_axes = activation, bias_axes
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        kernel_shape, bias_shape, output = self._shapes_for((None, *input_shape))
        module = EinsumModule(self.equation, kernel_shape, bias_shape, self.kernel_initializer, self.bias_initializer,
                              self.activation)
        return module, output[1:]

    def _shapes_for(self, full: Shape) -> tuple[Shape, Shape | None, Shape]:
        """Keras's analysis of the equation (``_analyze_split_string``): kernel and bias shapes and the output
        shape, batch axis included, for inputs of shape ``full``; an ellipsis stands for the axes the
        equation does not name (at the start: the batch axis and those after it; at the end: the last)."""
        source, kernel_spec, target = self.specs
        side, elided = self._elided_side, len(full) - len(source)
        if elided < 0 or (side is None and elided):
            raise ConfigError(f"EinsumDense layer '{self.name}': equation {self.equation!r} names {len(source)} input "
                              f"axes but the input has shape {full}.")
        named = len(target) if side == "left" else len(target) - 1
        if len(self.output_shape_arg) != named:
            raise ConfigError(f"EinsumDense layer '{self.name}': output_shape {self.output_shape_arg} must give the "
                              f"sizes of the {named} output axes '{target[-named:]}' of {self.equation!r}.")
        output = [None, *full[1:elided], *self.output_shape_arg] if side == "left" else \
            [None, *self.output_shape_arg, *(full[len(full) - elided:] if side == "right" else ())]
        offset = elided if side == "left" else 0
        in_axis = {c: i + offset for i, c in enumerate(source)}
        out_axis = {c: i + offset for i, c in enumerate(target)}
        for letter, axis in out_axis.items():
            size = full[in_axis[letter]] if letter in in_axis else None
            if output[axis] is None:
                output[axis] = size  # a size the output shares with the input
            elif size is not None and size != output[axis]:
                raise ConfigError(f"EinsumDense layer '{self.name}': axis '{letter}' has size {size} in the input "
                                  f"{full} but {output[axis]} in output_shape {self.output_shape_arg}.")
            if letter not in in_axis and letter not in kernel_spec:
                raise ConfigError(f"EinsumDense layer '{self.name}': output axis '{letter}' of {self.equation!r} is "
                                  "in neither the input nor the kernel.")
        kernel_shape = []
        for letter in kernel_spec:
            size = output[out_axis[letter]] if letter in out_axis else full[in_axis[letter]] if letter in in_axis \
                else None
            if size is None:
                raise ConfigError(f"EinsumDense layer '{self.name}' cannot tell the size of kernel axis '{letter}' "
                                  f"from the input {full} and output_shape {self.output_shape_arg}.")
            kernel_shape.append(size)
        bias_shape = None
        if self.bias_axes:
            unknown = [c for c in self.bias_axes if c not in target]
            if unknown:
                raise ConfigError(f"EinsumDense layer '{self.name}': bias axis '{unknown[0]}' is not an output axis "
                                  f"of {self.equation!r}.")
            first = min(target.index(c) for c in self.bias_axes)
            bias_shape = tuple(output[i + offset] if c in self.bias_axes else 1 for i, c in enumerate(target)
                               if i >= first) + ((1,) * elided if side == "right" else ())
        return tuple(kernel_shape), bias_shape, tuple(output)

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        terms = [(self.module.kernel, self.kernel_regularizer)]
        if self.module.bias is not None:
            terms.append((self.module.bias, self.bias_regularizer))
        return regularizer_terms(terms)
