"""``SpectralNormalization``: keeps the spectral norm of a wrapped layer's kernel near 1 (Miyato et al., 2018).

Keras's algorithm, step for step: each training call runs ``power_iterations`` rounds of the power method
from the stored vector ``u`` (a non-trainable weight of shape ``(1, kernel.shape[-1])`` in Keras layout),
divides the kernel *in place* by the estimated largest singular value ``sigma``, stores the new ``u``, then
runs the wrapped layer. Gradients flow to the kernel as if it were a plain weight (no gradient through
``sigma``). Inference runs the wrapped layer on its kernel as it stands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnkit import config, initializers
from nnkit.errors import ConfigError, NotReadyError
from nnkit.layers.base import LAYERS, Layer, Shape
from nnkit.layers.convolutional import Conv
from nnkit.layers.core import Dense
from nnkit.layers.embedding import Embedding

_EPSILON = 1e-7  # Keras's backend.epsilon(), the floor of the norms in keras.ops.normalize


def _normalize(x: Tensor) -> Tensor:
    """Keras's ``ops.normalize(x, axis=None)``: ``x * min(rsqrt(sum(x ** 2)), 1 / epsilon)``."""
    return x * torch.clamp(torch.rsqrt(torch.sum(torch.square(x))), max=1.0 / _EPSILON)


class SpectralNormModule(nn.Module):
    """Runs ``inner``, first normalizing its kernel (its first parameter) in place when training.

    Args:
        inner: The wrapped layer's module.
        output_axis: The kernel axis (torch layout) that is the last axis of the Keras kernel: 0 for
            ``nn.Linear`` and torch's (transposed) convolutions, 1 for ``nn.Embedding``.
        power_iterations: Rounds of the power method per training call.
    """

    takes_mask = False

    def __init__(self, inner: nn.Module, output_axis: int, power_iterations: int) -> None:
        super().__init__()
        self.inner, self.output_axis, self.power_iterations = inner, output_axis, power_iterations
        size = self._kernel().shape[output_axis]
        u = initializers.TruncatedNormal(stddev=0.02)(torch.empty(1, size, dtype=config.float_dtype()))
        self.register_buffer("vector_u", u)

    def _kernel(self) -> nn.Parameter:
        return next(iter(self.inner.parameters()))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            self.normalize_kernel()
        return self.inner(x)

    @torch.no_grad()
    def normalize_kernel(self) -> None:
        """One update: power iterations from ``vector_u``, then ``kernel /= sigma`` (skipped for an all-zero
        kernel, as in Keras; decided on the device, without a host sync)."""
        kernel = self._kernel()
        # Rows of the (inputs, outputs) matrix Keras builds; their order does not change u or sigma.
        weights = kernel.flatten(1).T if self.output_axis == 0 else kernel.reshape(-1, kernel.shape[-1])
        u = self.vector_u
        for _ in range(self.power_iterations):
            v = _normalize(u @ weights.T)
            u = _normalize(v @ weights)
        sigma = (v @ weights @ u.T).reshape(())
        zero = torch.all(kernel == 0)
        kernel.div_(torch.where(zero, torch.ones_like(sigma), sigma))
        self.vector_u.copy_(torch.where(zero, self.vector_u, u))

    def extra_repr(self) -> str:
        return f"power_iterations={self.power_iterations}"


def _layer_from(value: Any) -> Layer:
    if isinstance(value, dict) and "class_name" in value:  # from get_config
        value = LAYERS.get(value["class_name"]).from_config(value.get("config", {}))
    if not isinstance(value, (Dense, Conv, Embedding)):
        raise ConfigError(
            "SpectralNormalization wraps a layer with a `kernel` or `embeddings` weight: Dense, Conv1D/2D/3D, "
            f"Conv1D/2D/3DTranspose or Embedding. Received: {value!r}."
        )
    return value


@LAYERS.register("spectral_normalization")
class SpectralNormalization(Layer):
    """Spectral normalization of the kernel of a wrapped layer, e.g. for a GAN's discriminator.

    Args:
        layer: The layer to wrap: ``Dense``, ``Conv1D/2D/3D``, ``Conv1D/2D/3DTranspose`` or ``Embedding``.
        power_iterations: Rounds of the power method per training call (a positive int).

    Weights follow Keras's order: ``[kernel, vector_u, *other weights of the layer]``. Keras also accepts
    other layers with a ``kernel`` attribute (``EinsumDense``); nnkit raises a ``ConfigError`` for them.
    Keras casts the output to the input's dtype, so a wrapped ``Embedding`` returns integers there; nnkit
    returns the (float) embeddings.

    Raises:
        ConfigError: ``layer`` is not one of the supported layers, or ``power_iterations`` is not positive.

    Example:
        >>> SpectralNormalization(Conv2D(64, 3), power_iterations=2)  # doctest: +SKIP
    """

    wraps = ("layer",)

    def __init__(self, layer: Any, power_iterations: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layer = _layer_from(layer)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, (int, np.integer)) \
                or power_iterations < 1:
            raise ConfigError(
                "SpectralNormalization expects `power_iterations` to be a positive int. "
                f"Received: power_iterations={power_iterations!r}."
            )
        self.power_iterations = int(power_iterations)

    @property
    def declared_input_shape(self) -> Shape | None:
        """The input shape given to the wrapper or to the wrapped layer."""
        return self._declared_shape or self.layer.declared_input_shape

    def build(self, input_shape: Shape) -> tuple[nn.Module, Shape]:
        output_shape = self.layer.attach(input_shape)
        self.layout = self.layer.layout  # a channels-last convolution keeps working in torch's layout
        output_axis = 1 if isinstance(self.layer, Embedding) else 0
        return SpectralNormModule(self.layer.module, output_axis, self.power_iterations), output_shape

    @property
    def input_dtype(self) -> torch.dtype | None:  # type: ignore[override]
        """The wrapped layer's (integer ids for an ``Embedding``)."""
        return self.layer.input_dtype

    def regularization_terms(self) -> list[tuple[Tensor, Any]]:
        return self.layer.regularization_terms()

    def constraint_terms(self) -> list[tuple[Tensor, Any]]:
        return self.layer.constraint_terms()

    def get_weights(self) -> list[np.ndarray]:
        """``[kernel, vector_u, *rest]`` in Keras layout and order."""
        if self.module is None:
            return []
        kernel, *rest = self.layer.get_weights()
        return [kernel, self.module.vector_u.detach().cpu().numpy().copy(), *rest]

    def set_weights(self, weights: list[Any]) -> None:
        """Load ``[kernel, vector_u, *rest]`` as Keras's ``get_weights`` returns them."""
        if self.module is None:
            raise NotReadyError(f"Layer '{self.name}' is not built yet; build the model before set_weights.")
        expected = len(self.layer.weights) + 1
        if len(weights) != expected:
            raise ConfigError(
                f"SpectralNormalization layer '{self.name}' has {expected} weight arrays (kernel, vector_u and "
                f"{expected - 2} more of {type(self.layer).__name__}) but set_weights received {len(weights)}."
            )
        u = np.asarray(weights[1])
        if u.shape != tuple(self.module.vector_u.shape):
            raise ConfigError(
                f"SpectralNormalization layer '{self.name}' expects vector_u with shape "
                f"{tuple(self.module.vector_u.shape)} but received an array of shape {u.shape}."
            )
        self.layer.set_weights([weights[0], *weights[2:]])
        with torch.no_grad():
            self.module.vector_u.copy_(torch.as_tensor(u, dtype=self.module.vector_u.dtype))

    @property
    def weights(self) -> list[Tensor]:
        """The kernel, ``vector_u`` and the wrapped layer's other weights (Keras's order)."""
        if self.module is None:
            return []
        kernel, *rest = self.layer.weights
        return [kernel, self.module.vector_u, *rest]

