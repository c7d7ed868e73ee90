"""``keras.backend``'s common names: ``clear_session``, ``floatx``, ``epsilon``, ``image_data_format``,
``backend``."""

from __future__ import annotations

from nnkit.config import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format
from nnkit.utils.naming import clear_session

__all__ = ["backend", "clear_session", "epsilon", "floatx", "image_data_format", "set_epsilon", "set_floatx",
           "set_image_data_format"]
