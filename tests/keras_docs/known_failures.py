"""Examples of Keras's docstrings that nnkit does not run as Keras does, each with the reason.

``KNOWN_FAILURES`` is the to-do list: its examples are ``xfail(strict=True)``, so an example that starts
passing fails the suite until its line is deleted here. ``DELIBERATE`` lists where nnkit means to differ
from Keras (the README repeats these reasons); those examples are skipped. ``TOO_SLOW`` lists examples
skipped for their cost alone. Ids are ``<module>.<name>[<n>]``, the n-th example of the Keras docstring.
"""

_FLOAT64 = ("float64 NumPy inputs give a float64 loss, as nnkit's losses keep the inputs' float type; Keras on torch "
            "happens to give float32 for these three (its ops.maximum(x, 0.0) returns float32) and float64 for "
            "the others")

KNOWN_FAILURES: dict[str, str] = {}

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
