"""ProgbarLogger: a bar per epoch on a terminal, one line per epoch in a file or a pipe."""

from __future__ import annotations

import io
import sys

import pytest

from nnkit import layers
from nnkit.callbacks.progbar import is_terminal
from nnkit.models import Sequential


class Stream(io.StringIO):
    """Standard output that is, or is not, a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_verbose_1_draws_bars_only_on_a_terminal(regression, monkeypatch, tty):
    x, y = regression
    model = Sequential([layers.Input((4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    out = Stream(tty)
    monkeypatch.setattr(sys, "stdout", out)
    model.fit(x, y, epochs=3, batch_size=16, verbose=1)
    text = out.getvalue()
    assert [line for line in text.splitlines() if line.startswith("Epoch ")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    if tty:
        assert "\r" in text and "|" in text  # tqdm redraws its bar in place
    else:
        lines = text.splitlines()
        assert "\r" not in text and len(lines) == 6  # "Epoch i/3" and one line of logs per epoch, like verbose=2
        assert all(line.startswith("4/4 - ") and "loss: " in line for line in lines[1::2])


def test_is_terminal_is_false_for_closed_or_plain_streams():
    closed = io.StringIO()
    closed.close()  # isatty() raises ValueError
    assert not is_terminal(closed) and not is_terminal(object()) and is_terminal(Stream(True))
