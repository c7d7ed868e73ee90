"""Models mirroring ``keras.models``."""

from nnkit.models.sequential import Sequential

__all__ = ["Sequential"]
