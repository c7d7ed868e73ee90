"""Examples of Keras's docstrings that nnkit does not run as Keras does, each with the reason.

``KNOWN_FAILURES`` is the to-do list: its examples are ``xfail(strict=True)``, so an example that starts
passing fails the suite until its line is deleted here. ``DELIBERATE`` lists where nnkit means to differ
from Keras (the README repeats these reasons); those examples are skipped. ``TOO_SLOW`` lists examples
skipped for their cost alone. Ids are ``<module>.<name>[<n>]``, the n-th example of the Keras docstring.
"""

_OPS_ARRAY = "nnkit.ops has no `array` (keras.ops.array)"
_INT_TO_FLOAT = "the layer casts integer inputs to float32; Keras keeps the integer dtype"
_FLOAT64 = ("float64 NumPy inputs give a float64 loss, as nnkit's losses keep the inputs' float type; Keras on torch "
            "happens to give float32 for these three (its ops.maximum(x, 0.0) returns float32) and float64 for "
            "the others")
_NO_LOSSES = "layer.losses stays empty when a layer with a kernel_regularizer is called; Keras collects the penalty"
_RETURN_STATE = "the RNN layer refuses return_state=True at construction; Keras returns [output, *states]"

KNOWN_FAILURES: dict[str, str] = {
    # A name the example uses is missing.
    "losses.MeanAbsoluteError[1]": _OPS_ARRAY,
    "losses.MeanAbsolutePercentageError[1]": _OPS_ARRAY,
    "losses.MeanSquaredError[1]": _OPS_ARRAY,
    "optimizers.schedules.PiecewiseConstantDecay[0]": _OPS_ARRAY,
    "ops.argsort[0]": _OPS_ARRAY,
    "ops.argsort[1]": _OPS_ARRAY,
    "ops.broadcast_to[0]": _OPS_ARRAY,
    "ops.count_nonzero[0]": _OPS_ARRAY,
    "ops.trunc[0]": _OPS_ARRAY,
    "ops.unstack[0]": _OPS_ARRAY,
    "ops.norm[0]": "nnkit.ops has no `linalg` namespace (keras.ops.linalg.norm)",
    # Layers: dtypes and features.
    "layers.Concatenate[0]": _INT_TO_FLOAT,
    "layers.Cropping1D[0]": _INT_TO_FLOAT,
    "layers.Cropping2D[0]": _INT_TO_FLOAT,
    "layers.Cropping3D[0]": _INT_TO_FLOAT,
    "layers.Dot[0]": _INT_TO_FLOAT,
    "layers.UpSampling1D[0]": _INT_TO_FLOAT,
    "layers.UpSampling2D[0]": _INT_TO_FLOAT,
    "layers.ZeroPadding1D[0]": _INT_TO_FLOAT,
    "layers.ZeroPadding2D[0]": _INT_TO_FLOAT,
    "layers.ZeroPadding3D[0]": _INT_TO_FLOAT,
    "layers.GRU[0]": _RETURN_STATE,
    "layers.LSTM[0]": _RETURN_STATE,
    "layers.SimpleRNN[0]": _RETURN_STATE,
    "layers.EinsumDense[2]": "EinsumDense refuses equations with an ellipsis ('...x,xy->...y')",
    "layers.Layer[1]": "add_weight returns a torch Parameter without Keras's Variable.assign()",
    "layers.LayerNormalization[3]": "LayerNormalization has no `gamma` / `beta` attributes",
    "layers.Softmax[0]": "a layer called on a 1-D array takes axis 0 as the batch; Keras applies softmax over it",
    "regularizers.Regularizer[1]": _NO_LOSSES,
    "regularizers.Regularizer[4]": _NO_LOSSES,
    "regularizers.Regularizer[6]": _NO_LOSSES,
    # Metrics, losses, activations, initializers, schedules.
    "metrics.Precision[2]": "Precision(top_k=...) refuses 1-D predictions",
    "metrics.Precision[3]": "Precision(top_k=...) refuses 1-D predictions",
    "metrics.SparseTopKCategoricalAccuracy[2]": "no `from_sorted_ids` argument",
    "activations.relu[0]": "activations.relu takes no negative_slope / max_value / threshold",
    "initializers.get[3]": "initializers.get refuses a tensor; Keras returns an initializer giving that tensor",
    "optimizers.schedules.serialize[0]": "serialize() leaves out the 'module' and 'registered_name' keys",
    # Ops: shapes and dtypes.
    "ops.all[2]": "ops.all(x, keepdims=True) without an axis gives shape () instead of (1, 1)",
    "ops.any[2]": "ops.all(x, keepdims=True) without an axis gives shape () instead of (1, 1)",
    "ops.einsum[1]": "ops.trace of int32 gives int64 (torch promotes); Keras keeps int32",
    "ops.einsum[3]": "ops.sum of int32 gives int64 (torch promotes); Keras keeps int32",
    "backend.result_type[2]": "complex dtypes ('complex64') are unknown to nnkit",
    # Models.
}

DELIBERATE: dict[str, str] = {
    "losses.hinge[1]": _FLOAT64,
    "losses.mean_squared_logarithmic_error[1]": _FLOAT64,
    "losses.squared_hinge[1]": _FLOAT64,
    "metrics.hinge[1]": _FLOAT64,
    "metrics.mean_squared_logarithmic_error[1]": _FLOAT64,
    "metrics.squared_hinge[1]": _FLOAT64,
    "random.SeedGenerator[0]": ("a seed gives a reproducible stream of torch's generator; the numbers cannot equal "
                                "Keras's own generator's for the same seed"),
    "callbacks.BackupAndRestore[0]": (
        "fit() refuses targets of shape (n,) for an output of shape (n, 10), which Keras's MSE broadcasts "
        "silently; nnkit reports it as the likely bug it is"
    ),
    "callbacks.EarlyStopping[0]": (
        "fit() refuses targets of shape (n,) for an output of shape (n, 10), which Keras's MSE broadcasts "
        "silently; nnkit reports it as the likely bug it is"
    ),
}

TOO_SLOW: dict[str, str] = {
    "utils.clear_session[0]": "builds 200 models in a loop (about a minute under Keras)",
    "backend.clear_session[0]": "builds 200 models in a loop (about a minute under Keras)",
    "layers.RandomZoom[0]": "about 13 s under Keras",
    "metrics.Metric[1]": "trains 10 epochs on 1000 samples (about 10 s under Keras)",
}
