"""Data-parallel training launched by torchrun: two CPU processes (gloo) train like one process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnkit.models import load_model

SCRIPT = Path(__file__).with_name("train_script.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SCRIPT.parents[2])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", str(SCRIPT), str(outdir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return outdir, [json.loads((outdir / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_every_rank_ends_with_the_same_weights_and_logs(two_ranks):
    _, (first, second) = two_ranks
    assert first["world_size"] == second["world_size"] == 2
    for a, b in zip(first["weights"], second["weights"], strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert first["history"] == second["history"]
    assert first["evaluation"] == second["evaluation"]


def test_two_processes_train_like_one_process_on_the_whole_batch(two_ranks, tmp_path):
    """Each rank computes half of every batch; averaged gradients equal the whole batch's gradient,
    and the logged loss and metrics are those of all samples, not of one rank's half."""
    from tests.distributed import train_script

    _, (first, _) = two_ranks
    _, history = train_script.train(tmp_path, shuffle=False)
    for key in history:
        np.testing.assert_allclose(first["history"][key], history[key], rtol=1e-5, err_msg=key)
    assert sorted(first["history"]) == sorted(history)


def test_rank_zero_alone_writes_the_log_and_the_checkpoint(two_ranks):
    outdir, _ = two_ranks
    rows = (outdir / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3  # a header and one row per epoch, not two
    saved = load_model(outdir / "model.keras")
    x = np.ones((4, 6), dtype="float32")
    assert saved.predict(x, verbose=0).shape == (4, 3)
    assert not list(outdir.glob(".*.tmp"))


def test_train_on_batch_joins_the_group_and_averages_the_whole_batch(two_ranks):
    from tests.distributed import train_script

    _, (first, second) = two_ranks
    assert first["one_batch"] == second["one_batch"]
    for ours, alone in zip(first["one_batch"], train_script.one_batch(), strict=True):
        np.testing.assert_allclose(np.array(ours), np.array(alone), rtol=1e-5, atol=1e-7)


def test_a_nan_on_one_rank_stops_every_rank_at_that_batch(two_ranks):
    """Without agreement the ranks would leave DDP's collectives out of step and hang."""
    from tests.distributed import train_script

    _, (first, second) = two_ranks
    assert first["nan"]["batches"] == second["nan"]["batches"] == [0, 1, 2]
    assert first["nan"]["weights"] == second["nan"]["weights"]
    alone = train_script.nan_on_one_rank()  # one process sees the NaN itself, at the same batch
    assert alone["batches"] == [0, 1, 2]
    for ours, theirs in zip(first["nan"]["weights"], alone["weights"], strict=True):
        np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-5, atol=1e-7)


def test_a_frozen_model_evaluates_like_one_process(two_ranks):
    from tests.distributed import train_script

    _, (first, second) = two_ranks
    assert first["frozen"] == second["frozen"]
    alone = train_script.frozen_evaluation()
    for key, value in alone.items():
        np.testing.assert_allclose(first["frozen"][key], value, rtol=1e-6, err_msg=key)


def test_streams_and_user_loaders_are_split_per_batch_like_arrays(two_ranks):
    from tests.distributed import train_script

    _, (first, second) = two_ranks
    assert first["streamed"] == second["streamed"]
    alone = train_script.streamed()
    for name in ("stream", "loader"):
        assert alone[name]["rows"] == 2 * 192  # two epochs
        assert first["streamed"][name]["rows"] == 192  # each rank computes on half of every batch
        for key, values in alone[name]["history"].items():
            np.testing.assert_allclose(first["streamed"][name]["history"][key], values, rtol=1e-5,
                                       err_msg=f"{name} {key}")


def test_a_backup_written_by_rank_zero_resumes_on_every_rank(two_ranks):
    outdir, (first, second) = two_ranks
    assert first["resumed"]["epochs"] == second["resumed"]["epochs"] == [[0, 1], [2]]
    assert first["resumed"]["weights"] == second["resumed"]["weights"]
    assert not first["resumed"]["backup_left"]
    rows = (outdir / "resumed.csv").read_text().strip().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1", "2"]


def test_a_functional_model_of_two_inputs_and_outputs_trains_like_one_process(two_ranks):
    from tests.distributed import train_script

    _, (first, second) = two_ranks
    alone = train_script.two_outputs()
    assert first["two_outputs"]["history"] == second["two_outputs"]["history"]
    assert sorted(first["two_outputs"]["history"]) == sorted(alone["history"])
    for key, values in alone["history"].items():
        np.testing.assert_allclose(first["two_outputs"]["history"][key], values, rtol=1e-5, err_msg=key)
    for ours, theirs in zip(first["two_outputs"]["weights"], alone["weights"], strict=True):
        np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-5, atol=1e-6)
