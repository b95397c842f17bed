"""`forkjoin run` and `forkjoin graph`: the workflow commands, parsing and wiring only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from forkjoin.cli._options import history_option, workflow_file_option

if TYPE_CHECKING:
    import threading

    from forkjoin.workflow import Prediction, Workflow

__all__ = ["graph", "plan", "run"]

# The formats of forkjoin.report.FORMATS, written out because importing the report
# here would slow every command's start; a test keeps the two equal.
_GRAPH_FORMATS = ("text", "mermaid", "dot", "json")
# As forkjoin.workflow.LAUNCHERS, for the same reason.
_EXECUTORS = ("local", "dask", "ray")
_TIMES = "\N{MULTIPLICATION SIGN}"


@click.command()
@workflow_file_option
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
    _echo(drawing)


@click.command()
@workflow_file_option
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
@click.option(
    "--executor",
    type=click.Choice(_EXECUTORS),
    default=None,
    help="Where steps run: here (local), or on the workers of a Dask or Ray cluster "
    "(default: the file's `executor:`, else local).",
)
@click.option(
    "--address",
    default=None,
    metavar="ADDR",
    help="The cluster to run steps on: a Dask scheduler (tcp://10.0.0.5:8786) or Ray "
    "(ray://host:10001, auto); default: the file's `address:`, else a local cluster "
    "of -j workers.",
)
@history_option
@click.argument("steps", nargs=-1, metavar="[STEP]...")
def run(
    path: Path,
    max_concurrency: int | None,
    keep_going: bool,
    summary_json: Path | None,
    output: str | None,
    dry_run: bool,
    grace: float,
    executor: str | None,
    address: str | None,
    history: Path | None,
    steps: tuple[str, ...],
) -> None:
    """Run the workflow's steps, each once all it needs has succeeded.

    STEP... runs only these steps and what they need; glob patterns such as 'test-*'
    select several. Exits 0 when every step succeeded, 1 when one failed, 2 for a bad
    file or flag, 130 when interrupted (Ctrl-C, SIGTERM or SIGHUP).
    """
    with _stop_requests() as (interrupt_requested, kill_requested):
        code = _run_steps(**locals())  # every option above, and the two events
    raise SystemExit(code)


@contextmanager
def _stop_requests() -> Iterator[tuple[threading.Event, threading.Event]]:
    """Handle SIGINT, SIGTERM and SIGHUP while the block runs: the first sets the first
    event (stop the run), a second one the second (kill what is still ending).

    Installed before the file loads, so that a Ctrl-C then ends the run as any other
    (exit 130). The handler only sets events: the engine's lock may be held by the very
    thread the signal interrupts, so the waiting loops do the interrupting. SIGHUP too:
    a closed terminal would otherwise end the run and leave its steps, which run in
    sessions of their own, behind. A signal ignored when we started (`nohup`, a
    background job of a script) stays ignored, as make leaves it.
    """
    import signal
    import threading

    interrupt_requested = threading.Event()
    kill_requested = threading.Event()

    def on_signal(_number: int, _frame: object) -> None:
        (kill_requested if interrupt_requested.is_set() else interrupt_requested).set()

    previous = {
        number: signal.signal(number, on_signal)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    for number, handler in previous.items():
        if handler == signal.SIG_IGN:
            signal.signal(number, signal.SIG_IGN)
    try:
        yield interrupt_requested, kill_requested
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_steps(
    *,
    path: Path,
    max_concurrency: int | None,
    keep_going: bool,
    summary_json: Path | None,
    output: str | None,
    dry_run: bool,
    grace: float,
    executor: str | None,
    address: str | None,
    history: Path | None,
    steps: tuple[str, ...],
    interrupt_requested: threading.Event,
    kill_requested: threading.Event,
) -> int:
    """`forkjoin run` with its options, once its signals are handled; its exit code."""
    import json

    from forkjoin.telemetry import history_path, open_history
    from forkjoin.workflow import (
        LocalLauncher,
        Run,
        adopt_orphans,
        choose_concurrency,
        choose_status,
        load,
        make_launcher,
    )

    try:
        workflow = load(path)
        if steps:
            workflow = workflow.select(steps)
        concurrency = choose_concurrency(max_concurrency, workflow)
        if summary_json is not None and not summary_json.resolve().parent.is_dir():
            raise ValueError(
                f"--summary-json {summary_json}: there is no folder {summary_json.parent}"
                " (make it first, or name a file in a folder that exists)"
            )
        if not dry_run:
            launcher = make_launcher(
                executor or workflow.executor or "local",
                address or workflow.address,
                concurrency,
            )
    # WorkflowError, a bad $FORKJOIN_MAX_CONCURRENCY or executor, a missing extra,
    # or a cluster that cannot be reached.
    except (ValueError, ImportError, OSError) as error:
        click.echo(f"forkjoin: {error}" if isinstance(error, OSError) else str(error), err=True)
        return 2
    if dry_run:
        from forkjoin.report import draw

        plan = draw(workflow.graph(), "text", labels=_item_labels(workflow))
        _echo(f"dry run: {len(workflow.steps)} steps, {concurrency} at once; nothing ran\n{plan}")
        return 0
    if interrupt_requested.is_set():
        return 130  # Ctrl-C while the file loaded: nothing started
    status = choose_status(len(workflow.steps), only_failures=output == "quiet")
    running = Run(
        workflow,
        max_concurrency=concurrency,
        failure_mode="keep_going" if keep_going else None,
        grace=grace,
        output=output,
        status=status,
        launcher=launcher,
        # A process that leaves its step's group (`setsid`) becomes ours when its
        # parent ends, so that an interrupted run leaves none behind; a finished run
        # leaves its steps' daemons be, as make does. Only for steps run here: a local
        # cluster's processes are children of ours too, and not orphans.
        adopting=isinstance(launcher, LocalLauncher) and adopt_orphans(),
    )
    # Opened once the file is known good: a bad file records no job.
    with open_history(history_path(history, Path.cwd())) as store, status:
        running.start(store)
        running.wait(interrupt_requested)
        running.finish(kill_requested)
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps(running.summary(), indent=2) + "\n")
        except OSError as error:
            click.echo(f"forkjoin: cannot write the summary: {error}", err=True)
            return 130 if running.exit_code == 130 else 2
    return running.exit_code


def _echo(text: str) -> None:
    """Print `text` to stdout; a reader that went away (`| head`) ends us quietly, as a
    pipe's writer ends by SIGPIPE."""
    import os
    import sys

    try:
        click.echo(text, nl=False)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain once more as it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141) from None


@click.command()
@workflow_file_option
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Slots (default: as `forkjoin run` takes them: $FORKJOIN_MAX_CONCURRENCY, "
    "else the file's, else 1).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the prediction as JSON.")
@history_option
@click.argument("steps", nargs=-1, metavar="[STEP]...")
def plan(
    path: Path, workers: int | None, as_json: bool, history: Path | None, steps: tuple[str, ...]
) -> None:
    """Predict a run from history: its wall time, critical path and each slot's timeline.

    The steps are played through the same ready queue as `forkjoin run`, with the
    durations of their recent runs (a step never run is estimated from its kind, or
    at the median). Try -j 8 to see what 8 workers would buy before paying for them.
    """
    import json

    from forkjoin.telemetry import HistoryEstimator, history_path, read_history
    from forkjoin.workflow import choose_concurrency, load, predict

    try:
        workflow = load(path)
        if steps:
            workflow = workflow.select(steps)
        concurrency = choose_concurrency(workers, workflow)
    except ValueError as error:
        click.echo(str(error), err=True)
        raise SystemExit(2) from None
    with read_history(history_path(history, Path.cwd())) as store:
        estimator = HistoryEstimator.from_store(store)
    prediction = predict(workflow, estimator, concurrency)
    if as_json:
        report = prediction.as_json()
        report["by_workers"] = _by_workers(workflow, estimator, predict)
        click.echo(json.dumps(report, indent=2))
        return
    text = _plan_text(
        prediction, _by_workers(workflow, estimator, predict), history=bool(estimator.known())
    )
    click.echo(text, nl=False)


def _by_workers(workflow: Workflow, estimator: Any, predict: Any) -> dict[str, float]:
    """The predicted seconds at 1, 2, 4, 8 and 16 workers: what more slots would buy."""
    return {str(n): round(predict(workflow, estimator, n).seconds, 3) for n in (1, 2, 4, 8, 16)}


def _plan_text(prediction: Prediction, by_workers: dict[str, float], *, history: bool) -> str:
    lines = [
        f"predicted: {prediction.seconds:.2f} s on {prediction.workers} "
        f"worker{'s' if prediction.workers > 1 else ''} ({_basis(prediction, history=history)})",
        f"critical path: {' -> '.join(prediction.critical_path)}"
        f" ({prediction.critical_path_seconds:.2f} s)",
        "workers: " + ", ".join(f"{n}: {seconds:.2f} s" for n, seconds in by_workers.items()),
    ]
    width = max((len(placed.id) for placed in prediction.timeline), default=0)
    for slot in range(1, prediction.workers + 1):
        lines.append(f"slot {slot}:")
        lines += [
            f"  {placed.start:7.2f}  {placed.id:<{width}}  {placed.end - placed.start:6.2f} s"
            for placed in prediction.timeline
            if placed.slot == slot
        ]
    return "\n".join(lines) + "\n"


def _basis(prediction: Prediction, *, history: bool) -> str:
    """What the prediction stands on: `3 of 5 steps timed, 2 new items; ...`."""
    if not history:
        return "no history yet: every step and item weighs 1 s"
    known, steps = len(prediction.known), len(prediction.estimates)
    new = len(prediction.new_items)
    basis = "every step timed before" if known == steps else f"{known} of {steps} steps timed"
    if new:
        basis += f", {new} new item{'' if new == 1 else 's'}"
    if known < steps or new:
        basis += "; the others estimated from like ones, else the median of all"
    return basis


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
