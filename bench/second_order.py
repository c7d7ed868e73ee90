"""Second-order training of small networks: Levenberg-Marquardt against Adam, L-BFGS against scikit-learn.

Two regression workloads, each trained from the same initial weights by every method:

- ``sine``: the classic 1-10-1 tanh fit of ``sin(2 pi x) + 0.1 noise`` on 41 points of [-1, 1];
- ``diabetes``: scikit-learn's diabetes set (442 rows), features and target standardized, 10-32-1 tanh.

Adam (batch 32, the Keras default) runs a fixed budget of epochs at each learning rate of a small grid; the
best final training MSE is the target. Levenberg-Marquardt (full batch) then runs for as long as Adam took;
the figure is Adam's wall time over LM's time to the target (the bar: at least 10x), with LM's MSE at the
end (equal time). L-BFGS (``nnkit.optimizers.LBFGS``, full batch) and ``sklearn.neural_network.MLPRegressor(solver="lbfgs",
alpha=0)`` run the same iteration budget from the same weights; their MSE and time are side by side.

One torch thread (and one BLAS thread for NumPy); timings are medians over ``--repeats`` rounds, after a
warm-up fit. Writes ``bench/second_order.json`` and the table in bench/README.md (``make bench`` runs it after the
other scripts; ``--quick`` is a smoke run that writes nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import nnkit
from nnkit.callbacks import Callback
from nnkit.layers import Dense

HERE = Path(__file__).resolve().parent
START, END = "<!-- second-order:start -->", "<!-- second-order:end -->"
ADAM_RATES = (1e-3, 1e-2, 1e-1)


@dataclass
class Workload:
    name: str
    x: np.ndarray
    y: np.ndarray
    hidden: int
    adam_epochs: int
    lm_epochs: int
    lbfgs_iterations: int


def workloads(quick: bool) -> list[Workload]:
    rng = np.random.default_rng(0)
    x = np.linspace(-1.0, 1.0, 41, dtype="float32").reshape(-1, 1)
    y = (np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=x.shape)).astype("float32")
    from sklearn.datasets import load_diabetes

    features, target = load_diabetes(return_X_y=True)
    features = ((features - features.mean(0)) / features.std(0)).astype("float32")
    target = ((target - target.mean()) / target.std()).astype("float32").reshape(-1, 1)
    scale = 10 if quick else 1
    lm_epochs = 30 if quick else 10**6  # else LM runs for as long as Adam took
    return [Workload("sine", x, y, 10, 2000 // scale, lm_epochs, 400 // scale),
            Workload("diabetes", features, target, 32, 500 // scale, lm_epochs, 400 // scale)]


class Trace(Callback):
    """Wall time at the end of each epoch and the loss logged by it (the loss its step started from); stops
    training once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.start, self.times, self.losses = seconds, time.perf_counter(), [], []

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)
        self.losses.append(logs["loss"])
        if self.times[-1] >= self.seconds:
            self.model.stop_training = True


def model(w: Workload, seed: int, optimizer) -> nnkit.Sequential:
    nnkit.utils.set_random_seed(seed)
    net = nnkit.Sequential([nnkit.Input((w.x.shape[1],)), Dense(w.hidden, activation="tanh"), Dense(1)])
    net.compile(optimizer=optimizer, loss="mse")
    net.build((None, w.x.shape[1]))
    return net


def mse(net: nnkit.Sequential, w: Workload) -> float:
    return float(net.evaluate(w.x, w.y, batch_size=len(w.x), verbose=0))


def run_adam(w: Workload, seed: int, rate: float) -> tuple[float, float]:
    """(final training MSE, wall time of fit)."""
    net = model(w, seed, nnkit.optimizers.Adam(rate))
    start = time.perf_counter()
    net.fit(w.x, w.y, epochs=w.adam_epochs, batch_size=32, verbose=0)
    return mse(net, w), time.perf_counter() - start


def run_lm(w: Workload, seed: int, seconds: float) -> tuple[list[float], list[float], float]:
    """LM for ``seconds`` (at most ``w.lm_epochs`` epochs): (end time of each epoch, training MSE after it,
    final MSE)."""
    net = model(w, seed, "levenberg_marquardt")
    trace = Trace(seconds)
    net.fit(w.x, w.y, epochs=w.lm_epochs, verbose=0, callbacks=[trace])
    final = mse(net, w)
    return trace.times, [*trace.losses[1:], final], final


def run_lbfgs(w: Workload, seed: int) -> tuple[float, float, int]:
    """nnkit L-BFGS, 20 iterations an epoch: (MSE, time, iterations)."""
    net = model(w, seed, nnkit.optimizers.LBFGS(max_iter=20, max_eval=10**6))
    start = time.perf_counter()
    net.fit(w.x, w.y, epochs=max(1, w.lbfgs_iterations // 20), verbose=0)
    elapsed = time.perf_counter() - start
    iterations = net.optimizer.torch_optimizer.state[net.optimizer._params[0]]["n_iter"]
    return mse(net, w), elapsed, int(iterations)


def run_sklearn(w: Workload, seed: int) -> tuple[float, float, int]:
    """MLPRegressor(solver='lbfgs') from the nnkit network's initial weights: (MSE, time, iterations)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    kernel_1, bias_1, kernel_2, bias_2 = model(w, seed, "sgd").get_weights()
    mlp = MLPRegressor(hidden_layer_sizes=(w.hidden,), activation="tanh", solver="lbfgs", alpha=0.0, tol=0.0,
                       max_iter=1, max_fun=10**6, warm_start=True, random_state=0)
    x, y = w.x.astype("float64"), w.y.ravel().astype("float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, y)  # allocates the weights, then they are replaced by nnkit's
        mlp.coefs_ = [kernel_1.astype("float64"), kernel_2.astype("float64")]
        mlp.intercepts_ = [bias_1.astype("float64"), bias_2.astype("float64")]
        mlp.max_iter = w.lbfgs_iterations
        start = time.perf_counter()
        mlp.fit(x, y)
        elapsed = time.perf_counter() - start
    return float(np.mean((mlp.predict(x) - y) ** 2)), elapsed, int(mlp.n_iter_)


def warm_up(w: Workload) -> None:
    small = Workload(w.name, w.x[:8], w.y[:8], w.hidden, 2, 2, 20)
    run_adam(small, 0, 1e-3), run_lm(small, 0, 1.0), run_lbfgs(small, 0), run_sklearn(small, 0)


def measure(w: Workload, repeats: int, seed: int = 0) -> dict:
    warm_up(w)
    grid = {rate: run_adam(w, seed, rate) for rate in ADAM_RATES}
    best = min(grid, key=lambda rate: grid[rate][0])
    target = grid[best][0]
    adam_times, lm_times, lm_at_adam_time, lbfgs, sklearn = [grid[best][1]], [], [], [], []
    lm_epochs, lm_total_epochs = [], []
    for round_ in range(repeats):
        if round_:  # the grid's run is the first round's Adam time
            adam_times.append(run_adam(w, seed, best)[1])
        times, losses, lm_final = run_lm(w, seed, adam_times[-1])  # LM gets the time Adam took
        reached = next((i for i, loss in enumerate(losses) if loss <= target), None)
        lm_times.append(times[reached] if reached is not None else float("inf"))
        lm_epochs.append(reached + 1 if reached is not None else None)
        lm_at_adam_time.append(lm_final)
        lm_total_epochs.append(len(times))
        if round_ % 2:  # alternate which of the two runs first
            sklearn.append(run_sklearn(w, seed))
            lbfgs.append(run_lbfgs(w, seed))
        else:
            lbfgs.append(run_lbfgs(w, seed))
            sklearn.append(run_sklearn(w, seed))
    adam_time, lm_time = statistics.median(adam_times), statistics.median(lm_times)
    return {
        "workload": w.name, "samples": len(w.x), "network": f"{w.x.shape[1]}-{w.hidden}-1 tanh",
        "adam": {"grid_mse": {str(k): v[0] for k, v in grid.items()}, "best_learning_rate": best,
                 "epochs": w.adam_epochs, "batch_size": 32, "final_mse": target, "seconds": adam_time},
        "levenberg_marquardt": {"seconds_to_adam_mse": lm_time, "mse_at_adam_seconds": statistics.median(lm_at_adam_time),
                                "epochs_to_adam_mse": lm_epochs, "epochs_in_adam_seconds": lm_total_epochs},
        "speedup_to_adam_mse": adam_time / lm_time,
        "lbfgs": {"iteration_budget": w.lbfgs_iterations,
                  "nnkit": {"mse": lbfgs[-1][0], "seconds": statistics.median(r[1] for r in lbfgs),
                            "iterations": lbfgs[-1][2]},
                  "sklearn": {"mse": sklearn[-1][0], "seconds": statistics.median(r[1] for r in sklearn),
                              "iterations": sklearn[-1][2]}},
    }


def table(results: list[dict]) -> str:
    lines = ["| workload | Adam: best lr, final MSE, time | LM: time to Adam's MSE | LM vs Adam | LM MSE at Adam's time "
             "| L-BFGS nnkit: MSE, time | L-BFGS sklearn: MSE, time |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        adam, lm, lb = r["adam"], r["levenberg_marquardt"], r["lbfgs"]
        lines.append(
            f"| {r['workload']} ({r['network']}, {r['samples']} rows) | {adam['best_learning_rate']:g}, "
            f"{adam['final_mse']:.4g}, {adam['seconds']:.2f} s ({adam['epochs']} epochs) "
            f"| {lm['seconds_to_adam_mse']:.3f} s ({lm['epochs_to_adam_mse'][-1]} steps) "
            f"| **{r['speedup_to_adam_mse']:.0f}x** | {lm['mse_at_adam_seconds']:.3g} "
            f"| {lb['nnkit']['mse']:.4g}, {lb['nnkit']['seconds']:.2f} s ({lb['nnkit']['iterations']} it.) "
            f"| {lb['sklearn']['mse']:.4g}, {lb['sklearn']['seconds']:.2f} s ({lb['sklearn']['iterations']} it.) |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = HERE / "README.md"
    content = readme.read_text()
    if START in content and END in content:
        head, rest = content.split(START, 1)
        content = head + START + "\n" + text + "\n" + END + rest.split(END, 1)[1]
        readme.write_text(content)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds that writes nothing")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per workload (medians)")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency: NumPy's BLAS on one thread too

    torch.set_num_threads(1)
    nnkit.config.set_device("cpu")
    load_before = os.getloadavg()[0]
    with threadpool_limits(limits=1):
        results = [measure(w, 1 if args.quick else args.repeats) for w in workloads(args.quick)]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    text = (f"{when}, torch {torch.__version__}, 1 torch thread, {args.repeats} rounds (medians), {load}:\n\n"
            + table(results))
    print(text)
    if not args.quick:
        (HERE / "second_order.json").write_text(json.dumps(
            {"measured": when, "threads": 1, "rounds": args.repeats, "load": load, "results": results}, indent=2) + "\n")
        write_readme(text)


if __name__ == "__main__":
    sys.exit(main())
