"""Convolutional LSTM layers: ``ConvLSTM1D``, ``ConvLSTM2D`` and ``ConvLSTM3D`` (Shi et al., 2015).

An LSTM whose input and recurrent transformations are convolutions: each step maps images
``(batch, *spatial, channels)`` and the states ``h, c`` (``(batch, *out_spatial, filters)``) through Keras's
equations and gate order (i, f, c, o). The input convolution uses ``strides``, ``padding`` and
``dilation_rate``; the recurrent one is a stride-1 ``'same'`` convolution, as in Keras.

The input convolution of all steps runs as one batched convolution before the loop; only the recurrent
convolution runs per step. Weights are kept in torch's convolution layout and converted by
``get_weights`` / ``set_weights`` to Keras's ``kernel (*kernel_size, channels, 4 * filters)``,
``recurrent_kernel (*kernel_size, filters, 4 * filters)`` and ``bias (4 * filters,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnkit import activations, config, constraints, initializers, regularizers
from nnkit.errors import ConfigError, DataError
from nnkit.layers.base import LAYERS, Shape, regularizer_terms
from nnkit.layers.convolutional import keras_kernel_dims, kernel_from_keras, kernel_to_keras
from nnkit.layers.recurrent import _fraction
from nnkit.layers.spatial import (
    SpatialLayer,
    check_strides_dilation,
    int_tuple,
    keras_names,
    padding_mode,
    positive_int,
    same_padding,
    split_shape,
    window_padding,
)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _flat_pads(pads: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(p for pair in reversed(pads) for p in pair)  # torch lists the last axis first


class ConvLSTMNetwork(nn.Module):
    """The ConvLSTM recurrence over ``(batch, timesteps, channels, *spatial)`` (channels first) inputs.

    ``forward`` takes the layer's Keras-layout inputs and moves the channel axis when ``channels_last``.
    """

    takes_mask = True

    def __init__(self, rank: int, channels: int, filters: int, kernel_size: tuple[int, ...],
                 strides: tuple[int, ...], dilation: tuple[int, ...], input_pads: tuple[tuple[int, int], ...],
                 recurrent_pads: tuple[tuple[int, int], ...], *, activation: Any, recurrent_activation: Any,
                 use_bias: bool, channels_last: bool, return_sequences: bool, return_state: bool,
                 go_backwards: bool, dropout: float, recurrent_dropout: float) -> None:
        super().__init__()
        dtype = config.float_dtype()
        self.kernel = nn.Parameter(torch.empty(4 * filters, channels, *kernel_size, dtype=dtype))
        self.recurrent_kernel = nn.Parameter(torch.empty(4 * filters, filters, *kernel_size, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(4 * filters, dtype=dtype)) if use_bias else None
        self.rank, self.filters, self.strides, self.dilation = rank, filters, strides, dilation
        self.input_pads, self.recurrent_pads = _flat_pads(input_pads), _flat_pads(recurrent_pads)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.channels_last, self.return_sequences, self.return_state = channels_last, return_sequences, return_state
        self.go_backwards, self.dropout, self.recurrent_dropout = go_backwards, dropout, recurrent_dropout

    def _conv(self, x: Tensor, weight: Tensor, bias: Tensor | None, pads: tuple[int, ...], recurrent: bool) -> Tensor:
        if any(pads):
            x = F.pad(x, pads)
        if recurrent:
            return _CONV[self.rank](x, weight, bias)
        return _CONV[self.rank](x, weight, bias, stride=self.strides, dilation=self.dilation)

    def _gated_conv(self, x: Tensor, weight: Tensor, bias: Tensor | None, masks: Tensor | None, pads: tuple[int, ...],
                    recurrent: bool, steps: int = 1) -> Tensor:
        """The convolution of every gate; with dropout, gate ``g`` sees ``x`` under its own mask ``masks[g]``
        (one mask per sequence: ``steps`` folded into the batch share it)."""
        if masks is None:
            return self._conv(x, weight, bias, pads, recurrent)
        masks = masks.repeat_interleave(steps, dim=1) if steps > 1 else masks
        biases = [None] * 4 if bias is None else bias.chunk(4)
        return torch.cat([self._conv(x * m, w, b, pads, recurrent)
                          for m, w, b in zip(masks, weight.chunk(4), biases)], dim=1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Any:
        if self.channels_last:
            x = x.movedim(-1, 2)
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        batch, steps = x.shape[:2]
        folded = x.reshape(batch * steps, *x.shape[2:])
        drop = None
        if self.training and self.dropout:  # Keras: one mask per gate and sequence, over every input element
            drop = F.dropout(x.new_ones(4, batch, *x.shape[2:]), self.dropout)
        projected = self._gated_conv(folded, self.kernel, self.bias, drop, self.input_pads, False, steps)
        projected = projected.view(batch, steps, *projected.shape[1:])
        h = projected.new_zeros(batch, self.filters, *projected.shape[3:])
        c = torch.zeros_like(h)
        recurrent_drop = None
        if self.training and self.recurrent_dropout:
            recurrent_drop = F.dropout(h.new_ones(4, *h.shape), self.recurrent_dropout)
        act, gate = self.activation, self.recurrent_activation
        outputs = []
        for t in range(steps):
            z = projected[:, t] + self._gated_conv(h, self.recurrent_kernel, None, recurrent_drop,
                                                   self.recurrent_pads, True)
            i, f, g, o = z.chunk(4, dim=1)
            new_c = gate(f) * c + gate(i) * act(g)
            new_h = gate(o) * act(new_c)
            if mask is not None:  # a masked step keeps the states and repeats the previous output
                keep = mask[:, t].to(torch.bool).view(-1, *[1] * (h.dim() - 1))
                new_h, new_c = torch.where(keep, new_h, h), torch.where(keep, new_c, c)
            h, c = new_h, new_c
            if self.return_sequences:
                outputs.append(h)
        output = torch.stack(outputs, dim=1) if self.return_sequences else h
        if self.channels_last:
            output = output.movedim(2 if self.return_sequences else 1, -1)
            h, c = h.movedim(1, -1), c.movedim(1, -1)
        return [output, h, c] if self.return_state else output

    def compute_mask(self, inputs: Tensor, mask: Tensor | None) -> Tensor | None:
        """Keras: the mask survives only when every step is returned."""
        return mask if self.return_sequences else None

    def extra_repr(self) -> str:
        return (f"rank={self.rank}, filters={self.filters}, strides={self.strides}, "
                f"return_sequences={self.return_sequences}, go_backwards={self.go_backwards}")


class ConvLSTM(SpatialLayer):
    """Base of ConvLSTM1D/2D/3D (not used directly).

    Args:
        filters: Number of output channels (and of each state's channels).
        kernel_size: Convolution window: an int or one int per spatial axis.
        strides: Step of the input convolution; strides and dilation cannot both exceed 1.
        padding: ``'valid'`` or ``'same'`` for the input convolution (Keras/TensorFlow semantics).
        data_format: ``'channels_last'`` (default) or ``'channels_first'`` (``(batch, time, channels, ...)``).
        dilation_rate: Dilation of the input convolution.
        activation: Cell and output activation (default ``'tanh'``).
        recurrent_activation: Gate activation (default ``'sigmoid'``).
        use_bias: Whether the layer has a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras defaults ``'glorot_uniform'``,
            ``'orthogonal'``, ``'zeros'``.
        unit_forget_bias: Start the forget-gate bias at 1 (Keras default ``True``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Penalties added to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: Projections (Keras layout) after each step.
        dropout: Fraction of the input elements dropped while training (one mask per gate and sequence).
        recurrent_dropout: Fraction of the state dropped in the recurrent convolution while training.
        seed: Accepted for Keras compatibility; seed with ``nnkit.utils.set_random_seed``.
        return_sequences: Return every step's output instead of the last.
        return_state: Also return the final states: ``[output, h, c]`` (a functional model's outputs).
        go_backwards: Read the sequence in reverse (outputs stay in the order computed, as in Keras).
        stateful: Must be ``False`` (each batch starts from zero states).

    Masks over ``(batch, timesteps)`` are honoured: a masked step keeps the states and repeats the output.
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, ...], strides: int | tuple[int, ...] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | tuple[int, ...] = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer = type(self).__name__
        self.filters = positive_int(filters, "filters", layer)
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = int_tuple(strides, self.rank, "strides", layer)
        self.padding = padding_mode(padding, layer)
        self._set_data_format(data_format)
        self.layout = "keras"  # the module moves the channel axis itself (the time axis sits in between)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", layer)
        check_strides_dilation(self.strides, self.dilation_rate, layer)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._penalties = (kernel_regularizer, recurrent_regularizer, bias_regularizer)
        regularizer_terms([(torch.empty(0), r) for r in self._penalties])
        self._projections = tuple(constraints.get(c) for c in (kernel_constraint, recurrent_constraint,
                                                               bias_constraint))
        self.dropout = _fraction(dropout, "dropout", layer)
        self.recurrent_dropout = _fraction(recurrent_dropout, "recurrent_dropout", layer)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        if stateful:
            raise ConfigError(f"{layer}(stateful=True) is not supported: every batch starts from zero states. "
                              "Carry the states yourself with return_state=True.")

    def build(self, input_shape: Shape) -> tuple[nn.Module, Any]:
        if len(input_shape) != self.rank + 2:
            raise DataError(
                f"{self._label} expects inputs of shape (batch, timesteps, "
                f"{'spatial..., channels' if self.data_format == 'channels_last' else 'channels, spatial...'}) with "
                f"{self.rank} spatial axes, but received inputs of shape {(None, *input_shape)}."
            )
        timesteps, *step = input_shape
        channels, spatial = split_shape(tuple(step), self.rank, self.data_format, self._label)
        if None in spatial or channels is None:
            raise DataError(f"{self._label} needs known spatial sizes and channels; received inputs of shape "
                            f"{(None, *input_shape)}.")
        input_pads, sizes = window_padding(self._label, self.padding, spatial, self.kernel_size, self.strides,
                                           self.dilation_rate)
        recurrent_pads = tuple(same_padding(n, k, 1) for n, k in zip(sizes, self.kernel_size))
        module = ConvLSTMNetwork(
            self.rank, channels, self.filters, self.kernel_size, self.strides, self.dilation_rate, input_pads,
            recurrent_pads, activation=self.activation, recurrent_activation=self.recurrent_activation,
            use_bias=self.use_bias, channels_last=self.data_format == "channels_last",
            return_sequences=self.return_sequences, return_state=self.return_state, go_backwards=self.go_backwards,
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout)
        self.kernel_initializer(module.kernel)
        self.recurrent_initializer(module.recurrent_kernel)
        if self.use_bias:
            self.bias_initializer(module.bias)
            if self.unit_forget_bias:
                with torch.no_grad():
                    module.bias[self.filters:2 * self.filters] = 1.0
        state = self._join(self.filters, sizes)
        output = (timesteps, *state) if self.return_sequences else state
        return module, [output, state, state] if self.return_state else output

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        dims = keras_kernel_dims(self.rank)
        kernel, recurrent, bias = self._penalties
        module = self.module
        return regularizer_terms([(module.kernel, regularizers.in_keras_layout(kernel, dims)),
                                  (module.recurrent_kernel, regularizers.in_keras_layout(recurrent, dims)),
                                  *([(module.bias, bias)] if module.bias is not None else [])])

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        dims = keras_kernel_dims(self.rank)
        kernel, recurrent, bias = self._projections
        return constraints.constraint_terms([(self.module.kernel, constraints.permuted(kernel, dims)),
                                             (self.module.recurrent_kernel, constraints.permuted(recurrent, dims)),
                                             (self.module.bias, bias)])

    def _to_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return kernel_to_keras(array, self.rank) if index < 2 else array

    def _from_keras(self, index: int, array: np.ndarray) -> np.ndarray:
        return kernel_from_keras(array, self.rank) if index < 2 and array.ndim == self.rank + 2 else array


@LAYERS.register(*keras_names("ConvLSTM1D"))
class ConvLSTM1D(ConvLSTM):
    """Convolutional LSTM over sequences of 1-D signals ``(batch, time, steps, channels)``."""

    rank = 1


@LAYERS.register(*keras_names("ConvLSTM2D"))
class ConvLSTM2D(ConvLSTM):
    """Convolutional LSTM over sequences of images ``(batch, time, height, width, channels)``.

    Example:
        >>> ConvLSTM2D(16, 3, padding="same", return_sequences=True)
        ConvLSTM2D(filters=16, kernel_size=3, padding='same', return_sequences=True)
    """

    rank = 2


@LAYERS.register(*keras_names("ConvLSTM3D"))
class ConvLSTM3D(ConvLSTM):
    """Convolutional LSTM over sequences of volumes ``(batch, time, depth, height, width, channels)``."""

    rank = 3
