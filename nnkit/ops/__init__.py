"""``keras.ops`` on torch tensors: ``from nnkit import ops`` (was ``from keras import ops``).

The NumPy-like core (:mod:`nnkit.ops.numpy`), the neural-network functions (:mod:`nnkit.ops.nn`), the
conversions (:mod:`nnkit.ops.core`), linear algebra (:mod:`nnkit.ops.linalg`, also ``ops.linalg``) and the
less common names (:mod:`nnkit.ops.more`). Every function takes tensors, NumPy arrays or Python numbers and
returns torch tensors, differentiable where torch is. The names Keras has and nnkit does not yet are
listed in the README.
"""

from nnkit.ops import linalg as linalg  # keras.ops.linalg
from nnkit.ops.core import (
    cast,
    convert_to_numpy,
    convert_to_tensor,
    dtype,
    is_tensor,
    ndim,
    shape,
    size,
    stop_gradient,
)
from nnkit.ops.linalg import *  # noqa: F403 - listed in nnkit.ops.linalg.__all__
from nnkit.ops.linalg import __all__ as _linalg_names
from nnkit.ops.more import *  # noqa: F403 - listed in nnkit.ops.more.__all__
from nnkit.ops.more import __all__ as _more_names
from nnkit.ops.nn import (
    binary_crossentropy,
    categorical_crossentropy,
    conv,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    moments,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    sparse_categorical_crossentropy,
    swish,
    top_k,
)
from nnkit.ops.numpy import *  # noqa: F403 - the NumPy-like names, listed in nnkit.ops.numpy.__all__
from nnkit.ops.numpy import __all__ as _numpy_names

__all__ = [
    "binary_crossentropy", "cast", "categorical_crossentropy", "conv", "convert_to_numpy", "convert_to_tensor",
    "dtype", "elu", "gelu", "is_tensor", "leaky_relu", "log_softmax", "moments", "ndim", "one_hot", "relu", "relu6",
    "selu", "shape", "sigmoid", "silu", "size", "softmax", "softplus", "sparse_categorical_crossentropy",
    "stop_gradient", "swish", "top_k", *_numpy_names, *_more_names, *_linalg_names,
]
