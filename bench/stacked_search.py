"""Searches that train candidates together: ``nnkit.model_selection`` against its baselines, as speedups
(baseline seconds / stacked seconds, higher is better).

Workloads (nnkit ``KerasClassifier(random_state=0)``, 10 one-hot classes, the refit included everywhere):

- ``seed_grid``: the seed program's ``create_model`` (Dense 64 relu with an L2 kernel penalty, Dense 10
  softmax, Adam at 0.01) and grid, ``batch_size`` [16, 32, 64] x ``epochs`` [5, 10, 15] x ``l2`` [0, 0.01,
  0.1], cv=3, on 1,000 x 20 random rows. Baselines: a hand-written sequential PyTorch loop doing the same
  81 fits (the same folds, a fresh shuffle per epoch, held-out accuracy, the best candidate refit on all
  rows), and scikit-learn's ``GridSearchCV`` on the same estimator (nnkit one by one). The stacked search
  must give the one-by-one search's ``mean_test_score`` (the largest difference is printed). Bar: at least
  5x the hand loop (aim 10x).
- ``random_search``: ``RandomizedSearchCV`` of 60 candidates over ``learning_rate`` loguniform(1e-4, 1e-1),
  ``l2`` loguniform(1e-5, 1e-1), ``dropout`` uniform(0, 0.5) (the MLP with a Dropout after the hidden
  layer), 5 epochs, batch 32, cv=3, on ``make_classification``'s 30,000 x 20 rows; against scikit-learn's
  search one by one. Bar: at least 5x. Run once (the one-by-one side takes minutes).
- ``sweep``: one ``RandomizedSearchCV`` of 64 candidates (learning rate and L2, no dropout), cv=2 on 4,000
  rows (128 fits of one fold size, all groupable), 3 epochs, with ``stack_size`` k = 1, 2, 4, ..., 64
  runs per stack, against the same search one by one. Each point runs in a fresh process (``--sweep-point
  k``, or ``one-by-one`` for the baseline) that reports its time and the peak memory the search added
  (the peak resident memory during it, ``VmHWM`` reset right before it, minus the resident memory then).

One torch thread everywhere; every process warms up (a small search of each kind) before timing. The
seed grid runs ``--repeats`` rounds, alternating baselines-first and stacked-first; its figures are medians
(the speedup is the median of the rounds' ratios). Writes ``bench/stacked_search.json``,
``bench/stacked_search.png`` (speedup and memory against k) and the marked block of bench/README.md
(``make bench`` runs it; ``--quick`` is a smoke run of a couple of minutes that writes nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import loguniform, uniform
from sklearn import model_selection as sk
from sklearn.datasets import make_classification
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from grid_search import create_model

import nnkit
from nnkit import model_selection as stacked
from nnkit.layers import Dense, Dropout
from nnkit.models import Sequential
from nnkit.optimizers import Adam
from nnkit.regularizers import L2
from nnkit.wrappers import KerasClassifier

HERE = Path(__file__).resolve().parent
START, END = "<!-- stacked-search:start -->", "<!-- stacked-search:end -->"
HAND_BAR, HAND_AIM, RANDOM_BAR = 5.0, 10.0, 5.0
ONE_BY_ONE = "one-by-one"


def create_dropout_model(learning_rate: float = 0.01, l2: float = 0.0, dropout: float = 0.0) -> Sequential:
    """The seed program's MLP with ``Dropout(dropout)`` after the hidden layer."""
    model = Sequential()
    model.add(Dense(64, activation="relu", input_dim=20, kernel_regularizer=L2(l2)))
    model.add(Dropout(dropout))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=Adam(learning_rate=learning_rate), metrics=["accuracy"])
    return model


def setup() -> None:
    torch.set_num_threads(1)
    nnkit.config.set_device("cpu")


def seed_data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((rows, 20)).astype("float32")
    return x, nnkit.utils.to_categorical(rng.integers(10, size=(rows, 1)), num_classes=10)


def tabular_data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    x, labels = make_classification(n_samples=rows, n_features=20, n_informative=10, n_classes=10, random_state=0)
    return x.astype("float32"), nnkit.utils.to_categorical(labels, num_classes=10)


def hand_search(x_np: np.ndarray, y_np: np.ndarray, grid: dict[str, list]) -> tuple[float, dict[str, Any]]:
    """The seed grid search as a competent PyTorch user writes it: (best mean accuracy, best parameters)."""
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np.astype("float32"))
    folds = [(x[train], y[train], x[test], y[test].argmax(1))
             for train, test in sk.check_cv(3, y_np, classifier=True).split(x_np, y_np)]

    def fit(x_train: torch.Tensor, y_train: torch.Tensor, batch_size: int, epochs: int, l2: float) -> nn.Module:
        net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-7)
        kernel, rows = net[0].weight, len(x_train)
        for _ in range(epochs):
            order = torch.randperm(rows)
            for start in range(0, rows, batch_size):
                batch = order[start:start + batch_size]
                loss = F.cross_entropy(net(x_train[batch]), y_train[batch])
                if l2:
                    loss = loss + l2 * (kernel**2).sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return net

    scores = []
    candidates = list(sk.ParameterGrid(grid))
    for params in candidates:
        accuracies = []
        for x_train, y_train, x_test, label_test in folds:
            net = fit(x_train, y_train, **params)
            with torch.no_grad():
                accuracies.append((net(x_test).argmax(1) == label_test).float().mean().item())
        scores.append(sum(accuracies) / len(accuracies))
    best = int(np.argmax(scores))
    fit(x, y, **candidates[best])
    return scores[best], candidates[best]


def timed_search(search: Any, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Fit ``search`` (quietly); its seconds, scores and, for a stacked search, how many fits it stacked."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        start = time.perf_counter()
        search.fit(x, y)
        seconds = time.perf_counter() - start
    said = re.findall(r"Stacked training: (\d+) of (\d+) fits", out.getvalue())
    return {"seconds": seconds, "scores": np.asarray(search.cv_results_["mean_test_score"]),
            "stacked_fits": sum(int(a) for a, _ in said), "fits": sum(int(b) for _, b in said),
            "message": next((line for line in out.getvalue().splitlines() if "Stacked" in line), "")}


def searches(kind: str, estimator: Any, space: dict[str, Any], **options: Any) -> tuple[Any, Any]:
    """scikit-learn's search (one by one) and nnkit's (stacked) of ``kind``, with the same arguments."""
    return (getattr(sk, kind)(estimator, space, **options),
            getattr(stacked, kind)(estimator, space, verbose=1, **options))


def seed_grid(quick: bool, repeats: int) -> dict[str, Any]:
    x, y = seed_data(300 if quick else 1000)
    grid = {"batch_size": [16, 32, 64], "epochs": [1, 2, 3] if quick else [5, 10, 15], "l2": [0.0, 0.01, 0.1]}
    estimator = KerasClassifier(build_fn=create_model, verbose=0, random_state=0)
    small = {key: values[:1] for key, values in grid.items()}
    hand_search(x[:96], y[:96], small)  # warm-up: each side once, on 96 rows
    for search in searches("GridSearchCV", estimator, small, cv=3):
        timed_search(search, x[:96], y[:96])

    def run(name: str) -> dict[str, Any]:
        if name == "hand":
            start = time.perf_counter()
            best, _ = hand_search(x, y, grid)
            return {"seconds": time.perf_counter() - start, "best_score": best}
        one_by_one, together = searches("GridSearchCV", estimator, grid, cv=3)
        return timed_search(one_by_one if name == ONE_BY_ONE else together, x, y)

    times: dict[str, list[float]] = {"hand": [], ONE_BY_ONE: [], "stacked": []}
    last: dict[str, dict[str, Any]] = {}
    for round_ in range(repeats):
        for name in ("hand", ONE_BY_ONE, "stacked") if round_ % 2 == 0 else ("stacked", ONE_BY_ONE, "hand"):
            last[name] = run(name)
            times[name].append(last[name]["seconds"])
    ours = last["stacked"]
    return {"rows": len(x), "grid": grid, "rounds": repeats, "times": times,
            "seconds": {name: statistics.median(values) for name, values in times.items()},
            "speedup": {base: statistics.median(b / s for b, s in zip(times[base], times["stacked"]))
                        for base in ("hand", ONE_BY_ONE)},
            "max_score_diff": float(np.max(np.abs(ours["scores"] - last[ONE_BY_ONE]["scores"]))),
            "hand_best_score": last["hand"]["best_score"], "stacked_fits": ours["stacked_fits"],
            "fits": ours["fits"], "message": ours["message"]}


def random_search(quick: bool) -> dict[str, Any]:
    rows, n_iter, epochs = (3000, 6, 1) if quick else (30000, 60, 5)
    x, y = tabular_data(rows)
    space = {"learning_rate": loguniform(1e-4, 1e-1), "l2": loguniform(1e-5, 1e-1), "dropout": uniform(0, 0.5)}
    estimator = KerasClassifier(build_fn=create_dropout_model, epochs=epochs, batch_size=32, verbose=0, random_state=0)
    for search in searches("RandomizedSearchCV", estimator, space, n_iter=2, cv=3, random_state=0):
        timed_search(search, x[:96], y[:96])  # warm-up
    one_by_one, together = searches("RandomizedSearchCV", estimator, space, n_iter=n_iter, cv=3, random_state=0)
    theirs, ours = timed_search(one_by_one, x, y), timed_search(together, x, y)
    return {"rows": rows, "candidates": n_iter, "epochs": epochs,
            "seconds": {ONE_BY_ONE: theirs["seconds"], "stacked": ours["seconds"]},
            "speedup": {ONE_BY_ONE: theirs["seconds"] / ours["seconds"]},
            "max_score_diff": float(np.max(np.abs(ours["scores"] - theirs["scores"]))),
            "stacked_fits": ours["stacked_fits"], "fits": ours["fits"], "message": ours["message"]}


def sweep_plan(quick: bool) -> tuple[list[int], int, int]:
    """Runs per stack, candidates, epochs."""
    return ([1, 4, 16], 16, 1) if quick else ([1, 2, 4, 8, 16, 32, 64], 64, 3)


def resident_kb(field: str = "VmRSS") -> int:
    """This process's resident memory (``VmRSS``) or its peak since the last reset (``VmHWM``), in KiB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1))


def reset_peak() -> None:
    """Start the peak (``VmHWM``) afresh from the current resident memory (Linux: ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def sweep_point(point: str, quick: bool) -> None:
    """One point of the sweep in this (fresh) process; prints its figures as JSON on the last line."""
    _, n_iter, epochs = sweep_plan(quick)
    x, y = tabular_data(4000)
    space = {"learning_rate": loguniform(1e-4, 1e-1), "l2": loguniform(1e-5, 1e-1)}

    def search(candidates: int, epochs: int) -> Any:
        estimator = KerasClassifier(build_fn=create_model, epochs=epochs, batch_size=32, verbose=0, random_state=0)
        options = {"n_iter": candidates, "cv": 2, "random_state": 0}
        if point == ONE_BY_ONE:
            return sk.RandomizedSearchCV(estimator, space, **options)
        return stacked.RandomizedSearchCV(estimator, space, verbose=1, stack_size=int(point), **options)

    timed_search(search(2, 1), x[:96], y[:96])  # warm-up
    reset_peak()  # the imports and the warm-up leave a peak of their own
    before = resident_kb()
    result = timed_search(search(n_iter, epochs), x, y)
    peak = resident_kb("VmHWM")
    print(json.dumps({"point": point, "seconds": result["seconds"], "peak_added_mb": max(0, peak - before) / 1024,
                      "peak_mb": peak / 1024, "stacked_fits": result["stacked_fits"], "fits": result["fits"],
                      "message": result["message"], "scores": result["scores"].tolist()}))


def sweep(quick: bool) -> dict[str, Any]:
    sizes, n_iter, epochs = sweep_plan(quick)
    points = {}
    for point in [ONE_BY_ONE, *map(str, sizes)]:
        command = [sys.executable, __file__, "--sweep-point", point, *(["--quick"] if quick else [])]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode:
            raise SystemExit(f"sweep point {point} failed:\n{done.stderr}")
        points[point] = json.loads(done.stdout.strip().splitlines()[-1])
    seconds, scores = points[ONE_BY_ONE]["seconds"], points[ONE_BY_ONE]["scores"]
    for point in points.values():
        point["speedup"] = seconds / point["seconds"]
        point["max_score_diff"] = float(np.max(np.abs(np.subtract(point.pop("scores"), scores))))
    return {"rows": 4000, "candidates": n_iter, "epochs": epochs, "points": points}


def epochs_text(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def bars(results: dict[str, Any]) -> list[str]:
    def verdict(value: float, bar: float) -> str:
        if results["quick"]:  # shrunk workloads: the bars are for the full run
            return "not judged (smoke run)"
        return "met" if value >= bar else "**missed**"

    grid, rand = results["seed_grid"]["speedup"], results["random_search"]["speedup"][ONE_BY_ONE]
    return [f"- stacked seed grid at least {HAND_BAR:.0f}x faster than the hand loop (aim {HAND_AIM:.0f}x): "
            f"{grid['hand']:.1f}x, {verdict(grid['hand'], HAND_BAR)}"
            + (", aim met" if grid["hand"] >= HAND_AIM else ""),
            f"- stacked random search at least {RANDOM_BAR:.0f}x faster than one by one: {rand:.1f}x, "
            f"{verdict(rand, RANDOM_BAR)}"]


def markdown(results: dict[str, Any]) -> str:
    grid, rand, sweep_ = results["seed_grid"], results["random_search"], results["sweep"]
    lines = [f"{results['measured']}, torch {results['torch']}, 1 torch thread, {results['load']}. "
             f"Seed grid: median of {grid['rounds']} round{'s' if grid['rounds'] > 1 else ''}; the rest: one run."
             + (" Smoke run (`--quick`): shrunk workloads, so the bars do not apply." if results["quick"] else ""),
             "",
             "| workload | baseline | baseline (s) | stacked (s) | speedup | fits stacked | max score diff |",
             "|---|---|---:|---:|---:|---:|---:|"]
    seed = f"seed grid, 27 candidates x 3 folds + refit, {grid['rows']:,} rows"
    fits = f"{grid['stacked_fits']} of {grid['fits']}"
    seconds = grid["seconds"]
    lines.append(f"| {seed} | hand-written PyTorch loop | {seconds['hand']:.1f} | {seconds['stacked']:.1f} "
                 f"| **{grid['speedup']['hand']:.1f}x** | {fits} | |")
    lines.append(f"| {seed} | nnkit one by one | {seconds[ONE_BY_ONE]:.1f} | {seconds['stacked']:.1f} "
                 f"| **{grid['speedup'][ONE_BY_ONE]:.1f}x** | {fits} | {grid['max_score_diff']:.1e} |")
    lines.append(f"| random search, {rand['candidates']} candidates x 3 folds + refit, dropout, {rand['rows']:,} rows, "
                 f"{epochs_text(rand['epochs'])} | nnkit one by one | {rand['seconds'][ONE_BY_ONE]:.1f} "
                 f"| {rand['seconds']['stacked']:.1f} | **{rand['speedup'][ONE_BY_ONE]:.1f}x** "
                 f"| {rand['stacked_fits']} of {rand['fits']} | {rand['max_score_diff']:.1e} |")
    lines += ["", f"Runs per stack (`stack_size`), random search of {sweep_['candidates']} candidates x 2 folds "
              f"+ refit, {sweep_['rows']:,} rows, {epochs_text(sweep_['epochs'])}; each point a fresh process:", "",
              "| runs per stack | seconds | speedup | peak memory added (MB) | fits stacked | max score diff |",
              "|---|---:|---:|---:|---:|---:|"]
    for point, p in sweep_["points"].items():
        name, stacked_, diff = "one by one (scikit-learn)", "", ""
        if point != ONE_BY_ONE:
            name, stacked_, diff = point, f"{p['stacked_fits']} of {p['fits']}", f"{p['max_score_diff']:.1e}"
        lines.append(f"| {name} | {p['seconds']:.1f} | {p['speedup']:.1f}x | {p['peak_added_mb']:.1f} | {stacked_} "
                     f"| {diff} |")
    return "\n".join([*lines, "", "Bars:", "", *bars(results), "", "![Speedup and memory against runs per stack]"
                      "(stacked_search.png)"])


def plot(sweep_: dict[str, Any], path: Path) -> None:
    """Speedup over one by one against runs per stack (log2 axis), and the peak memory each search added."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not importable: no plot (pip install -e '.[dev,bench]')")
        return
    from nnkit.utils import save_figure

    points = {int(k): p for k, p in sweep_["points"].items() if k != ONE_BY_ONE}
    sizes = sorted(points)
    figure = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    ax.plot(sizes, [points[k]["speedup"] for k in sizes], "o-", color="#1f77b4", label="speedup over one by one")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.set_xlabel("runs per stack (stack_size)")
    ax.set_ylabel("speedup (one-by-one time / stacked time)", color="#1f77b4")
    memory = ax.twinx()
    memory.plot(sizes, [points[k]["peak_added_mb"] for k in sizes], "s--", color="#d62728", label="peak memory added")
    memory.axhline(sweep_["points"][ONE_BY_ONE]["peak_added_mb"], color="#d62728", linewidth=0.8, linestyle=":",
                   label="one by one: peak memory added")
    memory.set_ylabel("peak memory the search added (MB)", color="#d62728")
    memory.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + memory.get_legend_handles_labels()[0]
    figure.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=3)
    ax.set_title(f"{sweep_['candidates']} candidates x 2 folds, {sweep_['rows']:,} rows, "
                 f"{epochs_text(sweep_['epochs'])} (CPU, 1 thread)", fontsize=10)
    ax.grid(which="both", alpha=0.3)
    save_figure(figure, path, dpi=110)


def write_readme(text: str) -> None:
    readme = HERE / "README.md"
    content = readme.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"{readme} lacks the markers {START} / {END} around the stacked-search results.")
    head, rest = content.split(START, 1)
    readme.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a couple of minutes that writes nothing")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the seed grid (medians)")
    parser.add_argument("--sweep-point", help=f"internal: time one point of the sweep (k or {ONE_BY_ONE})")
    args = parser.parse_args(argv)
    setup()
    if args.sweep_point:
        sweep_point(args.sweep_point, args.quick)
        return
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"seed_grid": seed_grid(args.quick, 1 if args.quick else args.repeats),
                               "random_search": random_search(args.quick), "sweep": sweep(args.quick)}
    results.update(measured=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), torch=torch.__version__,
                   threads=1, quick=args.quick,
                   load=f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on "
                        f"{os.cpu_count()} cores")
    text = markdown(results)
    print(text)
    for name, part in results.items():
        if isinstance(part, dict) and part.get("message"):
            print(f"{name}: {part['message']}")
    if args.quick:
        return
    (HERE / "stacked_search.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results["sweep"], HERE / "stacked_search.png")
    write_readme(text)


if __name__ == "__main__":
    sys.exit(main())
