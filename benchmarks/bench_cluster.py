"""Time forkjoin on a cluster against the cluster's own futures, on the same cluster.

    python benchmarks/bench_cluster.py [--quick] [--engine dask|ray]... [--runs N]

Workloads:

  independent  2,000 no-op tasks returning their index, then every value fetched
  chain        500 tasks, each incrementing the previous result, then the last fetched

Peers, on one cluster of 2 single-threaded worker processes on 127.0.0.1:

  dask raw          client.submit(...) per task, client.gather(...) of the results
  forkjoin on dask  fj.Session(executor) spawn / fetch, its default concurrency
  ray raw           f.remote(...) per task, ray.get(...) of the results
  forkjoin on ray   fj.Session(executor) spawn / fetch

The cluster is started once per engine, outside the timings; each timing covers
submitting and getting every result back. After one warm-up of each peer, the
peers take turns (raw, forkjoin, raw, ...) --runs times and the median is kept,
so that a burst of load on a shared machine hits both alike. Every result is
checked. `overhead` is what forkjoin adds per task, (forkjoin - raw) / tasks, and
`ratio` is forkjoin / raw: the target is under 1.10.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("forkjoin") is None:
    sys.path.insert(0, str(REPO / "src"))

import forkjoin as fj  # noqa: E402

WORKERS = 2
TARGET_RATIO = 1.10


def ident(x: int) -> int:
    return x


def inc(x: int) -> int:
    return x + 1


# -- peers: each returns the workload's result, checked by the caller ----------------


def forkjoin_independent(session: Any, count: int) -> int:
    tasks = [session.spawn(ident, i) for i in range(count)]
    return sum(fj.fetch(tasks))


def forkjoin_chain(session: Any, count: int) -> int:
    task = session.spawn(inc, 0)
    for _ in range(count - 1):
        task = session.spawn(inc, task)
    return int(fj.fetch(task))


def dask_independent(client: Any, count: int) -> int:
    futures = [client.submit(ident, i, pure=False) for i in range(count)]
    return sum(client.gather(futures))


def dask_chain(client: Any, count: int) -> int:
    future = client.submit(inc, 0, pure=False)
    for _ in range(count - 1):
        future = client.submit(inc, future, pure=False)
    return int(future.result())


def ray_independent(_client: Any, count: int) -> int:
    import ray

    remote = ray.remote(max_retries=0)(ident)
    return sum(ray.get([remote.remote(i) for i in range(count)]))


def ray_chain(_client: Any, count: int) -> int:
    import ray

    remote = ray.remote(max_retries=0)(inc)
    ref = remote.remote(0)
    for _ in range(count - 1):
        ref = remote.remote(ref)
    return int(ray.get(ref))


# -- timing ----------------------------------------------------------------------------


def timed(fn: Callable[[Any, int], int], target: Any, count: int, expected: int) -> float:
    started = time.perf_counter()
    result = fn(target, count)
    elapsed = time.perf_counter() - started
    if result != expected:
        raise AssertionError(f"{fn.__name__} returned {result}, expected {expected}")
    return elapsed


def compare(
    engine: str,
    executor: Any,
    raw_target: Any,
    sizes: dict[str, int],
    runs: int,
    max_concurrency: int | None,
) -> list[tuple[str, int, float, float]]:
    raw_peers = {
        "dask": {"independent": dask_independent, "chain": dask_chain},
        "ray": {"independent": ray_independent, "chain": ray_chain},
    }[engine]
    forkjoin_peers = {"independent": forkjoin_independent, "chain": forkjoin_chain}
    rows = []
    for workload, count in sizes.items():
        expected = count * (count - 1) // 2 if workload == "independent" else count
        raw, ours = raw_peers[workload], forkjoin_peers[workload]
        # A session per workload on the shared executor; never closed, since
        # closing a session shuts its executor down.
        session = fj.Session(executor, max_concurrency=max_concurrency)
        timed(raw, raw_target, count, expected)  # warm-up
        timed(ours, session, count, expected)
        raw_times, our_times = [], []
        for _ in range(runs):
            raw_times.append(timed(raw, raw_target, count, expected))
            our_times.append(timed(ours, session, count, expected))
        rows.append((workload, count, statistics.median(raw_times), statistics.median(our_times)))
    return rows


def print_rows(engine: str, label: str, rows: list[tuple[str, int, float, float]]) -> None:
    for workload, count, raw, ours in rows:
        overhead_us = (ours - raw) / count * 1e6
        ratio = ours / raw
        verdict = "met" if ratio < TARGET_RATIO else "MISSED"
        print(
            f"{engine:5} {workload:12} {count:6} {raw / count * 1e3:9.3f} "
            f"{ours / count * 1e3:9.3f} {overhead_us:+10.0f} {ratio:6.2f}  {label}: "
            f"target < {TARGET_RATIO:.2f} {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, 1 run")
    parser.add_argument("--engine", action="append", choices=["dask", "ray"])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per peer (median kept)")
    options = parser.parse_args()
    engines = options.engine or ["dask", "ray"]
    sizes = {"independent": 2000, "chain": 500}
    runs = options.runs
    if options.quick:
        sizes = {"independent": 200, "chain": 50}
        runs = 1
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    print(f"{WORKERS} single-threaded workers on 127.0.0.1; median of {runs} alternating runs")
    print(
        "engine workload      tasks  raw ms/t   fj ms/t  overhead us/t  ratio  "
        "(ratio = forkjoin / raw)"
    )
    for engine in engines:
        if importlib.util.find_spec("distributed" if engine == "dask" else "ray") is None:
            print(f"{engine:5} not installed: pip install -e '.[{engine}]'")
            continue
        from forkjoin.executors import make_executor

        executor = make_executor(engine, WORKERS)
        try:
            raw_target = executor.client if engine == "dask" else None
            print_rows(engine, "default", compare(engine, executor, raw_target, sizes, runs, None))
            bounded = compare(engine, executor, raw_target, sizes, runs, WORKERS)
            print_rows(engine, f"max_concurrency={WORKERS}", bounded)
        finally:
            executor.shutdown()
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
