"""`forkjoin run` against make -j and xargs -P on steps that do nothing (`true`).

    python benchmarks/bench_workflow.py [--steps 500] [--repeat 3]

Every command runs as a subprocess, in one process of this script, in the same
conditions: what is measured is each tool's own cost of scheduling and starting
processes. Prints wall seconds, ms per step and the ratio to make.

`python floor` is the least any runner written in Python can take: a bare
interpreter whose two threads start `sh -c true` with `subprocess` and read its
pipe, with no file to read, no log, no history and no scheduling.

forkjoin's bytecode is compiled before the timings (this machine sets
PYTHONDONTWRITEBYTECODE, and an editable install compiles nothing), as
`pip install .` compiles it for a user.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def independent_workflow(steps: int) -> str:
    lines = ["steps:"]
    lines += [f"  s{index}: {{run: 'true'}}" for index in range(steps)]
    return "\n".join(lines) + "\n"


def layered_workflow(width: int, depth: int) -> str:
    """`depth` layers of `width` steps, each needing every step of the layer before."""
    lines = ["steps:"]
    for layer in range(depth):
        for index in range(width):
            needs = [f"l{layer - 1}_{other}" for other in range(width)] if layer else []
            lines.append(f"  l{layer}_{index}: {{run: 'true', needs: [{', '.join(needs)}]}}")
    return "\n".join(lines) + "\n"


def makefile(steps: int) -> str:
    targets = " ".join(f"s{index}" for index in range(steps))
    return f".PHONY: all {targets}\nall: {targets}\n" + "".join(
        f"s{index}:\n\t@true\n" for index in range(steps)
    )


PYTHON_FLOOR = """
import subprocess, sys, threading
steps = iter(range(int(sys.argv[1])))
lock = threading.Lock()
def slot():
    while True:
        with lock:
            if next(steps, None) is None:
                return
        process = subprocess.Popen(["/bin/sh", "-c", "true"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        process.stdout.read()
        process.wait()
threads = [threading.Thread(target=slot) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def time_once(command: list[str], cwd: Path, **kwargs: object) -> float:
    began = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kwargs,  # type: ignore[call-overload]
    )
    return time.perf_counter() - began


def best_of_interleaved(
    repeat: int, peers: dict[str, tuple[list[str], dict[str, object]]], cwd: Path
) -> dict[str, float]:
    """The best of `repeat` runs of each peer, one round of every peer after another,
    so that a change of the machine's load falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeat):
        for name, (command, kwargs) in peers.items():
            times[name].append(time_once(command, cwd, **kwargs))
    return {name: min(runs) for name, runs in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    steps, repeat = options.steps, options.repeat
    forkjoin = [sys.executable, "-m", "forkjoin.cli", "run"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "forkjoin.yaml").write_text(independent_workflow(steps))
        (work / "Makefile").write_text(makefile(steps))
        (work / "layers.yaml").write_text(layered_workflow(10, 10))
        items = "\n".join(["true"] * steps) + "\n"
        compiled = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        time_once([*forkjoin, "-j2", "--output", "quiet"], work, env=compiled)
        best = best_of_interleaved(
            repeat,
            {
                "make -j2": (["make", "-s", "-j2"], {}),
                "xargs -P2": (["xargs", "-P2", "-n1", "sh", "-c"], {"input": items.encode()}),
                "python floor": ([sys.executable, "-c", PYTHON_FLOOR, str(steps)], {}),
                "forkjoin run -j2": ([*forkjoin, "-j2", "--output", "quiet"], {}),
                "start-up": ([sys.executable, "-m", "forkjoin.cli", "--help"], {}),
                "layers": ([*forkjoin, "-f", "layers.yaml", "-j2", "--output", "quiet"], {}),
            },
            work,
        )
        start_up, layers = best.pop("start-up"), best.pop("layers")
        rows = list(best.items())
        shutil.rmtree(work / ".forkjoin", ignore_errors=True)
    make_seconds = rows[0][1]
    print(
        f"# {steps} independent `true` steps at 2 at once; best of {repeat}; "
        f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'runner':18} {'wall s':>8} {'ms/step':>8} {'x make':>7}")
    for name, seconds in rows:
        print(
            f"{name:18} {seconds:8.3f} {seconds / steps * 1000:8.2f} {seconds / make_seconds:7.2f}"
        )
    print("target: forkjoin <= 1.3x make")
    print()
    print("# a 100-step graph (10 layers of 10, each needing the whole layer before), -j2")
    print(
        f"forkjoin run: {layers:.3f} s wall, of which {start_up:.3f} s is starting "
        f"`forkjoin` itself; {(layers - start_up) / 100 * 1000:.2f} ms per step"
    )


if __name__ == "__main__":
    main()
