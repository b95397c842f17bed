"""The `forkjoin` command: parsing and wiring only (DESIGN.md, "Layers").

Start-up time matters here, so nothing heavy is imported at module level: each
command imports what it needs when it runs. One module per family of commands.
"""

from __future__ import annotations

from forkjoin.cli import _startup

_startup.install()  # first of all: a Ctrl-C while the imports below run exits 130

import click  # noqa: E402

from forkjoin import __version__  # noqa: E402
from forkjoin.cli._history import history_group  # noqa: E402
from forkjoin.cli._split import split_command  # noqa: E402
from forkjoin.cli._usage import OneLineUsageGroup  # noqa: E402
from forkjoin.cli._workflow import graph, plan, run  # noqa: E402

__all__ = ["main"]


@click.group(
    "forkjoin", cls=OneLineUsageGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="forkjoin")
def main() -> None:
    """Run work as a graph, in parallel, and get faster with every run.

    The Python API is `import forkjoin as fj`: fj.spawn, fj.fetch, fj.map,
    fj.delayed; see the README.
    """


@main.command()
@click.option(
    "--executor",
    type=click.Choice(["threads", "processes", "inline"]),
    default="threads",
    show_default=True,
    help="Where the example's tasks run.",
)
@click.option(
    "-j", "--workers", type=click.IntRange(min=1), default=None, help="Workers (default: CPUs)."
)
def demo(executor: str, workers: int | None) -> None:
    """Run a small task graph and show what ran where, and how long it took."""
    from forkjoin._demo import run_demo

    run_demo(executor, workers)


main.add_command(graph)
main.add_command(run)
main.add_command(plan)
main.add_command(history_group)
main.add_command(split_command)
