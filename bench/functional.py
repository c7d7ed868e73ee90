"""The three ways of writing a Keras model against the hand-written loop: the seed MLP, the MNIST-sized MLP
and the CNN of the suite written with ``keras.Input`` / ``keras.Model`` (next to the same networks as
Sequential), the seed MLP as a ``Model`` subclass with its own ``call``, a model of two inputs and two outputs
against the equivalent hand-written torch module and loop, and the cost of calling a subclassed model eagerly
(``model(x)``) against calling the same torch modules directly.

Every measurement is a process of its own (``--child``), warmed up as ``measure.py`` does, timed over
``--inner`` fits of fresh models (fastest kept); rounds alternate the frameworks' order; the figure is the
median over rounds of each framework's time over the hand loop's. Writes ``bench/functional.json`` and
prints a table (``make bench`` runs it after the suite; ``--quick`` is a smoke run writing nothing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import workloads

HERE = Path(__file__).resolve().parent
SINGLE = ("seed_mlp", "mnist_mlp", "cnn")
TWO_IO = workloads.Workload("two_io", "two inputs (20 + 8 features) -> Dense 64 -> softmax 10 and linear 1 heads, "
                            "10,000 rows, batch 32, SGD, 3 epochs", "two_io", 10_000, (28,), (64,), 10, 32, 3, "sgd")
FRAMEWORKS = {"seed_mlp": ("hand", "sequential", "functional", "subclassed"),
              "mnist_mlp": ("hand", "sequential", "functional"),
              "cnn": ("hand", "sequential", "functional"), "two_io": ("hand", "functional")}


def functional_build(keras, w: workloads.Workload):
    """The suite's network written with the functional API (same layers, same weight order)."""
    layers = keras.layers
    inputs = keras.Input(shape=w.sample_shape)
    x = inputs
    if w.kind == "mlp":
        for units in w.hidden:
            x = layers.Dense(units, activation="relu")(x)
    else:
        for filters in w.hidden:
            x = layers.MaxPooling2D(2)(layers.Conv2D(filters, 3, activation="relu")(x))
        x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(w.classes, activation="softmax")(x))


def subclassed_build(keras, w: workloads.Workload):
    """The MLP as a ``Model`` subclass: layers made in ``__init__``, used in ``call``."""

    class MLP(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = [keras.layers.Dense(units, activation="relu") for units in w.hidden]
            self.out = keras.layers.Dense(w.classes, activation="softmax")

        def call(self, x, training=None):
            for layer in self.hidden:
                x = layer(x)
            return self.out(x)

    model = MLP()
    model.build((None, *w.sample_shape))
    return model


def eager_ratio(repeats: int = 3, calls: int = 3000) -> float:
    """``model(x)`` of the subclassed seed MLP over the same torch modules called directly (``softmax`` of
    ``nn.Sequential(Linear, ReLU, Linear)``) on a batch of 32, inference, best of ``repeats`` rounds each."""
    import torch

    import nnkit

    w = workloads.WORKLOADS["seed_mlp"]
    model = subclassed_build(nnkit, w)
    module = workloads.torch_module(w).eval()
    x = torch.randn(w.batch, *w.sample_shape)

    def timed(call: Callable[[], object]) -> float:
        with torch.no_grad():
            for _ in range(100):
                call()
            start = time.perf_counter()
            for _ in range(calls):
                call()
        return time.perf_counter() - start

    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(timed(lambda: model(x)))
        theirs.append(timed(lambda: torch.softmax(module(x), dim=-1)))
    return min(ours) / min(theirs)


def two_io_data(rows: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(workloads.SEED)
    x = [rng.random((rows, 20)), rng.random((rows, 8))]
    labels = rng.integers(10, size=rows)
    return x, [np.eye(10)[labels], rng.normal(size=(rows, 1))]


def two_io_weights() -> list[np.ndarray]:
    rng = np.random.default_rng(workloads.SEED + 1)
    glorot = workloads._glorot
    return [glorot(rng, (28, 64), 28, 64), np.zeros(64, np.float32), glorot(rng, (64, 10), 64, 10),
            np.zeros(10, np.float32), glorot(rng, (64, 1), 64, 1), np.zeros(1, np.float32)]


def nnkit_fitter(kind: str, w: workloads.Workload, rows: int, epochs: int) -> Callable[[], float]:
    import keras_program

    import nnkit

    if w.kind == "two_io":
        a, b = nnkit.Input(shape=(20,)), nnkit.Input(shape=(8,))
        hidden = nnkit.layers.Dense(64, activation="relu")(nnkit.layers.concatenate([a, b]))
        model = nnkit.Model([a, b], [nnkit.layers.Dense(10, activation="softmax")(hidden),
                                     nnkit.layers.Dense(1)(hidden)])
        model.set_weights(two_io_weights())
        model.compile(optimizer=nnkit.optimizers.SGD(workloads.SGD_LR), loss=["categorical_crossentropy", "mse"])
        x, y = two_io_data(rows)
    else:
        builders = {"sequential": keras_program.build, "functional": functional_build, "subclassed": subclassed_build}
        model = builders[kind](nnkit, w)
        model.set_weights(workloads.keras_weights(w))
        model.compile(loss="categorical_crossentropy", optimizer=keras_program.optimizer(nnkit, w))
        data = workloads.make_data(rows, w.sample_shape, w.classes)
        x, y = data.x, data.y
    return lambda: model.fit(x, y, epochs=epochs, batch_size=w.batch, verbose=0).history["loss"][-1]


def hand_fitter(w: workloads.Workload, rows: int, epochs: int) -> Callable[[], float]:
    import fw_hand
    import torch
    from torch import nn

    if w.kind != "two_io":
        data = workloads.make_data(rows, w.sample_shape, w.classes)
        model = workloads.torch_module(w, workloads.keras_weights(w))
        optimizer = workloads.torch_optimizer(w, model.parameters())
        return lambda: fw_hand.hand_loop(model, optimizer, data.x_torch, data.y, epochs, w.batch)

    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden, self.label, self.score = nn.Linear(28, 64), nn.Linear(64, 10), nn.Linear(64, 1)

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = torch.relu(self.hidden(torch.cat([a, b], dim=1)))
            return self.label(h), self.score(h)

    module = TwoHeads()
    with torch.no_grad():
        for param, value in zip([p for lin in (module.hidden, module.label, module.score)
                                 for p in (lin.weight, lin.bias)], two_io_weights()):
            param.copy_(torch.from_numpy(np.ascontiguousarray(value.T if value.ndim == 2 else value)))
    optimizer = torch.optim.SGD(module.parameters(), lr=workloads.SGD_LR)
    x, y = two_io_data(rows)

    def fit() -> float:
        a, b = (torch.as_tensor(v, dtype=torch.float32) for v in x)
        labels, scores = torch.as_tensor(y[0], dtype=torch.float32), torch.as_tensor(y[1], dtype=torch.float32)
        ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()
        module.train()
        for _ in range(epochs):
            order, losses = torch.randperm(rows), []
            for start in range(0, rows, w.batch):
                idx = order[start:start + w.batch]
                label_logits, score = module(a[idx], b[idx])
                loss = ce(label_logits, labels[idx]) + mse(score, scores[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.detach() * len(idx))
            epoch_loss = float(torch.stack(losses).sum() / rows)
        return epoch_loss

    return fit


def child(framework: str, key: str, inner: int, scale: float) -> None:
    import torch

    torch.set_num_threads(1)
    if key == "eager":
        print(json.dumps({"ratio": eager_ratio()}))
        return
    w = TWO_IO if key == "two_io" else workloads.WORKLOADS[key]
    rows, epochs = (max(w.batch * 4, int(w.rows * scale)), 1) if scale != 1.0 else (w.rows, w.epochs)

    def make(rows: int, epochs: int) -> Callable[[], float]:
        return hand_fitter(w, rows, epochs) if framework == "hand" else nnkit_fitter(framework, w, rows, epochs)

    make(4 * w.batch, 1)()  # warm-up: one-off costs of the process
    times = []
    for _ in range(inner):
        fit = make(rows, epochs)
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": min(times)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run on a tenth of the rows; writes nothing")
    parser.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"))
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    if args.child:
        child(*args.child, args.inner, scale)
        return
    rounds = 1 if args.quick else args.rounds
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "KERAS_BACKEND": "torch", "PYTHONWARNINGS": "ignore"}
    seconds: dict[str, dict[str, list[float]]] = {key: {fw: [] for fw in fws} for key, fws in FRAMEWORKS.items()}
    eager: list[float] = []
    for r in range(rounds):
        for key, frameworks in FRAMEWORKS.items():
            order = frameworks if r % 2 == 0 else tuple(reversed(frameworks))
            for fw in order:
                command = [sys.executable, __file__, "--child", fw, key, "--inner", str(args.inner)]
                command += ["--quick"] if args.quick else []
                out = subprocess.run(command, capture_output=True, text=True, check=True,
                                     env={**__import__("os").environ, **env})
                seconds[key][fw].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        command = [sys.executable, __file__, "--child", "subclassed", "eager"]
        out = subprocess.run(command, capture_output=True, text=True, check=True, env={**__import__("os").environ, **env})
        eager.append(json.loads(out.stdout.strip().splitlines()[-1])["ratio"])
        print(f"round {r + 1}/{rounds} done", flush=True)
    results = {key: {fw: {"seconds": statistics.median(times),
                          "ratio": statistics.median(t / h for t, h in zip(times, seconds[key]["hand"]))}
                     for fw, times in by_fw.items()} for key, by_fw in seconds.items()}
    lines = ["| Workload | hand loop (s) | nnkit Sequential | nnkit functional | nnkit subclassed |", "|---|---|---|---|---|"]
    for key, by_fw in results.items():
        cells = [f"{by_fw[fw]['ratio']:.2f}x" if fw in by_fw else "n/a" for fw in ("sequential", "functional",
                                                                                 "subclassed")]
        lines.append(f"| {key} | {by_fw['hand']['seconds']:.2f} | {' | '.join(cells)} |")
    lines.append(f"\nEager `model(x)` of the subclassed seed MLP over the same torch modules: "
                 f"{statistics.median(eager):.2f}x")
    print("\n".join(lines))
    if not args.quick:
        record = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": rounds, "inner": args.inner,
                  "threads": 1, "results": results, "eager_call_ratio": statistics.median(eager),
                  "eager_call_ratios": eager, "table": lines}
        (HERE / "functional.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
