"""Checkpoint files: nested state survives a round trip exactly, loading runs no code, and a writer killed
mid-write leaves the previous file intact."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnkit.utils import atomic
from nnkit.utils.rng_state import get_rng_state, set_rng_state
from nnkit.utils.state_file import dumps, load_state, loads, save_state

ROOT = Path(__file__).resolve().parents[2]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62), st.text(max_size=8),
                    st.floats(allow_nan=False), st.sampled_from([float("inf"), float("-inf")]))
arrays = st.builds(lambda shape, dtype: torch.arange(int(np.prod(shape))).reshape(shape).to(dtype),
                   st.lists(st.integers(0, 3), max_size=3), st.sampled_from([torch.float32, torch.float64,
                                                                             torch.int64, torch.uint8]))
states = st.recursive(
    st.one_of(scalars, arrays),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(st.text(max_size=6), st.integers(0, 9)), inner, max_size=3)),
    max_leaves=12,
)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=80, deadline=None)
@given(state=states)
def test_any_nested_state_round_trips_exactly(state):
    assert _same(loads(dumps({"root": state})), {"root": state})


def test_torch_optimizer_state_and_tagged_lookalikes_round_trip():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), betas=(0.8, 0.9))
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "tricky": {"__tensor__": "0"}, "array": np.arange(4.0),
             "nan": float("nan")}
    loaded = loads(dumps(state))
    assert list(loaded["optimizer"]["state"]) == [0, 1] and loaded["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert loaded["tricky"] == {"__tensor__": "0"} and isinstance(loaded["array"], np.ndarray)
    assert np.isnan(loaded["nan"])
    clone = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    clone.load_state_dict(loaded["optimizer"])
    assert torch.equal(clone.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def test_unsupported_values_are_named():
    with pytest.raises(TypeError, match=r"Cannot store state\['fn'\] \(a function\)"):
        dumps({"fn": lambda: None})


def test_other_safetensors_files_are_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match=r"safetensors file but not an nnkit state file.*tensors \['w'\]"):
        load_state(tmp_path / "plain.safetensors")


def test_rng_state_round_trips_through_a_file(tmp_path):
    save_state(tmp_path / "rng.safetensors", {"rng": get_rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(load_state(tmp_path / "rng.safetensors")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_atomic_write_keeps_permissions_and_cleans_up_on_error(tmp_path):
    path = tmp_path / "a.bin"
    atomic.atomic_write(path, b"one")
    os.chmod(path, 0o640)
    atomic.atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and (os.stat(path).st_mode & 0o777) == 0o640
    with pytest.raises(RuntimeError), atomic.atomic_open(path) as f:
        f.write(b"half")
        raise RuntimeError
    assert path.read_bytes() == b"two" and os.listdir(tmp_path) == ["a.bin"]


WRITER = """
import os, sys, time, torch
sys.path.insert(0, {root!r})
from nnkit.utils.state_file import save_state
path, marker, mode = sys.argv[1], sys.argv[2], sys.argv[3]
version = 0
def state(v):
    return {{"version": v, "data": torch.full((1 << 20,), float(v))}}
save_state(path, state(version))
open(marker, "w").close()
if mode == "block":  # stop for good after the bytes are written, before fsync and rename
    def blocked(fd):
        open(marker + ".blocked", "w").close()
        time.sleep(600)
    os.fsync = blocked
while True:
    version += 1
    save_state(path, state(version))
"""


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.01)


def _check_intact(path: Path) -> int:
    state = load_state(path)
    assert torch.equal(state["data"], torch.full((1 << 20,), float(state["version"])))
    return state["version"]


@pytest.mark.parametrize("mode", ["block", "loop"])
def test_a_writer_killed_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, mode):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    path, marker = tmp_path / "ckpt" / "state.safetensors", tmp_path / "started"
    process = subprocess.Popen([sys.executable, str(script), str(path), str(marker), mode],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if mode == "block":
            _wait_for(Path(str(marker) + ".blocked"), process)
        else:  # kill at an arbitrary moment of a loop that spends nearly all its time writing 4 MB files
            _wait_for(marker, process)
            time.sleep(0.3 + random.random() * 0.3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    version = _check_intact(path)
    if mode == "block":
        assert version == 0  # the interrupted write of version 1 never replaced it
        leftovers = [name for name in os.listdir(path.parent) if name.endswith(".tmp")]
        assert len(leftovers) == 1 and leftovers[0].startswith(".state.safetensors.")
    save_state(path, {"version": 99, "data": torch.full((1 << 20,), 99.0)})  # later writes still work
    assert _check_intact(path) == 99


def test_loading_never_unpickles(tmp_path):
    # A pickle payload dressed as a state file is rejected before anything could execute it.
    payload = b"cos\nsystem\n(S'echo hacked'\ntR."
    path = tmp_path / "evil.safetensors"
    path.write_bytes(len(json.dumps({})).to_bytes(8, "little") + b"{}" + payload)
    with pytest.raises(ValueError, match="nnkit state file"):
        load_state(path)
