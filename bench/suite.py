"""The side-by-side benchmark: the same models on the same data with a hand-written PyTorch loop, nnkit,
Keras 3 on the torch backend, skorch and PyTorch Lightning; the seed grid search with the scikit-learn
adapters; and import times. Writes ``bench/results.json``, then the README table and ``bench/ratios.png``.

Every measured run is a process of its own (``measure.py``), so imports and one-off costs are paid per
run and peak memory is per run. Runs are interleaved: each round runs every workload once with every
framework, the frameworks' order rotating from round to round. Every process pins torch to the same
number of threads (``--threads``, default 1) and runs on the CPU.

Run: ``python bench/suite.py`` (``make bench``); ``--quick`` for a smoke run that touches no committed file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import workloads

HERE = Path(__file__).resolve().parent
MEASURE = HERE / "measure.py"
FRAMEWORKS = ("hand", "nnkit", "keras", "skorch", "skorch_defaults", "lightning")
SEARCH_FRAMEWORKS = ("hand", "nnkit", "skorch", "keras")  # Lightning has no scikit-learn adapter
IMPORT_FRAMEWORKS = ("hand", "nnkit", "skorch", "lightning", "keras")  # "hand" = import torch alone
QUICK_SCALE = 0.1
CONTENDED = 0.3  # other runnable threads, on average, above which a run counts as disturbed


def load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_for_idle(max_load: float, max_wait: float, poll: float = 30.0) -> float:
    """Wait (up to ``max_wait`` seconds) until the 1-minute load average is below ``max_load``."""
    deadline = time.monotonic() + max_wait
    load = load_average()
    while load >= max_load and time.monotonic() < deadline:
        print(f"load average {load:.2f} >= {max_load}: waiting for an idle machine ...", flush=True)
        time.sleep(poll)
        load = load_average()
    return load


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"KERAS_BACKEND": "torch", "NNKIT_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "",
                "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"})
    return env


def runnable() -> int:
    """Threads that are running or ready to run on the whole machine right now, this one included."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[0])


def running_threads(pid: int) -> int:
    """Threads of process ``pid`` that are running or runnable (its own helper threads are not contention)."""
    count = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError):
            count += stat.read_text().rsplit(")", 1)[1].split()[0] == "R"
    return count


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (up to ``max_wait`` seconds) until, over two seconds, other processes keep less than
    ``threshold`` threads runnable on average; returns that average."""
    deadline = time.monotonic() + max_wait
    while True:
        samples = []
        for _ in range(10):
            samples.append(runnable() - 1)  # minus this process, which is running while it reads
            time.sleep(0.2)
        others = sum(samples) / len(samples)
        if others < threshold or time.monotonic() >= deadline:
            return others
        time.sleep(3)


def run_once(args: list[str], threads: int, timeout: float) -> dict:
    """Run ``measure.py args`` in a fresh interpreter and return its JSON line (or the error), with
    ``contention``: how many threads of other processes were runnable, on average, while the timed call ran
    (the run queue less this process and the child's own running threads)."""
    cmd = [sys.executable, str(MEASURE), *args, "--threads", str(threads)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=child_env(threads), cwd=HERE.parent)
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + timeout
        while child.poll() is None and time.monotonic() < deadline:
            samples.append((time.time(), max(0, runnable() - 1 - running_threads(child.pid))))
            time.sleep(0.1)
        if child.poll() is None:
            child.kill()
            child.wait()
            return {"error": f"timed out after {timeout:.0f} s"}
        out.seek(0)
        err.seek(0)
        lines, errors = out.read().strip().splitlines(), err.read().strip().splitlines()
    if child.returncode != 0 or not lines:
        return {"error": (errors or ["no output"])[-1]}
    result = json.loads(lines[-1])
    start, end = result.pop("window", (0.0, float("inf")))
    inside = [n for t, n in samples if start <= t <= end] or [n for _, n in samples] or [0]
    result["contention"] = sum(inside) / len(inside)
    return result


def run_child(args: list[str], opts: argparse.Namespace, timeout: float = 1800.0) -> dict:
    """Measure once when the machine is quiet; measure again (up to ``opts.retries`` times) when other
    processes ran during the timed call, keeping the least disturbed attempt."""
    best: dict | None = None
    for attempt in range(opts.retries + 1):
        if opts.max_wait_run > 0:
            wait_for_quiet(opts.max_wait_run)
        result = run_once(args, opts.threads, timeout)
        result["attempts"] = attempt + 1
        if "error" in result:
            return result
        if best is None or result["contention"] < best["contention"]:
            best = result
        if best["contention"] < CONTENDED:
            break
    return best


def git_state() -> str:
    """The commit nnkit was measured at, and whether its package had uncommitted changes."""
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=HERE.parent)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return f"{commit}{' + uncommitted changes in nnkit/' if git('status', '--porcelain', 'nnkit') else ''}"


def rotated(names: tuple[str, ...], shift: int) -> list[str]:
    shift %= len(names)
    return list(names[shift:] + names[:shift])


def run_order(names: tuple[str, ...], shift: int) -> list[str]:
    """One round's order: the frameworks rotated, with the hand loop and nnkit back to back (which of the
    two goes first alternates), so the ratio the bars are about compares runs seconds apart on a machine
    whose speed drifts over minutes."""
    pair = [n for n in ("hand", "nnkit") if n in names]
    if shift % 2:
        pair.reverse()
    slots = rotated((*(n for n in names if n not in pair), "pair"), shift) if pair else rotated(names, shift)
    return [n for slot in slots for n in (pair if slot == "pair" else [slot])]


def describe(framework: str, job: str, result: dict) -> str:
    if "error" in result:
        return f"  {job:<12} {framework:<10} ERROR {result['error']}"
    extra = f"loss {result['loss']:.4f}" if "loss" in result else (
        f"best score {result['best_score']:.3f}" if "best_score" in result else
        f"torch {result['torch_s']:.2f} s, first optimizer {result['first_optimizer_s']:.2f} s")
    seconds = result.get("seconds", result.get("import_s", 0.0))
    busy = f"  (others runnable {result['contention']:.2f}, attempt {result['attempts']})"
    return f"  {job:<12} {framework:<10} {seconds:8.3f} s  {result['peak_rss_mb']:7.0f} MB peak  {extra}{busy}"


def run_suite(args: argparse.Namespace, partial: Path) -> dict:
    """All the runs, round by round. Every result is saved to ``partial`` as it comes; with ``--resume``
    the runs found there are kept and not measured again."""
    frameworks = tuple(f for f in FRAMEWORKS if f in args.frameworks)
    keys = [k for k in workloads.WORKLOADS if k in args.workloads]
    scale = QUICK_SCALE if args.quick else 1.0
    results: dict = {"imports": {f: [] for f in IMPORT_FRAMEWORKS if f in frameworks},
                     "workloads": {k: {f: [] for f in frameworks} for k in keys}, "loads": []}
    if workloads.SEARCH_KEY in args.workloads:
        results["workloads"][workloads.SEARCH_KEY] = {f: [] for f in SEARCH_FRAMEWORKS if f in frameworks}
    if args.resume and partial.exists():
        saved = json.loads(partial.read_text())
        for section in ("imports", "workloads"):
            for key, value in saved.get(section, {}).items():
                if key in results[section]:
                    if section == "imports":
                        results[section][key] = value
                    else:
                        results[section][key].update({f: v for f, v in value.items() if f in results[section][key]})
        print(f"resuming from {partial}", flush=True)

    def record(runs: list[dict], framework: str, job: str, child: list[str]) -> None:
        result = run_child(child, args)
        runs.append(result)
        partial.write_text(json.dumps(results) + "\n")
        print(describe(framework, job, result), flush=True)

    for rep in range(args.import_repeats):
        print(f"imports, round {rep + 1}/{args.import_repeats}", flush=True)
        for framework in rotated(tuple(results["imports"]), rep):
            if len(results["imports"][framework]) <= rep:
                record(results["imports"][framework], framework, "import", ["import", framework])
    for rep in range(max(args.repeats, args.search_repeats)):
        results["loads"].append(load_average())
        print(f"round {rep + 1}, load average {results['loads'][-1]:.2f}", flush=True)
        jobs = [k for k in keys if rep < args.repeats]
        if workloads.SEARCH_KEY in results["workloads"] and rep < args.search_repeats:
            jobs.append(workloads.SEARCH_KEY)
        for key in jobs:
            for framework in run_order(tuple(results["workloads"][key]), rep):
                runs = results["workloads"][key][framework]
                if len(runs) > rep:
                    continue
                if key == workloads.SEARCH_KEY:
                    child = ["search", framework, "--inner", str(args.search_inner), *(["--quick"] if args.quick else [])]
                else:
                    child = ["fit", framework, key, "--scale", str(scale), "--inner", str(args.inner)]
                record(runs, framework, key, child)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs per framework and workload (default 5)")
    parser.add_argument("--search-repeats", type=int, default=7, help="runs of each grid search (default 7)")
    parser.add_argument("--inner", type=int, default=3,
                        help="timed fits per run, each of a fresh model; the fastest counts (default 3)")
    parser.add_argument("--search-inner", type=int, default=1, help="timed grid searches per run (default 1)")
    parser.add_argument("--import-repeats", type=int, default=7, help="runs of each import (default 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every process (default 1)")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated subset")
    parser.add_argument("--workloads", default=",".join([*workloads.WORKLOADS, workloads.SEARCH_KEY]),
                        help="comma-separated subset")
    parser.add_argument("--max-load", type=float, default=0.7,
                        help="wait until the 1-minute load average is below this before starting (default 0.7)")
    parser.add_argument("--max-wait", type=float, default=1200, help="seconds to wait for it at most (default 1200)")
    parser.add_argument("--max-wait-run", type=float, default=120,
                        help="before each run, wait up to this many seconds for other processes to go idle "
                             "(default 120; 0: do not wait)")
    parser.add_argument("--retries", type=int, default=2,
                        help="measure a run again, up to this many times, when other processes ran during its "
                             "timed call (default 2; the least disturbed attempt is kept)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: one round, a tenth of the rows, one epoch, a two-candidate grid; "
                             "writes to a temporary file and leaves the README and plot alone")
    parser.add_argument("--out", type=Path, default=None, help="results file (default bench/results.json)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs saved in the partial results file of an interrupted suite")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite the README table and the plot")
    args = parser.parse_args()
    args.frameworks = [f.strip() for f in args.frameworks.split(",")]
    args.workloads = [w.strip() for w in args.workloads.split(",")]
    unknown = set(args.frameworks) - set(FRAMEWORKS) | set(args.workloads) - {*workloads.WORKLOADS,
                                                                              workloads.SEARCH_KEY}
    if unknown or "hand" not in args.frameworks:
        parser.error(f"unknown names {sorted(unknown)}, or no 'hand' (the reference every ratio divides by)")
    if args.quick:
        args.repeats = args.search_repeats = args.import_repeats = args.inner = 1
        args.max_wait = args.max_wait_run = args.retries = 0
    out = args.out or (Path(tempfile.gettempdir()) / "nnkit-bench-quick.json" if args.quick
                       else HERE / "results.json")
    start_load = wait_for_idle(args.max_load, args.max_wait) if args.max_wait > 0 else load_average()
    started = time.perf_counter()
    partial = out.with_name(out.stem + ".partial.json")
    results = run_suite(args, partial)
    results["meta"] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": json.loads(subprocess.run([sys.executable, str(MEASURE), "versions"], capture_output=True,
                                              text=True, check=True).stdout),
        "nnkit_source": git_state(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "threads": args.threads,
        "repeats": args.repeats, "inner": args.inner, "search_inner": args.search_inner,
        "search_repeats": args.search_repeats, "import_repeats": args.import_repeats,
        "quick": args.quick, "load_at_start": start_load, "load_at_end": load_average(),
        "minutes": (time.perf_counter() - started) / 60,
        "titles": {**{k: w.title for k, w in workloads.WORKLOADS.items()}, workloads.SEARCH_KEY: workloads.SEARCH_TITLE},
    }
    out.write_text(json.dumps(results, indent=1) + "\n")
    partial.unlink(missing_ok=True)
    print(f"wrote {out}")
    import report

    print(report.markdown(results))
    if not (args.quick or args.no_report):
        report.write(results, HERE / "README.md", HERE / "ratios.png")
        print(f"updated {HERE / 'README.md'} and {HERE / 'ratios.png'}")


if __name__ == "__main__":
    main()
