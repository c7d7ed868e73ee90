"""Utilities mirroring ``keras.utils``: label encoding, seeding, session naming and plots of results."""

from nnkit.utils.naming import clear_session
from nnkit.utils.numerical import normalize, to_categorical
from nnkit.utils.seeding import set_random_seed

__all__ = [
    "clear_session", "normalize", "plot_confusion_matrix", "plot_history", "save_figure", "set_random_seed",
    "to_categorical",
]

_PLOTTING = ("plot_confusion_matrix", "plot_history", "save_figure")


def __getattr__(name: str):  # the plots import matplotlib, so they load on first use only
    if name in _PLOTTING:
        from nnkit.utils import plotting

        globals().update({key: getattr(plotting, key) for key in _PLOTTING})
        return globals()[name]
    raise AttributeError(f"module 'nnkit.utils' has no attribute {name!r}")
