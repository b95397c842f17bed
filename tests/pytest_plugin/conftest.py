"""Fixtures for the plugin's tests: pytester, and pytest runs in a real process.

`pytest_plugins = ["pytester"]` is refused in a conftest below the rootdir ("no
longer supported"), so pytester is registered here, when this folder is collected:
its options then take their defaults.

Runs that fork workers go through `forked`, a real `python -m pytest` process: a
fork of this test process would carry its threads and its own pytest along. Both
kinds of run leave out this venv's plugins the inner suites do not use; loading
them costs about a second per process here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from forkjoin.pytest_plugin._split import SPLIT_SET_VARIABLES

# Plugins installed beside forkjoin that the inner runs have no use for.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:pytest_split", "-p", "no:xdist")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True)
def _own_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each inner run keeps its history in its own folder, never a shared one, and
    is in no split set unless its test says so (a CI run sets GITHUB_RUN_ID)."""
    monkeypatch.delenv("FORKJOIN_HISTORY", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    for name in SPLIT_SET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def inprocess(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    """pytest run inside this process: for runs that do not fork."""

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_inprocess(*QUIET, *args)

    return run


@pytest.fixture
def forked(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    """pytest run as its own process: for runs with --fj-workers."""

    def run(*args: str, timeout: float = 60) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*QUIET, *args, timeout=timeout)

    return run
