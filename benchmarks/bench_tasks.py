"""Time forkjoin's task API against its peers, in one process, and print a table.

    python benchmarks/bench_tasks.py [--quick] [--only NAME] [--peer NAME]... [--executor E]

Workloads (NAME for --only):

  noop       independent no-op tasks (20,000)
  chain      a chain where each task increments the previous result (5,000)
  tree       a binary tree sum over 16,384 leaf tasks (32,767 tasks)
  mapreduce  10,000 map tasks into 100 partial sums into 1 total (10,101 tasks)
  sleep      200 tasks of time.sleep(0.01) on 8 workers, against the ideal 0.25 s
  graph      a 1,000,000-node delayed graph on forkjoin's inline executor: seconds, memory
  startup    `forkjoin --help` and `python -c "import forkjoin"` against `python -c pass`

Peers, all on 2 worker threads (8 for `sleep`):

  forkjoin spawn    fj.spawn / fj.fetch on Session(executor="threads")
  forkjoin delayed  fj.delayed / fj.compute on the same session
  forkjoin map      fj.map (noop only)
  cf.Thread         concurrent.futures.ThreadPoolExecutor: submit, then result(). A
                    dependent task is submitted with its input futures and calls
                    .result() on them inside the worker. Submission is in topological
                    order and the pool's queue is FIFO, so every input has started before
                    its dependent does: nothing deadlocks, and a blocked worker is the
                    price of eager futures without a scheduler.
  dask.delayed      dask.delayed, dask.compute(scheduler="threads", num_workers=2)
  dask graph        a raw dask graph dict run by dask.threaded.get(num_workers=2)

Each measurement covers building the graph (or submitting) and getting the results
back; sessions and pools are made once per peer, before the warm-up run, outside the
timing. Each is warmed up once, then the best of 3 runs is kept (--quick: 1 run at
smaller sizes). Every result is checked against the known sum, so no peer wins by
doing nothing. The ratio is peer / forkjoin spawn: above 1 means forkjoin is faster.
`--executor inline` runs the forkjoin peers on the inline executor, so that cProfile sees
the whole engine in the main thread.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import faulthandler
import gc
import importlib.util
import operator
import os
import platform
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"

# Run from a checkout without an install too: the same forkjoin the tests see.
FROM_CHECKOUT = importlib.util.find_spec("forkjoin") is None
if FROM_CHECKOUT:
    sys.path.insert(0, str(SRC))
FORKJOIN_IMPORT_ERROR = ""
try:
    import forkjoin as fj
except ImportError as error:  # the forkjoin rows will say so
    fj = None  # type: ignore[assignment]
    FORKJOIN_IMPORT_ERROR = f"{type(error).__name__}: {error}"

try:
    import dask
    import dask.threaded
except ImportError:  # the dask rows will say so
    dask = None  # type: ignore[assignment]

TARGET_US_PER_TASK = 10.0  # workloads 1-4, threads executor
TARGET_SLEEP_RATIO = 1.05  # workload 5, against the ideal
TARGET_GRAPH_SECONDS = 20.0  # workload 6
TARGET_GRAPH_BYTES_PER_NODE = 1024
TARGET_STARTUP_SECONDS = 0.150
SLOW_SECONDS = 20.0  # a peer whose warm-up takes longer is timed once, not 3 times
HANG_SECONDS = 300  # a run longer than this dumps every thread's stack and exits

FORKJOIN = "forkjoin spawn"
FORKJOIN_DELAYED = "forkjoin delayed"
FORKJOIN_MAP = "forkjoin map"
THREADPOOL = "cf.ThreadPool"
DASK_DELAYED = "dask.delayed"
DASK_GRAPH = "dask graph"


# ---------------------------------------------------------------- the task bodies


def ident(i: int) -> int:
    return i


def inc(x: int) -> int:
    return x + 1


def nap(i: int) -> int:
    time.sleep(0.01)
    return i


add = operator.add


def after(fn: Callable[..., Any], *futures: cf.Future[Any]) -> Any:
    """Run `fn` on the results of `futures`, waiting for them inside the worker."""
    return fn(*[future.result() for future in futures])


def after_all(fn: Callable[[list[Any]], Any], futures: list[cf.Future[Any]]) -> Any:
    """Run `fn` on the list of results of `futures`, waiting inside the worker."""
    return fn([future.result() for future in futures])


def triangle(n: int) -> int:
    """sum(range(n)), the expected total of n tasks returning their index."""
    return n * (n - 1) // 2


# ---------------------------------------------------------------- 1. no-op tasks


def noop_forkjoin_spawn(n: int) -> int:
    return sum(fj.fetch([fj.spawn(ident, i) for i in range(n)]))


def noop_forkjoin_delayed(n: int) -> int:
    lazy = fj.delayed(ident)
    return sum(fj.compute(*[lazy(i) for i in range(n)]))


def noop_forkjoin_map(n: int) -> int:
    return sum(fj.map(ident, range(n)))


def noop_threadpool(pool: cf.ThreadPoolExecutor, n: int) -> int:
    futures = [pool.submit(ident, i) for i in range(n)]
    return sum(future.result() for future in futures)


def noop_dask_delayed(workers: int, n: int) -> int:
    lazy = dask.delayed(ident)
    values = dask.compute(*[lazy(i) for i in range(n)], scheduler="threads", num_workers=workers)
    return sum(values)


def noop_dask_graph(workers: int, n: int) -> int:
    graph = {("noop", i): (ident, i) for i in range(n)}
    return sum(dask.threaded.get(graph, list(graph), num_workers=workers))


# ---------------------------------------------------------------- 2. a chain


def chain_forkjoin_spawn(n: int) -> int:
    task = fj.spawn(inc, 0)
    for _ in range(n - 1):
        task = fj.spawn(inc, task)
    return fj.fetch(task)


def chain_forkjoin_delayed(n: int) -> int:
    lazy = fj.delayed(inc)
    value = lazy(0)
    for _ in range(n - 1):
        value = lazy(value)
    return value.compute()


def chain_threadpool(pool: cf.ThreadPoolExecutor, n: int) -> int:
    future = pool.submit(inc, 0)
    for _ in range(n - 1):
        future = pool.submit(after, inc, future)
    return future.result()


def chain_dask_delayed(workers: int, n: int) -> int:
    lazy = dask.delayed(inc)
    value = lazy(0)
    for _ in range(n - 1):
        value = lazy(value)
    return value.compute(scheduler="threads", num_workers=workers)


def chain_dask_graph(workers: int, n: int) -> int:
    graph: dict[Any, Any] = {("inc", 0): (inc, 0)}
    for i in range(1, n):
        graph["inc", i] = (inc, ("inc", i - 1))
    return dask.threaded.get(graph, ("inc", n - 1), num_workers=workers)


# ---------------------------------------------------------------- 3. a tree sum


def tree_forkjoin_spawn(leaves: int) -> int:
    level = [fj.spawn(ident, i) for i in range(leaves)]
    while len(level) > 1:
        level = [fj.spawn(add, level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return fj.fetch(level[0])


def tree_forkjoin_delayed(leaves: int) -> int:
    leaf, pair = fj.delayed(ident), fj.delayed(add)
    level = [leaf(i) for i in range(leaves)]
    while len(level) > 1:
        level = [pair(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0].compute()


def tree_threadpool(pool: cf.ThreadPoolExecutor, leaves: int) -> int:
    level = [pool.submit(ident, i) for i in range(leaves)]
    while len(level) > 1:
        level = [pool.submit(after, add, level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0].result()


def tree_dask_delayed(workers: int, leaves: int) -> int:
    leaf, pair = dask.delayed(ident), dask.delayed(add)
    level = [leaf(i) for i in range(leaves)]
    while len(level) > 1:
        level = [pair(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0].compute(scheduler="threads", num_workers=workers)


def tree_dask_graph(workers: int, leaves: int) -> int:
    graph: dict[Any, Any] = {("tree", 0, i): (ident, i) for i in range(leaves)}
    depth, width = 0, leaves
    while width > 1:
        for i in range(0, width, 2):
            graph["tree", depth + 1, i // 2] = (add, ("tree", depth, i), ("tree", depth, i + 1))
        depth, width = depth + 1, width // 2
    return dask.threaded.get(graph, ("tree", depth, 0), num_workers=workers)


# ---------------------------------------------------------------- 4. map, partial sums, total

MAPREDUCE_PARTS = 100


def _parts(n: int) -> list[range]:
    """The index ranges of the partial sums: MAPREDUCE_PARTS equal slices of range(n)."""
    size = n // MAPREDUCE_PARTS
    return [range(k * size, (k + 1) * size) for k in range(MAPREDUCE_PARTS)]


def mapreduce_forkjoin_spawn(n: int) -> int:
    mapped = [fj.spawn(ident, i) for i in range(n)]
    partials = [fj.spawn(sum, mapped[part.start : part.stop]) for part in _parts(n)]
    return fj.fetch(fj.spawn(sum, partials))


def mapreduce_forkjoin_delayed(n: int) -> int:
    leaf, total = fj.delayed(ident), fj.delayed(sum)
    mapped = [leaf(i) for i in range(n)]
    partials = [total(mapped[part.start : part.stop]) for part in _parts(n)]
    return total(partials).compute()


def mapreduce_threadpool(pool: cf.ThreadPoolExecutor, n: int) -> int:
    mapped = [pool.submit(ident, i) for i in range(n)]
    partials = [pool.submit(after_all, sum, mapped[part.start : part.stop]) for part in _parts(n)]
    return pool.submit(after_all, sum, partials).result()


def mapreduce_dask_delayed(workers: int, n: int) -> int:
    leaf, total = dask.delayed(ident), dask.delayed(sum)
    mapped = [leaf(i) for i in range(n)]
    partials = [total(mapped[part.start : part.stop]) for part in _parts(n)]
    return total(partials).compute(scheduler="threads", num_workers=workers)


def mapreduce_dask_graph(workers: int, n: int) -> int:
    graph: dict[Any, Any] = {("map", i): (ident, i) for i in range(n)}
    for k, part in enumerate(_parts(n)):
        graph["partial", k] = (sum, [("map", i) for i in part])
    graph["total"] = (sum, [("partial", k) for k in range(MAPREDUCE_PARTS)])
    return dask.threaded.get(graph, "total", num_workers=workers)


# ---------------------------------------------------------------- 5. sleeping tasks


def sleep_forkjoin_spawn(n: int) -> int:
    return sum(fj.fetch([fj.spawn(nap, i) for i in range(n)]))


def sleep_forkjoin_delayed(n: int) -> int:
    lazy = fj.delayed(nap)
    return sum(fj.compute(*[lazy(i) for i in range(n)]))


def sleep_threadpool(pool: cf.ThreadPoolExecutor, n: int) -> int:
    futures = [pool.submit(nap, i) for i in range(n)]
    return sum(future.result() for future in futures)


def sleep_dask_delayed(workers: int, n: int) -> int:
    lazy = dask.delayed(nap)
    values = dask.compute(*[lazy(i) for i in range(n)], scheduler="threads", num_workers=workers)
    return sum(values)


def sleep_dask_graph(workers: int, n: int) -> int:
    graph = {("nap", i): (nap, i) for i in range(n)}
    return sum(dask.threaded.get(graph, list(graph), num_workers=workers))


# ---------------------------------------------------------------- the harness


@dataclass
class Row:
    workload: str
    peer: str
    tasks: int
    seconds: float | None = None
    cpu_seconds: float | None = None  # of the run with the best wall time
    error: str = ""
    note: str = ""

    @property
    def us_per_task(self) -> float | None:
        return None if self.seconds is None else self.seconds / self.tasks * 1e6

    @property
    def cpu_us_per_task(self) -> float | None:
        return None if self.cpu_seconds is None else self.cpu_seconds / self.tasks * 1e6


@dataclass
class Workload:
    name: str
    size: int  # the argument of each peer's function
    tasks: int  # how many tasks that makes
    expected: int
    workers: int
    peers: dict[str, Callable[..., int]] = field(default_factory=dict)


@contextlib.contextmanager
def peer_context(
    peer: str, workers: int, executor: str
) -> Iterator[Callable[[Callable[..., int], int], int]]:
    """Make a peer's session or pool once, and yield how to call a workload on it."""
    if peer.startswith("forkjoin"):
        with fj.Session(executor=executor, workers=None if executor == "inline" else workers):
            yield lambda run, size: run(size)
    elif peer == THREADPOOL:
        with cf.ThreadPoolExecutor(workers) as pool:
            yield lambda run, size: run(pool, size)
    else:  # dask keeps a pool per (thread, num_workers) once it has made one
        yield lambda run, size: run(workers, size)


def time_once(call: Callable[[], int], expected: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all threads of this process) of one checked run."""
    gc.collect()
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        value = call()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        faulthandler.cancel_dump_traceback_later()
    if value != expected:
        raise AssertionError(f"wrong result {value!r}, expected {expected!r}")
    return seconds, cpu


def measure(workload: Workload, peer: str, repeats: int, executor: str = "threads") -> Row:
    row = Row(workload.name, peer, workload.tasks)
    if peer.startswith("forkjoin") and fj is None:
        row.error = f"forkjoin is not importable: {FORKJOIN_IMPORT_ERROR}"
        return row
    if peer.startswith("dask") and dask is None:
        row.error = "dask is not installed"
        return row
    run = workload.peers[peer]
    try:
        with peer_context(peer, workload.workers, executor) as call_on:
            warm_up, _ = time_once(lambda: call_on(run, workload.size), workload.expected)
            if warm_up > SLOW_SECONDS:  # minutes more would not change the reading
                repeats = 1
                row.note = f"(best of 1: a run takes over {SLOW_SECONDS:g} s)"
            row.seconds, row.cpu_seconds = min(
                time_once(lambda: call_on(run, workload.size), workload.expected)
                for _ in range(repeats)
            )
    except Exception as error:  # a failing peer is a row of the table, not the end of it
        row.error = f"{type(error).__name__}: {error}"[:120]
    return row


def task_workloads(quick: bool) -> list[Workload]:
    noop_n = 2_000 if quick else 20_000
    chain_n = 500 if quick else 5_000
    leaves = 1_024 if quick else 16_384
    map_n = 1_000 if quick else 10_000
    sleep_n = 200
    return [
        Workload("noop", noop_n, noop_n, triangle(noop_n), 2, {
            FORKJOIN: noop_forkjoin_spawn,
            FORKJOIN_DELAYED: noop_forkjoin_delayed,
            FORKJOIN_MAP: noop_forkjoin_map,
            THREADPOOL: noop_threadpool,
            DASK_DELAYED: noop_dask_delayed,
            DASK_GRAPH: noop_dask_graph,
        }),
        Workload("chain", chain_n, chain_n, chain_n, 2, {
            FORKJOIN: chain_forkjoin_spawn,
            FORKJOIN_DELAYED: chain_forkjoin_delayed,
            THREADPOOL: chain_threadpool,
            DASK_DELAYED: chain_dask_delayed,
            DASK_GRAPH: chain_dask_graph,
        }),
        Workload("tree", leaves, 2 * leaves - 1, triangle(leaves), 2, {
            FORKJOIN: tree_forkjoin_spawn,
            FORKJOIN_DELAYED: tree_forkjoin_delayed,
            THREADPOOL: tree_threadpool,
            DASK_DELAYED: tree_dask_delayed,
            DASK_GRAPH: tree_dask_graph,
        }),
        Workload("mapreduce", map_n, map_n + MAPREDUCE_PARTS + 1, triangle(map_n), 2, {
            FORKJOIN: mapreduce_forkjoin_spawn,
            FORKJOIN_DELAYED: mapreduce_forkjoin_delayed,
            THREADPOOL: mapreduce_threadpool,
            DASK_DELAYED: mapreduce_dask_delayed,
            DASK_GRAPH: mapreduce_dask_graph,
        }),
        Workload("sleep", sleep_n, sleep_n, triangle(sleep_n), 8, {
            FORKJOIN: sleep_forkjoin_spawn,
            FORKJOIN_DELAYED: sleep_forkjoin_delayed,
            THREADPOOL: sleep_threadpool,
            DASK_DELAYED: sleep_dask_delayed,
            DASK_GRAPH: sleep_dask_graph,
        }),
    ]  # fmt: skip


def annotate(rows: list[Row], workload: Workload) -> None:
    """Add to each row's note the target it is held to, or its ratio to the ideal."""
    for row in rows:
        if row.seconds is None:
            continue
        notes = [row.note] if row.note else []
        if workload.name == "sleep":
            ideal = workload.tasks * 0.01 / workload.workers
            ratio = row.seconds / ideal
            notes.append(f"{ratio:.2f}x ideal {ideal:.3f} s")
            if row.peer.startswith("forkjoin"):
                met = "met" if ratio <= TARGET_SLEEP_RATIO else "MISSED"
                notes.append(f"(target <= {TARGET_SLEEP_RATIO}x: {met})")
        elif row.peer.startswith("forkjoin"):
            met = "met" if row.us_per_task <= TARGET_US_PER_TASK else "MISSED"
            notes.append(f"target <= {TARGET_US_PER_TASK:g} us/task: {met}")
        row.note = "  ".join(notes)


# ---------------------------------------------------------------- 6. a 1M-node graph, inline

GRAPH_CHAIN_LENGTH = 1_000


def build_forkjoin_graph(chains: int) -> Any:
    """`chains` chains of GRAPH_CHAIN_LENGTH increments, summed by one node."""
    lazy_inc, lazy_sum = fj.delayed(inc), fj.delayed(sum)
    ends = []
    for _ in range(chains):
        value = lazy_inc(0)
        for _ in range(GRAPH_CHAIN_LENGTH - 1):
            value = lazy_inc(value)
        ends.append(value)
    return lazy_sum(ends)


def build_dask_graph(chains: int) -> Any:
    """The same graph as build_forkjoin_graph, in dask.delayed."""
    lazy_inc, lazy_sum = dask.delayed(inc), dask.delayed(sum)
    ends = []
    for _ in range(chains):
        value = lazy_inc(0)
        for _ in range(GRAPH_CHAIN_LENGTH - 1):
            value = lazy_inc(value)
        ends.append(value)
    return lazy_sum(ends)


def compute_forkjoin_graph(graph: Any) -> int:
    with fj.Session(executor="inline"):
        return graph.compute()


def compute_dask_graph(graph: Any) -> int:
    return graph.compute(scheduler="sync")


def rss_bytes() -> int:
    """The resident set size of this process now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class GraphFigures:
    peer: str
    nodes: int
    build_seconds: float | None = None
    compute_seconds: float | None = None
    rss_delta: int | None = None  # RSS grown while the built graph is held
    traced_peak: int | None = None  # tracemalloc peak over build + compute
    cpu_seconds: float | None = None  # CPU time of build + compute in the best run
    error: str = ""

    @property
    def seconds(self) -> float | None:
        if self.build_seconds is None or self.compute_seconds is None:
            return None
        return self.build_seconds + self.compute_seconds


def measure_graph(
    peer: str,
    chains: int,
    build: Callable[[int], Any],
    compute: Callable[[Any], int],
    repeats: int,
) -> GraphFigures:
    nodes = chains * GRAPH_CHAIN_LENGTH + 1
    figures = GraphFigures(peer, nodes)
    expected = chains * GRAPH_CHAIN_LENGTH
    try:
        best: tuple[float, float] | None = None
        for attempt in range(repeats + 1):  # the first is the warm-up
            gc.collect()
            faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
            rss_before = rss_bytes()
            start, cpu_start = time.perf_counter(), time.process_time()
            graph = build(chains)
            built = time.perf_counter()
            rss_built = rss_bytes()
            value = compute(graph)
            done, cpu = time.perf_counter(), time.process_time() - cpu_start
            faulthandler.cancel_dump_traceback_later()
            if value != expected:
                raise AssertionError(f"wrong result {value!r}, expected {expected!r}")
            del graph
            if attempt and (best is None or done - start < sum(best)):
                best = (built - start, done - built)
                figures.rss_delta = rss_built - rss_before
                figures.cpu_seconds = cpu
        assert best is not None
        figures.build_seconds, figures.compute_seconds = best
        # Memory once more under tracemalloc, which slows the run: its time is not kept.
        gc.collect()
        tracemalloc.start()
        value = compute(build(chains))
        figures.traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if value != expected:
            raise AssertionError(f"wrong result {value!r}, expected {expected!r}")
    except Exception as error:
        faulthandler.cancel_dump_traceback_later()
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        figures.error = f"{type(error).__name__}: {error}"[:120]
    return figures


def run_graph(quick: bool, repeats: int, peers: set[str] | None) -> list[GraphFigures]:
    results = []
    if fj is None:
        results.append(GraphFigures("forkjoin delayed, inline", 1, error=FORKJOIN_IMPORT_ERROR))
    elif peers is None or FORKJOIN_DELAYED in peers:
        chains = 100 if quick else 1_000
        results.append(measure_graph(
            "forkjoin delayed, inline", chains, build_forkjoin_graph, compute_forkjoin_graph,
            repeats,
        ))  # fmt: skip
    if dask is not None and (peers is None or DASK_DELAYED in peers):
        chains = 2 if quick else 10  # a hundredth of the size: compare per node only
        results.append(measure_graph(
            "dask.delayed, sync", chains, build_dask_graph, compute_dask_graph, repeats,
        ))  # fmt: skip
    return results


def print_graph(results: list[GraphFigures]) -> None:
    print("\n## graph: chains of increments summed by one node, built and computed inline")
    header = (
        f"{'peer':<26} {'nodes':>9} {'build s':>8} {'compute s':>9} {'total s':>8} "
        f"{'cpu s':>6} {'us/node':>8} {'traced B/node':>13} {'RSS B/node':>10}"
    )
    print(header)
    print("-" * len(header))
    for figures in results:
        if figures.error or figures.seconds is None:
            print(f"{figures.peer:<26} {figures.nodes:>9}  error: {figures.error}")
            continue
        traced = (figures.traced_peak or 0) / figures.nodes
        rss = (figures.rss_delta or 0) / figures.nodes
        print(
            f"{figures.peer:<26} {figures.nodes:>9} {figures.build_seconds:>8.2f} "
            f"{figures.compute_seconds:>9.2f} {figures.seconds:>8.2f} "
            f"{figures.cpu_seconds or 0:>6.2f} "
            f"{figures.seconds / figures.nodes * 1e6:>8.2f} {traced:>13.0f} {rss:>10.0f}"
        )
    for figures in results:
        if figures.peer.startswith("forkjoin") and figures.seconds is not None:
            traced = (figures.traced_peak or 0) / figures.nodes
            scale = 1_000_001 / figures.nodes
            seconds_met = "met" if figures.seconds * scale < TARGET_GRAPH_SECONDS else "MISSED"
            memory_met = "met" if traced < TARGET_GRAPH_BYTES_PER_NODE else "MISSED"
            print(
                f"targets for 1,000,000 nodes: < {TARGET_GRAPH_SECONDS:g} s "
                f"({figures.seconds * scale:.2f} s scaled to 1M: {seconds_met}), "
                f"< {TARGET_GRAPH_BYTES_PER_NODE} B/node traced peak ({traced:.0f}: {memory_met})"
            )
    print(
        "traced B/node: tracemalloc peak over build + compute, in a separate untimed run; "
        "RSS B/node: resident memory grown while the built graph is held (the allocator may "
        "reuse memory freed by earlier workloads, so it can read low)."
    )


# ---------------------------------------------------------------- start-up time


# forkjoin loads its public names on first use: the second statement is the task API's cost.
IMPORT_STATEMENTS = ("import forkjoin", "import forkjoin; forkjoin.spawn", "import forkjoin.cli")


def forkjoin_env() -> dict[str, str]:
    """The environment of a child python that finds forkjoin as this process does."""
    env = dict(os.environ)
    if FROM_CHECKOUT:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def startup_timings(
    commands: list[list[str]], rounds: int, env: dict[str, str]
) -> list[list[float]]:
    """Seconds of each command per round, in rounds, so that drift hits all alike."""
    for command in commands:  # warm-up: .pyc files, the page cache
        subprocess.run(command, env=env, capture_output=True, check=True)
    timings: list[list[float]] = [[] for _ in commands]
    for _ in range(rounds):
        for command, seconds in zip(commands, timings, strict=True):
            start = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=True)
            seconds.append(time.perf_counter() - start)
    return timings


def import_times(statement: str, env: dict[str, str]) -> tuple[int, list[tuple[int, str]]]:
    """Microseconds the imports of `statement` take, and (self us, name) of each of them."""
    command = [sys.executable, "-X", "importtime", "-c", statement]
    stderr = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stderr
    rows = []  # (self us, cumulative us, top level?, name), children before their parent
    for line in stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            top_level = len(name) - len(name.lstrip()) == 1
            rows.append((int(own), int(cumulative), top_level, name.strip()))
    # Python's own start-up ends with `site`; what comes after is the statement's.
    after_site = max(i for i, row in enumerate(rows) if row[3] == "site" and row[2]) + 1
    mine = rows[after_site:]
    total = sum(cumulative for _, cumulative, top_level, _ in mine if top_level)
    return total, [(own, name) for own, _, _, name in mine]


def run_startup(quick: bool) -> None:
    rounds = 2 if quick else 5
    env = forkjoin_env()
    # The console script beside this interpreter, not a version manager's shim (pyenv's
    # shims are shell scripts that add tens of milliseconds to every start).
    beside = Path(sys.executable).parent / "forkjoin"
    script = str(beside) if beside.exists() else shutil.which("forkjoin")
    if script:
        cli = [script, "--help"]
        cli_label = "forkjoin --help"
    else:  # not installed: what the console script does, by hand
        cli = [sys.executable, "-c", "import sys; from forkjoin.cli import main; sys.exit(main())"]
        cli += ["--help"]
        cli_label = "forkjoin --help (via python -c: not installed)"
    candidates = {
        "python -c pass": [sys.executable, "-c", "pass"],
        **{
            f"python -c {statement!r}": [sys.executable, "-c", statement]
            for statement in IMPORT_STATEMENTS[:2]
        },
        cli_label: cli,
    }
    commands, errors = {}, []
    for label, command in candidates.items():
        try:  # one by one first, to name the one that fails
            subprocess.run(command, env=env, capture_output=True, check=True)
            commands[label] = command
        except (subprocess.CalledProcessError, OSError) as error:
            stderr = getattr(error, "stderr", b"") or b""
            last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [str(error)]
            errors.append(f"{label:<52} error: {last[0][:100]}")
    print(f"\n## startup: {rounds} interleaved rounds of subprocesses, after one warm-up each")
    print(f"{'command':<52} {'best s':>7} {'median s':>8} {'best over pass':>14}")
    timings = startup_timings(list(commands.values()), rounds, env)
    baseline = min(timings[0])
    for label, seconds in zip(commands, timings, strict=True):
        best, median = min(seconds), sorted(seconds)[len(seconds) // 2]
        note = ""
        if label.startswith("forkjoin --help"):
            met = "met" if best < TARGET_STARTUP_SECONDS else "MISSED"
            note = f"  target < {TARGET_STARTUP_SECONDS * 1000:.0f} ms: {met}"
        print(f"{label:<52} {best:>7.3f} {median:>8.3f} {best - baseline:>+14.3f}{note}")
    print("\n".join(errors))
    # The import cost alone, free of the noise of starting a process.
    for statement in IMPORT_STATEMENTS:
        try:
            total, imported = import_times(statement, env)
        except (subprocess.CalledProcessError, ValueError):
            continue
        heaviest = sorted(imported, reverse=True)[:5]
        named = ", ".join(f"{name} {own / 1000:.1f}" for own, name in heaviest)
        print(f"-X importtime {statement!r}: {total / 1000:.1f} ms; most self ms: {named}")


# ---------------------------------------------------------------- printing


def print_environment(quick: bool) -> None:
    print("# forkjoin task API benchmark" + (" (--quick: smaller sizes, 1 run)" if quick else ""))
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    print(f"platform {platform.platform()}")
    print(f"cpus {os.cpu_count()} (usable {len(os.sched_getaffinity(0))})")
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())} (1, 5, 15 min)")
    where = getattr(fj, "__file__", None) or f"nowhere ({FORKJOIN_IMPORT_ERROR})"
    print(f"forkjoin {getattr(fj, '__version__', '?') if fj else '-'} from {where}")
    if dask is not None:
        try:
            import distributed

            extra = f", distributed {distributed.__version__}"
        except ImportError:
            extra = ""
        print(f"dask {dask.__version__}{extra}")
    else:
        print("dask not installed")


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'workload':<10} {'peer':<17} {'tasks':>6} {'wall s':>8} {'us/task':>8} "
        f"{'cpu us/task':>11} {'peer/fj':>8}  note"
    )
    print(header)
    print("-" * (len(header) + 30))
    reference = {row.workload: row.seconds for row in rows if row.peer == FORKJOIN}
    for row in rows:
        if row.seconds is None:
            print(f"{row.workload:<10} {row.peer:<17} {row.tasks:>6}  error: {row.error}")
            continue
        fj_seconds = reference.get(row.workload)
        ratio = f"{row.seconds / fj_seconds:.2f}" if fj_seconds else "-"
        print(
            f"{row.workload:<10} {row.peer:<17} {row.tasks:>6} {row.seconds:>8.3f} "
            f"{row.us_per_task:>8.1f} {row.cpu_us_per_task:>11.1f} {ratio:>8}  {row.note}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 1 run each")
    parser.add_argument("--only", metavar="NAME", help="one workload (see the module docstring)")
    parser.add_argument("--peer", action="append", metavar="NAME", help="only this peer (repeat)")
    parser.add_argument(
        "--executor",
        default="threads",
        help="forkjoin's executor for the task workloads (inline: profile the engine alone)",
    )
    options = parser.parse_args(argv)
    repeats = 1 if options.quick else 3
    peers = set(options.peer) if options.peer else None

    print_environment(options.quick)
    workloads = task_workloads(options.quick)
    names = [w.name for w in workloads] + ["graph", "startup"]
    if options.only and options.only not in names:
        parser.error(f"unknown workload {options.only!r}: choose from {', '.join(names)}")

    rows: list[Row] = []
    for workload in workloads:
        if options.only not in (None, workload.name):
            continue
        print(f"\n## {workload.name}: measuring", flush=True)
        measured = []
        for peer in workload.peers:
            if peers is None or peer in peers:
                measured.append(measure(workload, peer, repeats, options.executor))
                row = measured[-1]
                figure = f"{row.seconds:.3f} s" if row.seconds is not None else row.error
                print(f"  {peer:<17} {figure}", flush=True)
        annotate(measured, workload)
        rows += measured
    if rows:
        where = f"forkjoin on {options.executor}, the others on threads"
        print(f"\n## tasks: {where} (2 workers; 8 for sleep), best of {repeats}")
        print_table(rows)
        print(
            f"peer/fj: the peer's wall time over {FORKJOIN}'s (>1: forkjoin is faster). "
            "Targets: forkjoin <= 10 us/task on noop, chain, tree, mapreduce; "
            "<= 1.05x the ideal on sleep. cpu us/task: CPU time of the whole process (all "
            "threads) in the best run, per task; less disturbed than wall time by other "
            "processes on the machine."
        )

    if options.only in (None, "graph"):
        print_graph(run_graph(options.quick, repeats, peers))
    if options.only in (None, "startup"):
        run_startup(options.quick)
    print(f"\nload average at the end {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
