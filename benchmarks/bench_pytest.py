"""The pytest plugin against plain pytest, pytest-xdist and pytest-split, in one run.

    python benchmarks/bench_pytest.py                   # everything (about 20 minutes here)
    python benchmarks/bench_pytest.py --quick           # 2,000 trivial tests and the skewed suite
    python benchmarks/bench_pytest.py --only skewed     # trivial | skewed | real | split
    python benchmarks/bench_pytest.py --only ab --against OLD/src --repeat 9

Every suite is generated (or downloaded) into a temporary folder with its own
`pytest.ini`, and each peer is a `python -m pytest` process there; its wall time is
measured around the process, its CPU time (user + system, workers included) from
`getrusage(RUSAGE_CHILDREN)`. Each peer runs `--repeat` times, interleaved with the
others, and the best run counts. The plugins of this venv that the suites do not use
(hypothesis, and pytest-split except where it is the peer) are left out of every
peer alike.

- `trivial`: 2,000 and 20,000 tests that `pass`, 100 per file. Peers: plain pytest,
  `-n 2`, `--fj-workers 2` (second run: with history), and `--fj-record` (serial,
  recording only). Overhead per test = (wall - plain wall) / tests.
- `skewed`: 400 tests of 10 ms in 10 files, then a file of three tests of 1.6 s,
  1.2 s and 0.8 s, the longest defined last. `--fj-workers 2` (second run, with
  history) against `-n 2` and `-n 2 --dist worksteal`; the ideal is half the serial
  time.
- `real`: Pygments' test suite from its sdist (`pip download --no-binary :all:`),
  run against the sdist's own package: plain, `-n 2`, `--fj-workers 2` (second run).
  Pass counts are compared with the serial run. `tests/contrast` is left out: it
  needs `wcag-contrast-ratio`, which nothing else here does.
- `split`: the real suite in 3 groups. Durations come from one serial run that
  records both forkjoin's history and pytest-split's `.test_durations`; then each
  group runs serially with `--fj-splits 3 --fj-group i`, and with pytest-split's
  `--splits 3 --group i`. The figure is the largest group's test time (JUnit, setup +
  call + teardown) over the lower bound max(total / 3, longest test).
- `ab`: a change against the code before it (`--against` a copy of the old `src/`,
  put first on PYTHONPATH): the trivial suites of 2,000 and 20,000 tests, plain,
  `-n 2`, and `--fj-workers 2` from either source, each forkjoin peer with a history
  of its own (made by a first run). Medians of `--repeat` runs (of 2,000; a third
  as many of 20,000), interleaved, with the load average around them.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

QUIET = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider")
NO_SPLIT = ("-p", "no:pytest_split")
PYGMENTS_TESTS = ("tests", "--ignore=tests/contrast")
_SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


@dataclass(frozen=True, slots=True)
class Timing:
    """One peer's best run: wall and CPU seconds, and what pytest's summary counted."""

    wall: float
    cpu: float
    counts: dict[str, int]


def run(directory: Path, arguments: Sequence[str], env: dict[str, str] | None = None) -> Timing:
    """One `python -m pytest` in `directory`, timed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *QUIET, *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = result.stdout.strip().splitlines()[-1:] or [""]
    counts = {
        kind.rstrip("s") + ("s" if kind == "errors" else ""): int(number)
        for number, kind in _SUMMARY.findall(tail[0])
    }
    if result.returncode not in (0, 1):
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"pytest {' '.join(arguments)} in {directory} exited {result.returncode}")
    return Timing(wall, cpu, counts)


def best_of(
    directory: Path,
    peers: dict[str, Sequence[str]],
    repeat: int,
    env: dict[str, str] | None = None,
) -> dict[str, Timing]:
    """Each peer `repeat` times, interleaved; the run with the least wall time of each."""
    best: dict[str, Timing] = {}
    for _ in range(repeat):
        for name, arguments in peers.items():
            timing = run(directory, arguments, env)
            if name not in best or timing.wall < best[name].wall:
                best[name] = timing
    return best


def median_of(
    directory: Path, peers: dict[str, tuple[Sequence[str], dict[str, str] | None]], repeat: int
) -> dict[str, Timing]:
    """Each peer `repeat` times, interleaved; the median wall and CPU of each."""
    runs: dict[str, list[Timing]] = {name: [] for name in peers}
    for _ in range(repeat):
        for name, (arguments, env) in peers.items():
            runs[name].append(run(directory, arguments, env))
    return {
        name: Timing(
            statistics.median(t.wall for t in timings),
            statistics.median(t.cpu for t in timings),
            timings[0].counts,
        )
        for name, timings in runs.items()
    }


def table(title: str, timings: dict[str, Timing], tests: int, reference: str, peer: str) -> None:
    plain = timings[reference].wall
    print(f"\n{title}")
    print(
        f"  {'peer':34} {'wall s':>8} {'cpu s':>8} {'ms/test':>8} {'overhead':>9}"
        f" {'/ ' + reference:>10} {'/ ' + peer:>12}"
    )
    for name, timing in timings.items():
        overhead = (timing.wall - plain) / tests * 1000
        against_peer = timing.wall / timings[peer].wall
        print(
            f"  {name:34} {timing.wall:8.2f} {timing.cpu:8.2f} {timing.wall / tests * 1000:8.3f}"
            f" {overhead:+8.3f}ms {timing.wall / plain:10.2f} {against_peer:12.2f}"
        )


def new_suite(root: Path, name: str) -> Path:
    directory = root / name
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n")
    return directory


def trivial_suite(root: Path, tests: int) -> Path:
    directory = new_suite(root, f"trivial-{tests}")
    per_file = 100
    for number in range(tests // per_file):
        body = "".join(f"def test_{index}():\n    pass\n\n" for index in range(per_file))
        (directory / f"test_m{number:04d}.py").write_text(body)
    return directory


def trivial(root: Path, tests: int, repeat: int) -> None:
    directory = trivial_suite(root, tests)
    run(directory, ("--fj-workers", "2", *NO_SPLIT))  # the first run: it makes the history
    peers = {
        "pytest (serial)": NO_SPLIT,
        "pytest --fj-record (serial)": ("--fj-record", *NO_SPLIT),
        "pytest -n 2 (xdist)": ("-n", "2", *NO_SPLIT),
        "pytest --fj-workers 2": ("--fj-workers", "2", *NO_SPLIT),
    }
    timings = best_of(directory, peers, repeat)
    table(
        f"{tests:,} trivial tests, best of {repeat}",
        timings,
        tests,
        "pytest (serial)",
        "pytest -n 2 (xdist)",
    )


def against(root: Path, old_source: Path, repeat: int) -> None:
    new_source = Path(__file__).resolve().parents[1] / "src"
    for tests, runs in ((2_000, repeat), (20_000, max(1, repeat // 3))):
        directory = trivial_suite(root, tests)
        here = {**os.environ, "PYTHONPATH": str(new_source)}
        peers: dict[str, tuple[Sequence[str], dict[str, str] | None]] = {
            "pytest (serial)": (NO_SPLIT, here),
            "pytest -n 2 (xdist)": (("-n", "2", *NO_SPLIT), here),
        }
        for name, source in (("before", old_source), ("after", new_source)):
            env = {**os.environ, "PYTHONPATH": str(source)}
            arguments = ("--fj-workers", "2", f"--fj-history={root / name}-{tests}.db", *NO_SPLIT)
            run(directory, arguments, env)  # the first run: it makes the history
            peers[f"pytest --fj-workers 2, {name}"] = (arguments, env)
        load = f"load {os.getloadavg()[0]:.2f}"
        timings = median_of(directory, peers, runs)
        table(
            f"{tests:,} trivial tests, median of {runs}, {load} -> {os.getloadavg()[0]:.2f}",
            timings,
            tests,
            "pytest (serial)",
            "pytest -n 2 (xdist)",
        )


SHORT = """
import time
import pytest

@pytest.mark.parametrize("n", range(40))
def test_short(n):
    time.sleep(0.01)
"""
LONG = """
import time

def test_long_a():
    time.sleep(0.8)

def test_long_b():
    time.sleep(1.2)

def test_long_c():
    time.sleep(1.6)
"""


def skewed(root: Path, repeat: int) -> None:
    directory = new_suite(root, "skewed")
    for number in range(10):
        (directory / f"test_short_{number}.py").write_text(SHORT)
    (directory / "test_zz_long.py").write_text(LONG)
    run(directory, ("--fj-workers", "2", *NO_SPLIT))  # the first run: it makes the history
    peers = {
        "pytest (serial)": NO_SPLIT,
        "pytest -n 2 (xdist load)": ("-n", "2", *NO_SPLIT),
        "pytest -n 2 --dist worksteal": ("-n", "2", "--dist", "worksteal", *NO_SPLIT),
        "pytest --fj-workers 2": ("--fj-workers", "2", *NO_SPLIT),
    }
    timings = best_of(directory, peers, repeat)
    table(
        f"skewed suite (403 tests, 7.6 s of sleep), best of {repeat}",
        timings,
        403,
        "pytest (serial)",
        "pytest -n 2 (xdist load)",
    )
    print(f"  ideal on 2 workers: {7.6 / 2:.2f} s of tests, plus start-up")


def pygments(root: Path) -> tuple[Path, dict[str, str]]:
    """Pygments' sdist, extracted: its folder, and the environment that runs its tests."""
    download = root / "download"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--quiet",
            "-d",
            str(download),
            "pygments",
        ],
        check=True,
    )
    (archive,) = download.glob("*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(root, filter="data")
    (directory,) = (path for path in root.iterdir() if path.name.lower().startswith("pygments-"))
    (directory / "pytest.ini").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(directory)}  # the sdist's package, not the venv's
    return directory, env


def real(root: Path, repeat: int) -> None:
    directory, env = pygments(root)
    run(directory, ("--fj-workers", "2", *NO_SPLIT, *PYGMENTS_TESTS), env)  # makes the history
    peers = {
        "pytest (serial)": (*NO_SPLIT, *PYGMENTS_TESTS),
        "pytest -n 2 (xdist)": ("-n", "2", *NO_SPLIT, *PYGMENTS_TESTS),
        "pytest --fj-workers 2": ("--fj-workers", "2", *NO_SPLIT, *PYGMENTS_TESTS),
    }
    timings = best_of(directory, peers, repeat, env)
    tests = sum(timings["pytest (serial)"].counts.values())
    table(
        f"Pygments {directory.name[9:]} ({tests:,} tests), best of {repeat}",
        timings,
        tests,
        "pytest (serial)",
        "pytest -n 2 (xdist)",
    )
    for name, timing in timings.items():
        print(f"  {name:34} {timing.counts}")


def _group_seconds(path: Path) -> tuple[float, list[float]]:
    """The total of a JUnit report's testcase times, and each of them."""
    times = [
        float(case.get("time", 0)) for case in ElementTree.parse(path).getroot().iter("testcase")
    ]
    return sum(times), times


def split_quality(root: Path) -> None:
    directory, env = pygments(root) if not (root / "download").exists() else _found(root)
    record = run(
        directory,
        (
            "--fj-record",
            "-p",
            "pytest_split",
            "--store-durations",
            "--durations-path",
            "durations.json",
            "--junitxml",
            "all.xml",
            "-o",
            "junit_duration_report=total",
            *PYGMENTS_TESTS,
        ),
        env,
    )
    total, times = _group_seconds(directory / "all.xml")
    bound = max(total / 3, max(times))
    print(
        f"\nsplit of Pygments into 3 groups ({sum(record.counts.values()):,} tests,"
        f" {total:.2f} s of tests; lower bound {bound:.2f} s)"
    )
    print(f"  {'peer':14} {'group tests s':>30} {'largest / bound':>16}")
    peers = {
        "forkjoin": lambda group: ("--fj-splits", "3", "--fj-group", str(group), *NO_SPLIT),
        "pytest-split": lambda group: (
            "-p",
            "pytest_split",
            "--splits",
            "3",
            "--group",
            str(group),
            "--durations-path",
            "durations.json",
        ),
    }
    for name, arguments in peers.items():
        seconds = []
        for group in (1, 2, 3):
            report = directory / f"{name}-{group}.xml"
            run(
                directory,
                (
                    *arguments(group),
                    "--junitxml",
                    str(report),
                    "-o",
                    "junit_duration_report=total",
                    *PYGMENTS_TESTS,
                ),
                env,
            )
            seconds.append(_group_seconds(report)[0])
        shown = " ".join(f"{value:8.2f}" for value in seconds)
        print(f"  {name:14} {shown:>30} {max(seconds) / bound:16.3f}")


def _found(root: Path) -> tuple[Path, dict[str, str]]:
    (directory,) = (path for path in root.iterdir() if path.name.lower().startswith("pygments-"))
    return directory, {**os.environ, "PYTHONPATH": str(directory)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=("trivial", "skewed", "real", "split", "ab"), action="append"
    )
    parser.add_argument("--against", type=Path, help="with --only ab: the old src/ folder")
    parser.add_argument("--quick", action="store_true", help="2,000 trivial tests and skewed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    wanted = set(
        options.only
        or (("trivial", "skewed") if options.quick else ("trivial", "skewed", "real", "split"))
    )
    root = Path(tempfile.mkdtemp(prefix="bench-pytest-"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, suites in {root}")
    try:
        if "trivial" in wanted:
            trivial(root, 2_000, options.repeat)
            if not options.quick:
                trivial(root, 20_000, max(1, options.repeat - 2))
        if "skewed" in wanted:
            skewed(root, options.repeat)
        if "real" in wanted:
            real(root, options.repeat)
        if "split" in wanted:
            split_quality(root)
        if "ab" in wanted:
            if options.against is None:
                parser.error("--only ab needs --against OLD_SRC")
            against(root, options.against.resolve(), options.repeat)
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
