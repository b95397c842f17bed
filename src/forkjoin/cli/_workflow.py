"""`forkjoin run` and `forkjoin graph`: the workflow commands, parsing and wiring only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from forkjoin.workflow import Workflow

__all__ = ["graph", "run"]

# The formats of forkjoin.report.FORMATS, written out because importing the report
# here would slow every command's start; a test keeps the two equal.
_GRAPH_FORMATS = ("text", "mermaid", "dot", "json")
_TIMES = "\N{MULTIPLICATION SIGN}"


# The -f option of every command that reads a workflow.
_workflow_file = click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="forkjoin.yaml",
    show_default=True,
    help="The workflow file.",
)


@click.command()
@_workflow_file
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


@click.command()
@_workflow_file
@click.option(
    "-j",
    "--max-concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Steps at once (default: $FORKJOIN_MAX_CONCURRENCY, else the file's, else 1).",
)
@click.option("--keep-going", is_flag=True, help="Run everything not downstream of a failure.")
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a JSON summary of the run to this file.",
)
@click.option(
    "--output",
    type=click.Choice(["prefixed", "grouped", "quiet"]),
    default=None,
    help="prefixed: [step] line, as it comes; grouped: a block per step when it ends; "
    "quiet: only failing steps. Default: unchanged at -j 1, else prefixed.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and start nothing.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds between SIGINT and SIGKILL on Ctrl-C.",
)
@click.argument("steps", nargs=-1, metavar="[STEP]...")
def run(
    path: Path,
    max_concurrency: int | None,
    keep_going: bool,
    summary_json: Path | None,
    output: str | None,
    dry_run: bool,
    grace: float,
    steps: tuple[str, ...],
) -> None:
    """Run the workflow's steps, each once all it needs has succeeded.

    STEP... runs only these steps and what they need; glob patterns such as 'test-*'
    select several. Exits 0 when every step succeeded, 1 when one failed, 2 for a bad
    file or flag, 130 when interrupted (Ctrl-C or SIGTERM).
    """
    import json
    import signal
    import threading

    from forkjoin.workflow import Run, choose_concurrency, choose_status, load

    try:
        workflow = load(path)
        if steps:
            workflow = workflow.select(steps)
        concurrency = choose_concurrency(max_concurrency, workflow)
        if dry_run:
            from forkjoin.report import draw

            plan = draw(workflow.graph(), "text", labels=_item_labels(workflow))
            click.echo(f"dry run: {len(workflow.steps)} steps, {concurrency} at once; nothing ran")
            click.echo(plan, nl=False)
            return
        status = choose_status(len(workflow.steps), only_failures=output == "quiet")
        running = Run(
            workflow,
            max_concurrency=concurrency,
            failure_mode="keep_going" if keep_going else None,
            grace=grace,
            output=output,
            status=status,
        )
    except ValueError as error:  # WorkflowError, or a bad $FORKJOIN_MAX_CONCURRENCY
        click.echo(str(error), err=True)
        raise SystemExit(2) from None
    # The handler only sets events: the engine's lock may be held by the very thread
    # the signal interrupts, so the waiting loops do the interrupting. A second Ctrl-C
    # kills what is still ending at once, as in make and docker compose.
    interrupt_requested = threading.Event()
    kill_requested = threading.Event()

    def on_signal(_number: int, _frame: object) -> None:
        (kill_requested if interrupt_requested.is_set() else interrupt_requested).set()

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in handled}
    for number in handled:
        signal.signal(number, on_signal)
    try:
        with status:
            running.start()
            running.wait(interrupt_requested)
            running.finish(kill_requested)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if summary_json is not None:
        summary_json.write_text(json.dumps(running.summary(), indent=2) + "\n")
    raise SystemExit(running.exit_code)


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
