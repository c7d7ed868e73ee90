"""Utilities mirroring ``keras.utils``: label encoding, seeding and session naming."""

from nnkit.utils.naming import clear_session
from nnkit.utils.numerical import normalize, to_categorical
from nnkit.utils.seeding import set_random_seed

__all__ = ["clear_session", "normalize", "set_random_seed", "to_categorical"]
