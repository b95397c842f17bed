"""`forkjoin.partition` against pytest-split's two algorithms, on numpy's recorded test durations.

    python benchmarks/bench_split.py [--seeds 20] [--scenario tests|new-files|files|coarse]

Each seed simulates a rerun of the suite. The "true" duration of an item is its
recorded one times lognormal noise (sigma 0.2), and 10% of the items, drawn at
random, have no recorded duration (new tests). Each peer splits the items knowing
only what was recorded; the split is then judged by the true durations: its makespan
(the heaviest group's true total) over the lower bound max(true total / k, longest
true item). No split can score below 1.00. Figures are means over the seeds.

Peers:

- `reference LPT`: pytest-split's `least_duration`: longest first into the lightest
  group, unknown items at the mean of the known ones. The reference.
- `pytest-split chunks`: pytest-split's default `duration_based_chunks`: the items in
  collection order, cut into consecutive chunks of about total / k.
- `forkjoin.partition`: what the library does (checked equal to `fj.split`).
- Two ablations, to show what each part brings: `forkjoin LPT only` (no refinement)
  and `forkjoin, mean` (unknown items at the mean instead of their family's).
- Two bounds for context, not peers: `all known` (forkjoin with every item's
  recorded duration: what the noise alone costs) and `oracle` (forkjoin given the
  true durations).

Scenarios:

- `tests`: the 47,987 tests, 10% of them unknown. The one the targets are about.
- `new-files`: the tests, but 10% of the files are unknown, all their tests at once.
- `files`: the 156 test files, with durations recorded per file.
- `coarse`: synthetic, for the refinement: for each k, k+1 to 3k items of 5 to 30 s
  (packages of a monorepo, say), where LPT is known to leave gaps.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without an install

import forkjoin as fj  # noqa: E402
from forkjoin.partition._partition import partition  # noqa: E402
from forkjoin.partition._split import expected_microseconds  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data/numpy_test_durations.json"
GROUP_COUNTS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
NOISE_SIGMA = 0.2
UNKNOWN_SHARE = 0.10
SCENARIOS = ("tests", "new-files", "files", "coarse")


@dataclass(frozen=True, slots=True)
class Instance:
    """One simulated rerun: items in collection order, and three views of their cost."""

    items: list[str]
    recorded: dict[str, float]  # what the last run measured, for every item
    known: dict[str, float]  # what a peer is told: recorded, less the unknown items
    truth: list[float]  # what each item takes this time, by index


Weigher = Callable[[Instance], list[float]]
Placer = Callable[[list[float], list[str], int], list[list[int]]]


def mean_weights(instance: Instance) -> list[float]:
    """pytest-split's costs: the known ones, and the mean of those for the others."""
    known = [instance.known[item] for item in instance.items if item in instance.known]
    mean = sum(known) / len(known) if known else 1.0
    return [instance.known.get(item, mean) for item in instance.items]


def forkjoin_weights(instance: Instance) -> list[float]:
    return list(map(float, expected_microseconds(instance.items, instance.known)))


def forkjoin_mean_weights(instance: Instance) -> list[float]:
    costs = dict(zip(instance.items, mean_weights(instance), strict=True))
    return list(map(float, expected_microseconds(instance.items, costs)))


def recorded_weights(instance: Instance) -> list[float]:
    return [float(round(instance.recorded[item] * 1e6)) for item in instance.items]


def true_weights(instance: Instance) -> list[float]:
    return [float(round(seconds * 1e6)) for seconds in instance.truth]


def reference_lpt(weights: list[float], items: list[str], k: int) -> list[list[int]]:
    """pytest-split's least_duration: sorted by name, then stably by cost, descending."""
    order = sorted(range(len(items)), key=items.__getitem__)
    order.sort(key=weights.__getitem__, reverse=True)
    heap = [(0.0, group) for group in range(k)]
    groups: list[list[int]] = [[] for _ in range(k)]
    for index in order:
        load, group = heapq.heappop(heap)
        groups[group].append(index)
        heapq.heappush(heap, (load + weights[index], group))
    return groups


def pytest_split_chunks(weights: list[float], items: list[str], k: int) -> list[list[int]]:
    """pytest-split's duration_based_chunks: consecutive chunks of about total / k."""
    per_group = sum(weights) / k
    groups: list[list[int]] = [[] for _ in range(k)]
    load, group = 0.0, 0
    for index in range(len(items)):  # collection order
        if load >= per_group and group < k - 1:
            load, group = 0.0, group + 1
        groups[group].append(index)
        load += weights[index]
    return groups


def forkjoin_partition(weights: list[float], items: list[str], k: int) -> list[list[int]]:
    return partition([int(weight) for weight in weights], items, k)


def forkjoin_lpt_only(weights: list[float], items: list[str], k: int) -> list[list[int]]:
    return partition([int(weight) for weight in weights], items, k, refine=False)


PEERS: dict[str, tuple[Weigher, Placer]] = {
    "reference LPT": (mean_weights, reference_lpt),
    "pytest-split chunks": (mean_weights, pytest_split_chunks),
    "forkjoin.partition": (forkjoin_weights, forkjoin_partition),
    "forkjoin LPT only": (forkjoin_weights, forkjoin_lpt_only),
    "forkjoin, mean": (forkjoin_mean_weights, forkjoin_partition),
    "all known": (recorded_weights, forkjoin_partition),
    "oracle": (true_weights, forkjoin_partition),
}


def ratio(groups: list[list[int]], truth: Sequence[float], k: int) -> float:
    """The split's true makespan over the lower bound of any split."""
    makespan = max(sum(truth[index] for index in group) for group in groups)
    return makespan / max(sum(truth) / k, max(truth))


@cache
def load_recorded() -> dict[str, float]:
    return dict(json.loads(DATA.read_text()))


@cache
def per_file() -> dict[str, float]:
    files: dict[str, float] = {}
    for item, seconds in load_recorded().items():
        file = item.split("::")[0]
        files[file] = files.get(file, 0.0) + seconds
    return files


@cache
def instance(scenario: str, seed: int, k: int) -> Instance:
    """The rerun of `seed`; the same for every k except in `coarse`."""
    if scenario != "coarse" and k != GROUP_COUNTS[0]:
        return instance(scenario, seed, GROUP_COUNTS[0])
    rng = random.Random(f"{scenario} {seed} {k}")
    if scenario == "coarse":
        count = rng.randint(k + 1, 3 * k)
        recorded = {f"pkg{number:03}": rng.uniform(5, 30) for number in range(count)}
    else:
        recorded = per_file() if scenario == "files" else load_recorded()
    items = list(recorded)
    truth = [recorded[item] * rng.lognormvariate(0, NOISE_SIGMA) for item in items]
    if scenario == "new-files":
        files = sorted({item.split("::")[0] for item in items})
        new = set(rng.sample(files, round(UNKNOWN_SHARE * len(files))))
        unknown = {item for item in items if item.split("::")[0] in new}
    else:
        unknown = set(rng.sample(items, max(1, round(UNKNOWN_SHARE * len(items)))))
    known = {item: seconds for item, seconds in recorded.items() if item not in unknown}
    return Instance(items, recorded, known, truth)


def compare(scenario: str, seeds: int, peers: dict[str, tuple[Weigher, Placer]]) -> None:
    ratios = {peer: {k: [0.0] * seeds for k in GROUP_COUNTS} for peer in peers}
    for seed in range(seeds):
        weights: dict[tuple[int, str], list[float]] = {}
        for k in GROUP_COUNTS:
            rerun = instance(scenario, seed, k)
            for peer, (weigher, placer) in peers.items():
                key = (id(rerun), peer)
                if key not in weights:
                    weights[key] = weigher(rerun)
                groups = placer(weights[key], rerun.items, k)
                ratios[peer][k][seed] = ratio(groups, rerun.truth, k)
                if peer == "forkjoin.partition" and (seed == 0 or scenario == "coarse"):
                    public = fj.split(rerun.items, k, durations=rerun.known)
                    assert public == [[rerun.items[i] for i in group] for group in groups]
        instance.cache_clear()
    first = instance(scenario, 0, GROUP_COUNTS[0])
    print(
        f"\n### {scenario}: {len(first.items):,} items, {len(first.known):,} known"
        + (" (at k=2)" if scenario == "coarse" else "")
        + f"; makespan / lower bound, mean of {seeds} seeds\n"
    )
    print("| k | " + " | ".join(peers) + " |")
    print("|---:|" + "---:|" * len(peers))
    for k in GROUP_COUNTS:
        cells = [f"{statistics.fmean(ratios[peer][k]):.4f}" for peer in peers]
        print(f"| {k} | " + " | ".join(cells) + " |")
    for label, summary in (("mean", statistics.fmean), ("max", max)):
        per_k = {peer: [statistics.fmean(ratios[peer][k]) for k in GROUP_COUNTS] for peer in peers}
        cells = [f"{summary(per_k[peer]):.4f}" for peer in peers]
        print(f"| **{label}** | " + " | ".join(cells) + " |")
    ours, reference = ratios["forkjoin.partition"], ratios["reference LPT"]
    worse_k = [
        k for k in GROUP_COUNTS if statistics.fmean(ours[k]) > statistics.fmean(reference[k])
    ]
    pairs = [(ours[k][seed], reference[k][seed]) for k in GROUP_COUNTS for seed in range(seeds)]
    better = sum(mine < theirs for mine, theirs in pairs)
    worse = sum(mine > theirs for mine, theirs in pairs)
    print(
        "\nforkjoin.partition against reference LPT: worse on the mean at k = "
        f"{worse_k or 'none'}; "
        f"per (k, seed) better {better}, worse {worse}, equal {len(pairs) - better - worse} "
        f"of {len(pairs)}"
    )


def timing() -> None:
    """Seconds to split 100,000 items into 64 groups, 10% of them unknown; best of 3."""
    recorded = load_recorded()
    rng = random.Random(0)
    copies = {  # numpy's tests, twice more under other directories: 100,000 of them
        f"copy{copy}/{item}" if copy else item: seconds
        for copy in range(3)
        for item, seconds in recorded.items()
    }
    items = list(copies)[:100_000]
    rng.shuffle(items)
    unknown = set(rng.sample(items, len(items) // 10))
    known = {item: copies[item] for item in items if item not in unknown}

    def reference() -> object:
        return reference_lpt(mean_weights(Instance(items, known, known, [])), items, 64)

    def ours() -> object:
        return fj.split(items, 64, durations=known)

    print(f"\n### time to split {len(items):,} items into 64 groups, 10% unknown, best of 3\n")
    print("| peer | seconds |")
    print("|---|---:|")
    for peer, run in (("reference LPT", reference), ("forkjoin.partition", ours)):
        best = min(_seconds(run) for _ in range(3))
        print(f"| {peer} | {best:.3f} |")
    assert fj.split(sorted(items), 64, durations=known) == ours(), "input order mattered"


def _seconds(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append", default=None)
    parser.add_argument(
        "--peer",
        choices=[peer for peer in PEERS if peer not in ("reference LPT", "forkjoin.partition")],
        action="append",
        default=None,
        help="Another peer to show beside the reference and forkjoin.partition (default: all).",
    )
    parser.add_argument("--no-timing", action="store_true", help="Skip the 100k-item timing.")
    options = parser.parse_args()
    shown = {"reference LPT", "forkjoin.partition", *(options.peer or PEERS)}
    peers = {name: PEERS[name] for name in PEERS if name in shown}
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: this benchmark needs numpy's recorded test durations")
    recorded = load_recorded()
    print(f"data: {DATA.name}, {len(recorded):,} tests, {sum(recorded.values()):.1f} s in all")
    for scenario in options.scenario or SCENARIOS:
        compare(scenario, options.seeds, peers)
    if not options.no_timing:
        timing()


if __name__ == "__main__":
    main()
