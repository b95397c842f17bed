"""The plugin's command-line options, declared; and whether any was given.

This module is imported at every pytest start, active or not, so it holds no
dataclass and no regular expression (each costs a few milliseconds to build):
`_settings.py`, imported only when the plugin is active, reads the options.
"""

from __future__ import annotations

import argparse

import pytest

__all__ = ["add_options", "is_requested"]

# The options that make the plugin active, as pytest names their values.
_ACTIVATING = (
    "fj_splits",
    "fj_group",
    "fj_workers",
    "fj_record",
    "fj_durations",
    "fj_max_worker_rss",
)


def add_options(parser: pytest.Parser) -> None:
    """Declare the `--fj-*` options in their own group of `pytest --help`."""
    group = parser.getgroup("forkjoin", "forkjoin: split by timings, run in parallel, record")
    group.addoption(
        "--fj-splits",
        metavar="N",
        help="Split the suite into N groups balanced by recorded durations (with --fj-group).",
    )
    group.addoption(
        "--fj-group",
        metavar="I",
        help="Run group I (1-based) of --fj-splits N.",
    )
    group.addoption(
        "--fj-durations",
        metavar="FILE",
        help="Balance the split by this file (pytest-split's .test_durations or a JUnit XML)"
        " instead of the history.",
    )
    group.addoption(
        "--fj-workers",
        metavar="N|auto",
        help="Run the tests on N forked worker processes (auto: one per CPU).",
    )
    group.addoption(
        "--fj-max-worker-rss",
        metavar="SIZE",
        help="Replace a worker whose resident memory grew past SIZE (e.g. 500M, 2G), between"
        " tests.",
    )
    group.addoption(
        "--fj-history",
        metavar="PATH",
        help="The history file (default: $FORKJOIN_HISTORY, else .forkjoin/history.db under"
        " the rootdir).",
    )
    group.addoption(
        "--fj-record",
        action="store_true",
        default=False,
        help="Record each test's setup, call and teardown in the history (implied by the other"
        " --fj-* options).",
    )
    # Hidden: forces the fallback used where fork is unavailable, so it can be tested.
    group.addoption("--fj-use-xdist", action="store_true", default=False, help=argparse.SUPPRESS)


def is_requested(config: pytest.Config) -> bool:
    """Whether the command line asked anything of the plugin."""
    return any(config.getoption(name) for name in _ACTIVATING)
