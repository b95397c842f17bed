"""The plugin's options of this run, read into one value and checked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["Options", "parse_size", "read_options"]

_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]?)(?:i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line asked of the plugin (None and False: not asked)."""

    splits: int | None = None
    group: int | None = None
    durations: Path | None = None
    workers: int | None = None
    max_worker_rss: int | None = None
    history: str | None = None
    record: bool = False
    use_xdist: bool = False


def read_options(config: pytest.Config) -> Options:
    """The options of this run; raises pytest.UsageError naming the option and the fix."""
    splits = _positive(config.getoption("fj_splits"), "--fj-splits N")
    group = _positive(config.getoption("fj_group"), "--fj-group I")
    if (splits is None) != (group is None):
        raise pytest.UsageError("--fj-splits N and --fj-group I go together: give both")
    if splits is not None and group is not None and group > splits:
        raise pytest.UsageError(f"--fj-group {group} is past --fj-splits {splits}: use 1..{splits}")
    durations_text = config.getoption("fj_durations")
    durations = None
    if durations_text:
        if splits is None:
            raise pytest.UsageError("--fj-durations FILE balances a split: add --fj-splits N")
        durations = Path(config.invocation_params.dir, durations_text)
    workers = _workers(config.getoption("fj_workers"))
    rss_text = config.getoption("fj_max_worker_rss")
    max_worker_rss = None
    if rss_text:
        if workers is None:
            raise pytest.UsageError("--fj-max-worker-rss recycles workers: add --fj-workers N")
        max_worker_rss = parse_size(rss_text)
    return Options(
        splits=splits,
        group=group,
        durations=durations,
        workers=workers,
        max_worker_rss=max_worker_rss,
        history=config.getoption("fj_history") or None,
        record=bool(config.getoption("fj_record")),
        use_xdist=bool(config.getoption("fj_use_xdist")),
    )


def parse_size(text: str) -> int:
    """`500M`, `2G`, `1.5GiB`, `100MB` or bytes as bytes; K, M, G, T are powers of 1024."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or float(match["number"]) <= 0:
        raise pytest.UsageError(
            f"--fj-max-worker-rss {text}: give a size such as 500M or 2G (K, M, G: powers of 1024)"
        )
    return int(float(match["number"]) * _UNITS[match["unit"].lower()])


def _positive(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise pytest.UsageError(f"{option}: {text!r} is not a whole number of at least 1")
    return value


def _workers(text: str | None) -> int | None:
    if text is None:
        return None
    if text.strip().lower() == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    return _positive(text, "--fj-workers N")
