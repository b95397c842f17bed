"""Where a step's command runs: here, or on a worker of a Dask or Ray cluster.

A run asks its launcher to start each command and gets a `StepProcess` back; it
reads the lines, signals the process group and collects the outputs the same way
wherever the command runs. So the policy (what starts when, retries, timeouts,
Ctrl-C), the logs, the live display and the summary stay in `Run`, unchanged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol

from forkjoin.workflow._shell import LocalProcess, StepProcess, start

__all__ = ["LAUNCHERS", "Launcher", "LocalLauncher", "make_launcher"]

LAUNCHERS = ("local", "dask", "ray")
_PYTHON = os.fsencode(sys.executable)


class Launcher(Protocol):
    """Starts the commands of one run.

    `inherits_environment` is False when commands run elsewhere: their environment
    is then what the file sets, over the worker's own, never this machine's.
    """

    inherits_environment: bool

    def start(
        self, command: str, *, cwd: Path, env: dict[bytes, bytes], output_path: Path
    ) -> StepProcess:
        """Start `sh -c command`; raises OSError when it cannot start here."""
        ...

    def close(self) -> None:
        """Let go of what the launcher holds (a cluster it started)."""
        ...


class LocalLauncher:
    """Commands as process groups of this machine."""

    inherits_environment = True

    def start(
        self, command: str, *, cwd: Path, env: dict[bytes, bytes], output_path: Path
    ) -> StepProcess:
        env[b"FORKJOIN_OUTPUT"] = bytes(output_path)
        env[b"FORKJOIN_PYTHON"] = _PYTHON  # the Python a `call:` step runs in
        return LocalProcess(start(command, cwd=cwd, env=env), output_path)

    def close(self) -> None:
        pass


def make_launcher(name: str, address: str | None, workers: int) -> Launcher:
    """The launcher called `name` (one of LAUNCHERS); "dask" and "ray" connect to
    `address`, or start a local cluster of `workers` processes.

    Raises ValueError for an unknown name or an address given to "local", ImportError
    naming the extra when Dask or Ray is missing, OSError (or Ray's ConnectionError)
    when the cluster cannot be reached.
    """
    if name == "local":
        if address is not None:
            raise ValueError(
                f"an address ({address}) is for a cluster: add `--executor dask` (or ray)"
            )
        return LocalLauncher()
    if name == "dask":
        from forkjoin.workflow._cluster import DaskLauncher

        return DaskLauncher(address, workers)
    if name == "ray":
        from forkjoin.workflow._cluster import RayLauncher

        return RayLauncher(address, workers)
    raise ValueError(f"unknown executor {name!r}: use one of {', '.join(LAUNCHERS)}")
