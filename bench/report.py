"""Tables and the plot from ``bench/results.json``: the README's results section and ``bench/ratios.png``.

Run: ``python bench/report.py`` (regenerates both from the results file without measuring again).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
START, END = "<!-- bench-results:start -->", "<!-- bench-results:end -->"
NAMES = {"hand": "hand loop", "nnkit": "nnkit", "keras": "Keras 3 (torch)", "skorch": "skorch",
         "skorch_defaults": "skorch (its defaults)", "lightning": "Lightning"}
SHORT = {"seed_mlp": "seed MLP", "mnist_mlp": "MNIST-sized MLP", "cnn": "CNN", "lstm": "LSTM",
         "grid_search": "grid search"}
COLOURS = {"hand": "#7f7f7f", "nnkit": "#1f77b4", "keras": "#d62728", "skorch": "#ff7f0e",
           "skorch_defaults": "#ffbb78", "lightning": "#9467bd"}
NNKIT_BAR, SKORCH_BAR, KERAS_BAR, IMPORT_BAR = 1.10, 3.5, 5.0, 0.3
CONTENDED = 0.3  # as in suite.py


def _ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if "error" not in r]


def summarize(results: dict) -> dict[str, dict[str, dict]]:
    """Per workload and framework: median seconds, median ratio to the hand loop, peak memory, runs.

    The ratio is the median over rounds of ``framework seconds / hand-loop seconds`` in the same round
    (paired, so a round slowed down by the machine counts against both).
    """
    table: dict[str, dict[str, dict]] = {}
    for key, by_framework in results["workloads"].items():
        hand = by_framework.get("hand", [])
        table[key] = {}
        for framework, runs in by_framework.items():
            good = _ok(runs)
            if not good:
                errors = [r["error"] for r in runs if "error" in r]
                table[key][framework] = {"error": errors[0] if errors else "not run"}
                continue
            ratios = [r["seconds"] / h["seconds"] for r, h in zip(runs, hand) if "error" not in r and "error" not in h]
            table[key][framework] = {
                "seconds": statistics.median(r["seconds"] for r in good),
                "ratio": statistics.median(ratios) if ratios else None,
                "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in good),
                "fit_growth_mb": statistics.median(max(0.0, r["peak_rss_mb"] - r["rss_before_mb"]) for r in good),
                "warmup_s": statistics.median(r["warmup_s"] for r in good),
                "runs": len(good), "failed": len(runs) - len(good),
                "loss": statistics.median(r["loss"] for r in good) if "loss" in good[0] else None,
                "best_score": statistics.median(r["best_score"] for r in good) if "best_score" in good[0] else None,
            }
    return table


def import_summary(results: dict) -> dict[str, dict]:
    summary = {}
    for framework, runs in results.get("imports", {}).items():
        good = _ok(runs)
        if good:
            summary[framework] = {key: statistics.median(r[key] for r in good)
                                  for key in ("torch_s", "import_s", "first_optimizer_s", "peak_rss_mb")}
            summary[framework]["total_s"] = statistics.median(r["torch_s"] + r["import_s"] for r in good)
    return summary


def disturbed(results: dict) -> str:
    """How many timed calls ran while other processes competed for the cores (after the suite's retries)."""
    runs = [r for by_fw in results["workloads"].values() for rs in by_fw.values() for r in _ok(rs)]
    busy = [r for r in runs if r.get("contention", 0.0) >= CONTENDED]
    retried = sum(r.get("attempts", 1) - 1 for r in runs)
    return (f"{len(busy)} of {len(runs)} timed calls ran while other processes kept at least {CONTENDED} threads "
            f"runnable on average ({retried} re-measurements to avoid that)")


def _seconds(s: float) -> str:
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def _cell(entry: dict | None, framework: str) -> str:
    if entry is None:
        return "n/a"
    if "error" in entry:
        return f"failed: {entry['error'][:60]}"
    if framework == "hand" or entry["ratio"] is None:
        return _seconds(entry["seconds"])
    ratio = f"{entry['ratio']:.2f}x"
    return f"**{ratio}** ({_seconds(entry['seconds'])})" if framework == "nnkit" else f"{ratio} ({_seconds(entry['seconds'])})"


def _title(results: dict, key: str) -> str:
    return results.get("meta", {}).get("titles", {}).get(key, key)


def markdown(results: dict) -> str:
    """The results section of the README: speed, memory, imports, and the issue's bars."""
    table, imports = summarize(results), import_summary(results)
    frameworks = list(NAMES)
    meta = results.get("meta", {})
    versions = meta.get("versions", {})
    lines = [
        f"Measured {meta.get('date', '?')} on {meta.get('machine', '?')}, CPU, torch {versions.get('torch', '?')}, "
        f"{meta.get('threads', '?')} torch thread(s) in every process. Each cell is the median of "
        f"{meta.get('repeats', '?')} interleaved runs ({meta.get('search_repeats', '?')} for the grid search), "
        f"each a fresh process whose figure is the fastest of its {meta.get('inner', '?')} timed fits "
        f"({meta.get('search_inner', '?')} for the grid search). Load average {meta.get('load_at_start', 0):.2f} at the start, "
        f"{meta.get('load_at_end', 0):.2f} at the end ({meta.get('minutes', 0):.0f} minutes); "
        f"{disturbed(results)}. nnkit at {meta.get('nnkit_source', '?')}. Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "torch") + ".",
        "",
        "Time of the training call, as a ratio to the hand loop's time in the same round (median; lower is "
        "faster), with the median seconds:",
        "",
        "| workload | " + " | ".join(NAMES[f] for f in frameworks) + " |",
        "|---|" + "---:|" * len(frameworks),
    ]
    for key, row in table.items():
        lines.append(f"| {_title(results, key)} | " + " | ".join(_cell(row.get(f), f) for f in frameworks) + " |")
    lines += _workload_table(
        "Peak memory of the measuring process (`ru_maxrss`, MB: interpreter, imports, data and training), with "
        "how much of it the timed call added on top of what the process held before it:", table,
        lambda e: f"{e['peak_rss_mb']:.0f} (+{e['fit_growth_mb']:.0f})")
    lines += _workload_table(
        "One-off cost of the first fit in a fresh process (the warm-up before the timed calls: a new model "
        "trained for one epoch of four batches, or a one-candidate search on 96 rows; median seconds). It "
        "includes creating the first `torch.optim` optimizer, which imports `torch._dynamo`; Keras and "
        "Lightning pay that inside their `import` instead:", table, lambda e: f"{e['warmup_s']:.2f}")
    lines += _workload_table(
        "Sanity check that every framework trained the same thing (median last-epoch mean loss; grid search: "
        "best mean cross-validated accuracy; random labels, so chance level):", table,
        lambda e: f"{e['loss'] if e['loss'] is not None else e['best_score']:.4f}")
    if imports:
        lines += ["", f"Import times (median of {meta.get('import_repeats', '?')} fresh processes each):", "",
                  "| import | total, fresh process (s) | on top of `import torch` (s) | first `torch.optim` "
                  "optimizer afterwards (s) | peak memory after (MB) |", "|---|---:|---:|---:|---:|"]
        for f, s in imports.items():
            name = "`import torch` alone" if f == "hand" else f"`import {f}`"
            top = "" if f == "hand" else f"{s['import_s']:.2f}"
            lines.append(f"| {name} | {s['total_s']:.2f} | {top} | {s['first_optimizer_s']:.2f} | "
                         f"{s['peak_rss_mb']:.0f} |")
    lines += ["", "Bars of the issue on this run:", ""] + [f"- {b}" for b in bars(table, imports)]
    return "\n".join(lines)


def _workload_table(caption: str, table: dict, cell: Callable[[dict], str]) -> list[str]:
    """A captioned table with a row per workload and a column per framework; ``cell`` formats one entry."""
    lines = ["", caption, "", "| workload | " + " | ".join(NAMES.values()) + " |", "|---|" + "---:|" * len(NAMES)]
    for key, row in table.items():
        entries = [row.get(f) for f in NAMES]
        cells = ["n/a" if e is None or "error" in e else cell(e) for e in entries]
        lines.append(f"| {SHORT.get(key, key)} | " + " | ".join(cells) + " |")
    return lines


def bars(table: dict, imports: dict) -> list[str]:
    """The issue's bars, each with its figure and whether this run met it."""
    out = []

    def verdict(met: bool) -> str:
        return "met" if met else "**missed**"

    for key, row in table.items():
        entry = row.get("nnkit", {})
        if entry.get("ratio") is not None:
            out.append(f"nnkit within {NNKIT_BAR:.2f}x of the hand loop, {SHORT.get(key, key)}: "
                       f"{entry['ratio']:.2f}x, {verdict(entry['ratio'] <= NNKIT_BAR)}")
    seed = table.get("seed_mlp", {})
    for rival, bar in (("skorch", SKORCH_BAR), ("skorch_defaults", SKORCH_BAR), ("keras", KERAS_BAR)):
        ours, theirs = seed.get("nnkit", {}), seed.get(rival, {})
        if ours.get("seconds") and theirs.get("seconds"):
            factor = theirs["seconds"] / ours["seconds"]
            out.append(f"nnkit at least {bar}x faster than {NAMES[rival]} on the seed MLP: {factor:.1f}x, "
                       f"{verdict(factor >= bar)}")
    if "nnkit" in imports:
        extra = imports["nnkit"]["import_s"]
        out.append(f"`import nnkit` under {IMPORT_BAR} s on top of `import torch`: {extra:.2f} s, "
                   f"{verdict(extra < IMPORT_BAR)}")
    return out


def plot(results: dict, path: Path) -> None:
    """Grouped bars: each framework's time ratio to the hand loop, per workload (log scale)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnkit.utils import save_figure

    table = summarize(results)
    keys = list(table)
    frameworks = list(NAMES)
    width = 0.8 / len(frameworks)
    figure = Figure(figsize=(10, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    for i, framework in enumerate(frameworks):
        xs, ys = [], []
        for j, key in enumerate(keys):
            entry = table[key].get(framework)
            if entry and entry.get("ratio"):
                xs.append(j + (i - (len(frameworks) - 1) / 2) * width)
                ys.append(entry["ratio"])
        bars_ = ax.bar(xs, ys, width, label=NAMES[framework], color=COLOURS[framework])
        ax.bar_label(bars_, labels=[f"{y:.2f}" if y < 2 else f"{y:.1f}" for y in ys], fontsize=7, padding=1)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(NNKIT_BAR, color="#1f77b4", linewidth=0.8, linestyle=":", label=f"nnkit bar ({NNKIT_BAR}x)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(keys)), [SHORT.get(k, k) for k in keys])
    ax.set_ylabel("time / hand-loop time (log scale)")
    meta = results.get("meta", {})
    ax.set_title(f"Training time relative to a hand-written PyTorch loop (CPU, {meta.get('threads', '?')} thread; "
                 "lower is faster)", fontsize=10)
    ax.legend(fontsize=8, ncols=3, loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    save_figure(figure, path, dpi=110)


def write(results: dict, readme: Path, png: Path) -> None:
    """Replace the README's results section (between the markers) and redraw the plot."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} lacks the markers {START} / {END} around the results section.")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{START}\n{markdown(results)}\n{END}{after}")
    plot(results, png)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    results = json.loads(path.read_text())
    write(results, HERE / "README.md", HERE / "ratios.png")
    print(markdown(results))


if __name__ == "__main__":
    main()
