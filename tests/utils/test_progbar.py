"""Progbar: Keras's running averages (Keras's own Progbar as the reference) drawn with tqdm."""

from __future__ import annotations

import pytest
import torch

from nnkit.errors import ConfigError
from nnkit.utils import Progbar

UPDATES = [  # (method, step argument, values): uneven steps, a stateful value, a new name midway
    ("update", 1, [("loss", 4.0), ("acc", 0.5)]),
    ("update", 4, [("loss", 1.0), ("acc", 0.7)]),
    ("add", 2, [("loss", 2.5), ("acc", 0.8), ("lr", 0.1)]),
    ("update", 7, [("lr", 0.05)]),
]


def _run(bar):
    for method, step, values in UPDATES:
        getattr(bar, method)(step, values)
    return bar


@pytest.mark.parametrize("kwargs", [{}, {"stateful_metrics": ["acc"]}, {"stateless_metrics": ["loss"]}])
def test_values_are_averaged_over_steps_like_keras(keras, kwargs):
    ours = _run(Progbar(10, verbose=0, **kwargs))
    theirs = _run(keras.utils.Progbar(10, verbose=0, **kwargs))
    assert ours._seen_so_far == theirs._seen_so_far == 7
    assert ours._values_order == theirs._values_order == ["loss", "acc", "lr"]
    for name in ours._values_order:
        assert ours._values[name] == pytest.approx(theirs._values[name])
        total, count = theirs._values[name]
        assert ours.average(name) == pytest.approx(total / count)


def test_loss_average_by_hand():
    bar = _run(Progbar(10, verbose=0))
    assert bar.average("loss") == pytest.approx((4.0 * 1 + 1.0 * 3 + 2.5 * 2) / 6)
    bar = _run(Progbar(10, verbose=0, stateful_metrics=["loss"]))
    assert bar.average("loss") == 2.5


def test_the_final_update_is_taken_as_the_overall_value_as_in_keras(keras):
    ours, theirs = Progbar(3, verbose=0), keras.utils.Progbar(3, verbose=0)
    for bar in (ours, theirs):
        bar.update(1, [("loss", torch.tensor(3.0))])
        bar.update(3, [("loss", 1.5)])  # current >= target: finalize
    assert ours._values == theirs._values == {"loss": [1.5, 1]}


def test_verbose_1_draws_a_tqdm_bar_and_2_prints_one_line(capsys):
    bar = Progbar(4, verbose=1, interval=0.0)
    for step in range(1, 5):
        bar.update(step, [("loss", 0.25 * step)])
    out = capsys.readouterr().out  # step 3 shows the average so far; the last update is the overall value
    assert "3/4" in out and "loss: 0.5000" in out and out.rstrip().endswith("loss: 1.0000")

    bar = Progbar(4, verbose=2, unit_name="sample")
    bar.update(2, [("loss", 1.0)])
    assert capsys.readouterr().out == ""
    bar.update(4, [("loss", 3.0)])
    line = capsys.readouterr().out
    assert line.startswith("4/4 - ") and "/sample - loss: 3.0000" in line and line.count("\n") == 1

    bar = Progbar(None, verbose=1)
    bar.add(3, [("loss", 1e-5)])
    bar.update(5, finalize=True)
    out = capsys.readouterr().out
    assert "5/Unknown" in out and "loss: 1.0000e-05" in out

    silent = Progbar(2, verbose=0)
    silent.update(2, [("loss", 1.0)])
    assert capsys.readouterr().out == "" and "Progbar(target=2, current=2" in repr(silent)


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])
    with pytest.raises(ConfigError, match=r"verbose must be 0, 1 or 2\. Received: verbose=3"):
        Progbar(3, verbose=3)
    with pytest.raises(KeyError, match="no value 'acc'"):
        Progbar(3, verbose=0).average("acc")
