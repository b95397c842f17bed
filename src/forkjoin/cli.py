"""The `forkjoin` command: parsing and wiring only (DESIGN.md, "Layers").

Start-up time matters here, so nothing heavy is imported at module level: each
command imports what it needs when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from forkjoin import __version__

if TYPE_CHECKING:
    from forkjoin.workflow import Workflow

__all__ = ["main"]

# The formats of forkjoin.report.FORMATS, written out because importing the report
# here would slow every command's start; a test keeps the two equal.
_GRAPH_FORMATS = ("text", "mermaid", "dot", "json")
_TIMES = "\N{MULTIPLICATION SIGN}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


@main.command()
@click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="forkjoin.yaml",
    show_default=True,
    help="The workflow file.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(_GRAPH_FORMATS),
    default="text",
    show_default=True,
    help="text: the plan in order, with the critical path; json: nodes and edges.",
)
@click.argument("steps", nargs=-1, metavar="[STEP]...")
def graph(path: Path, format_: str, steps: tuple[str, ...]) -> None:
    """Draw the workflow's graph: each step and what it needs.

    STEP... keeps only these steps and what they need; glob patterns such as
    'test-*' select several. A bad file prints where it is wrong and exits 2.
    """
    from forkjoin.errors import WorkflowError
    from forkjoin.report import draw
    from forkjoin.workflow import load

    try:
        workflow = load(path)
        if steps:
            workflow = workflow.select(steps)
        drawing = draw(workflow.graph(), format_, labels=_item_labels(workflow))
    except WorkflowError as error:
        click.echo(str(error), err=True)
        raise SystemExit(2) from None
    click.echo(drawing, nl=False)


def _item_labels(workflow: Workflow) -> dict[str, str]:
    """`deploy ×3` for a step of three items, `deploy ×?` if only a run can tell."""  # noqa: RUF002
    labels = {}
    for name, step in workflow.steps.items():
        try:
            count = str(len(step.items()) or "")
        except ValueError:  # the items are a step's output
            count = "?"
        if count:
            labels[name] = f"{name} {_TIMES}{count}"
    return labels


if __name__ == "__main__":  # pragma: no cover
    main()
