"""Callbacks mirroring ``keras.callbacks``."""

from nnkit.callbacks.callback import Callback, CallbackList
from nnkit.callbacks.history import History
from nnkit.callbacks.progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
