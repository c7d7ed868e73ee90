"""``python -m nnkit``: the ``nnkit`` command (see :mod:`nnkit.cli`)."""

import sys

from nnkit.cli import main

sys.exit(main())
