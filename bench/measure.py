"""One measured run, in a process of its own; prints one JSON line. ``suite.py`` starts it.

Modes:
  ``fit FRAMEWORK WORKLOAD``: import the framework, make the data, warm up, then time ``--inner`` fits
  (default 3), each of a freshly built model, and report the fastest.
  ``search FRAMEWORK``: the same for the whole seed grid search (``GridSearchCV.fit``; default one).
  ``import FRAMEWORK``: time ``import torch``, then the framework's import on top of it, then the first
  ``torch.optim`` optimizer the process creates.

What is timed (``time.perf_counter``) is the framework's training call only, from the float64 NumPy arrays
a user holds to a trained model; the model, its initial weights and its optimizer settings are built
before it, the data before that. Before the timed call, a warm-up runs the same code path once on a
throwaway model of the same architecture (one epoch on the first four batches; for a search, a one-
candidate search on 96 rows), so one-off costs that a process pays on first use (lazy imports, among
them ``torch._dynamo`` on the first ``torch.optim`` optimizer, first-call kernel setup) are excluded the
same way for every framework. The fastest of several timed calls is the figure least disturbed by the
shared machine (whose speed drifts by tens of percent for seconds at a time). Peak memory is ``ru_maxrss``
after the timed calls: the whole process (interpreter, imports, data, training).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

IMPORT_NAMES = {"hand": None, "nnkit": "nnkit", "keras": "keras", "skorch": "skorch",
                "skorch_defaults": "skorch", "lightning": "lightning"}
WARMUP_BATCHES = 4
WARMUP_SEARCH_ROWS = 96
WINDOW: list[float] = []  # wall-clock start and end of the timed call, for the suite's contention check


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pin_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def timed(call, profile: int) -> tuple[float, float, object]:
    """Wall and CPU seconds of ``call()`` and its result. With ``profile`` > 0 the call runs under cProfile
    and torch.profiler, and the top ``profile`` Python functions (by own and by cumulative time) and torch
    operators (by own CPU time) go to stderr; the seconds then include the profilers' overhead."""
    if not profile:
        WINDOW.append(time.time())
        wall, cpu = time.perf_counter(), time.process_time()
        value = call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        WINDOW.append(time.time())
        return wall, cpu, value
    import cProfile
    import pstats

    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    profiler = cProfile.Profile()
    with torch_profile(activities=[ProfilerActivity.CPU]) as ops:
        profiler.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        value = call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(profile)
    stats.sort_stats("cumulative").print_stats(profile)
    print(ops.key_averages().table(sort_by="self_cpu_time_total", row_limit=profile), file=sys.stderr)
    return wall, cpu, value


def measure_fit(framework: str, workload: str, threads: int, scale: float, inner: int, profile: int = 0) -> dict:
    """Warm up, then time ``inner`` fits, each of a freshly built model; ``seconds`` is the fastest."""
    import workloads

    w = workloads.WORKLOADS[workload]
    if scale != 1.0:
        w = w.scaled(scale)
    pin_threads(threads)
    fw = importlib.import_module(f"fw_{framework}")
    data = workloads.workload_data(w)
    warm = replace(w, rows=WARMUP_BATCHES * w.batch, epochs=1)
    result = warm_then_time(lambda: fw.fitter(warm, data.head(warm.rows))(), lambda: fw.fitter(w, data), inner,
                            profile)
    result["loss"] = result.pop("value")
    return result


def measure_search(framework: str, threads: int, quick: bool, inner: int, profile: int = 0) -> dict:
    """Warm up, then time ``inner`` whole grid searches; ``seconds`` is the fastest."""
    import workloads

    pin_threads(threads)
    fw = importlib.import_module(f"fw_{framework}")
    data = workloads.search_data()
    grid = workloads.QUICK_SEARCH_GRID if quick else workloads.SEARCH_GRID
    warm_grid = {"batch_size": [32], "epochs": [1], "l2": [0.01]}
    result = warm_then_time(lambda: fw.searcher(data.head(WARMUP_SEARCH_ROWS), warm_grid)(),
                            lambda: fw.searcher(data, grid), inner, profile)
    result["best_score"] = result.pop("value")
    return result


def warm_then_time(warm_up: Callable[[], object], make_call: Callable[[], Callable[[], object]], inner: int,
                   profile: int) -> dict:
    """Time ``warm_up()`` (building and running a throwaway model: the process's one-off costs), then time
    ``inner`` calls, each built fresh by ``make_call()`` before its clock starts (only the first profiled);
    ``seconds`` is the fastest and ``value`` the first call's result as a float."""
    start = time.perf_counter()
    warm_up()
    warmup_s = time.perf_counter() - start
    rss_before, times, cpu_times, values = current_rss_mb(), [], [], []
    for i in range(inner):
        seconds, cpu_s, value = timed(make_call(), profile if i == 0 else 0)
        times.append(seconds)
        cpu_times.append(cpu_s)
        values.append(float(value))
    return {"seconds": min(times), "cpu_s": min(cpu_times), "times": times, "value": values[0],
            "warmup_s": warmup_s, "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb(), "threads": _threads()}


def measure_import(framework: str, threads: int) -> dict:
    start = time.perf_counter()
    import torch

    torch_s = time.perf_counter() - start
    torch.set_num_threads(threads)
    name = IMPORT_NAMES[framework]
    start = time.perf_counter()
    if name is not None:
        module = importlib.import_module(name)
        if framework == "nnkit":
            module.config.set_device("cpu")  # nnkit's first use; Keras and Lightning probe devices on import
    import_s = time.perf_counter() - start
    param = torch.zeros(1, requires_grad=True)
    start = time.perf_counter()
    torch.optim.SGD([param], lr=0.1)
    first_optimizer_s = time.perf_counter() - start
    return {"torch_s": torch_s, "import_s": import_s, "first_optimizer_s": first_optimizer_s,
            "peak_rss_mb": peak_rss_mb()}


def _threads() -> int:
    import torch

    return torch.get_num_threads()  # recorded after the run: a framework that changed it would show here


def versions() -> dict:
    """Versions of the interpreter and of each framework that is installed (without importing them)."""
    from importlib import metadata

    found = {"python": sys.version.split()[0]}
    for dist in ("torch", "nnkit", "keras", "skorch", "lightning", "numpy", "scikit-learn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("fit", "search", "import", "versions"))
    parser.add_argument("framework", nargs="?", choices=tuple(IMPORT_NAMES))
    parser.add_argument("workload", nargs="?")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the rows (fit; --quick runs)")
    parser.add_argument("--quick", action="store_true", help="a two-candidate grid (search)")
    parser.add_argument("--inner", type=int, default=None,
                        help="timed calls in this process, each on a fresh model; the fastest counts "
                             "(default 3 for fit, 1 for search)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the timed call (cProfile and torch.profiler); print the top N entries to stderr")
    args = parser.parse_args()
    if args.mode == "fit":
        result = measure_fit(args.framework, args.workload, args.threads, args.scale, args.inner or 3, args.profile)
    elif args.mode == "search":
        result = measure_search(args.framework, args.threads, args.quick, args.inner or 1, args.profile)
    elif args.mode == "import":
        result = measure_import(args.framework, args.threads)
    else:
        result = versions()
    if WINDOW:
        result["window"] = [WINDOW[0], WINDOW[-1]]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
