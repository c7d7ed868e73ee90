"""Utilities mirroring ``keras.utils``: label encoding, seeding, session naming and plots of results."""

from nnkit.config import disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled
from nnkit.layers.symbolic import KerasTensor
from nnkit.saving import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)
from nnkit.utils.dataset_split import split_dataset
from nnkit.utils.model_plot import model_to_dot, plot_model
from nnkit.utils.naming import clear_session
from nnkit.utils.numerical import normalize, to_categorical
from nnkit.utils.progbar import Progbar
from nnkit.utils.py_dataset import PyDataset, Sequence
from nnkit.utils.seeding import set_random_seed
from nnkit.utils.sequences import pad_sequences
from nnkit.utils.timeseries import timeseries_dataset_from_array


def is_keras_tensor(x: object) -> bool:
    """Whether ``x`` is a symbolic tensor (from ``Input`` or a layer called on one)."""
    return isinstance(x, KerasTensor)


def pack_x_y_sample_weight(x: object, y: object = None, sample_weight: object = None) -> tuple:
    """``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, as a custom ``train_step`` receives data."""
    if y is None:
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def unpack_x_y_sample_weight(data: object) -> tuple:
    """``(x, y, sample_weight)`` from what a custom ``train_step`` receives (missing parts are ``None``)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    return (*data, None, None)[:3] if len(data) <= 3 else (data, None, None)


__all__ = [
    "CustomObjectScope", "clear_session", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
    "get_registered_name", "get_registered_object", "is_keras_tensor", "normalize", "pack_x_y_sample_weight",
    "pad_sequences", "plot_confusion_matrix", "plot_history", "register_keras_serializable", "save_figure",
    "serialize_keras_object", "set_random_seed", "to_categorical", "unpack_x_y_sample_weight",
]

__all__ += ["disable_interactive_logging", "enable_interactive_logging", "is_interactive_logging_enabled"]
__all__ += ["Progbar", "PyDataset", "Sequence", "model_to_dot", "plot_model", "split_dataset",
            "timeseries_dataset_from_array"]

_PLOTTING = ("plot_confusion_matrix", "plot_history", "save_figure")


def __getattr__(name: str):  # the plots import matplotlib, so they load on first use only
    if name in _PLOTTING:
        from nnkit.utils import plotting

        globals().update({key: getattr(plotting, key) for key in _PLOTTING})
        return globals()[name]
    raise AttributeError(f"module 'nnkit.utils' has no attribute {name!r}")
