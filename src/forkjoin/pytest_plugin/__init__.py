"""The pytest plugin: split a suite across CI nodes, run it on forked workers, record it.

    pytest --fj-splits 3 --fj-group 2      # this CI node's third, balanced by history
    pytest --fj-workers auto               # collect once, fork, pull queue from history
    pytest --fj-record                     # a plain serial run that only records

It is registered through the `pytest11` entry point and stays inactive unless one of
its `--fj-*` options is given: then this module has declared the options and
imported nothing else (no SQLite, no scheduler), so a suite that does not use it pays
nothing. docs/pytest.md tells the design and the measured figures.
"""

from __future__ import annotations

import pytest

from forkjoin.pytest_plugin._options import add_options, is_requested

__all__ = ["pytest_addoption", "pytest_configure"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


# tryfirst: the fallback to pytest-xdist sets its options before xdist reads them.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not is_requested(config):
        return
    from forkjoin.pytest_plugin._activate import activate

    activate(config)
