"""`forkjoin history`: list, show, export and import the recorded runs; wiring only."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from forkjoin.cli._options import HISTORY_PATH, history_option
from forkjoin.cli._usage import OneLineUsageGroup

if TYPE_CHECKING:
    from forkjoin.telemetry import HistoryStore, Job, Span

__all__ = ["history_group"]

# Where the group's --history waits for a subcommand that was given none.
_HISTORY_KEY = "forkjoin.history"


@click.group("history", cls=OneLineUsageGroup, invoke_without_command=True)
@history_option
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many jobs.",
)
@click.pass_context
def history_group(context: click.Context, history: Path | None, as_json: bool, limit: int) -> None:
    """List the latest jobs; show, export and import them.

    The most recent job comes first. A job is one run: `j7` is today's 7th job,
    `j1124.7` the 7th of November 24.
    """
    context.meta[_HISTORY_KEY] = history
    if context.invoked_subcommand is not None:
        return
    with _reading(history) as store:
        jobs = store.recent_jobs(limit)
        today = store.today()
    if as_json:
        _print_json([_job_json(job, today) for job in jobs])
    elif not jobs:
        click.echo(f"no jobs in {_path(history)} yet", err=True)
    else:
        rows = [
            (
                job.label(today),
                _when(job.started_at, today),
                job.kind,
                _shorten(job.what, 48),
                job.status,
                _seconds(job.duration),
            )
            for job in jobs
        ]
        _print_table(("job", "when", "kind", "what", "status", "took"), rows, right={5})


@history_group.command()
@history_option
@click.option("--json", "as_json", is_flag=True, help="Print the job and its spans as JSON.")
@click.argument("job_id", metavar="JOB")
@click.pass_context
def show(context: click.Context, history: Path | None, as_json: bool, job_id: str) -> None:
    """Show a job's spans, nested under their parents.

    JOB is j7 (today's 7th job), 7, or j1124.7 (the 7th of November 24).
    """
    history = _chosen(context, history)
    with _reading(history, missing=f"no job {job_id}: no history at {_path(history)} yet") as store:
        job = store.job(job_id)
        spans = store.spans(job)
        today = store.today()
    if as_json:
        _print_json({"job": _job_json(job, today), "spans": [_span_json(s) for s in spans]})
        return
    click.echo(
        f"{job.label(today)}  {job.kind}  {job.what}  {job.status}  {_seconds(job.duration)}"
        f"  (started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(job.started_at))})"
    )
    if not spans:
        click.echo("no spans recorded")
        return
    rows = [
        ("  " * depth + span.key, span.kind, span.status, _seconds(span.duration), span.worker)
        for depth, span in _nested(spans)
    ]
    _print_table(("span", "kind", "status", "took", "worker"), rows, right={3})


@history_group.command()
@history_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path("-"),
    show_default=True,
    help="Where to write the JSON lines; - is stdout.",
)
@click.pass_context
def export(context: click.Context, history: Path | None, output: Path) -> None:
    """Write every job and span as JSON lines.

    `forkjoin history import` merges the file into another history, on another machine.
    """
    from forkjoin.telemetry import export as export_history

    history = _chosen(context, history)
    with _reading(history) as store:
        if str(output) == "-":
            jobs, spans = export_history(store, sys.stdout)
        else:
            try:
                with output.open("w", encoding="utf-8") as file:
                    jobs, spans = export_history(store, file)
            except OSError as error:
                _fail(f"{output}: cannot write it ({error.strerror})")
    click.echo(f"exported {_counted(jobs, 'job')}, {_counted(spans, 'span')}", err=True)


@history_group.command("import")
@history_option
@click.argument("files", nargs=-1, required=True, type=HISTORY_PATH, metavar="FILE...")
@click.pass_context
def import_(context: click.Context, history: Path | None, files: tuple[Path, ...]) -> None:
    """Merge files of timings into the history.

    Each FILE is JSON lines from `forkjoin history export`, pytest-split's
    .test_durations, or JUnit XML. What is there already is kept, so
    importing a file twice changes nothing. Each file is all or nothing; the first
    bad one stops the command with exit code 2.
    """
    from forkjoin.errors import HistoryError
    from forkjoin.telemetry import import_file, open_history

    store = open_history(_path(_chosen(context, history)))
    try:
        for file in files:
            imported = import_file(store, file)
            jobs = _counted(imported.jobs, "new job")
            click.echo(
                f"{file}: {jobs}, {_counted(imported.spans, 'new span')} ({imported.format})"
            )
    except HistoryError as error:
        _fail(str(error))
    finally:
        store.close()


# -- helpers -------------------------------------------------------------------------


def _chosen(context: click.Context, history: Path | None) -> Path | None:
    """This command's --history, else the group's."""
    return history if history is not None else context.meta.get(_HISTORY_KEY)


def _path(history: Path | None) -> Path:
    from forkjoin.telemetry import history_path

    return history_path(history, Path.cwd())


@contextlib.contextmanager
def _reading(history: Path | None, *, missing: str | None = None) -> Iterator[HistoryStore]:
    """The history to read from, closed after; a missing one reads as empty, not created.

    `missing`, if given, is the error to stop with when there is no history. A
    HistoryError inside the block stops the command with its message, exit code 2.
    """
    from forkjoin.errors import HistoryError
    from forkjoin.telemetry import NullStore, read_history

    path = _path(history)
    if missing is not None and not os.path.lexists(path):
        _fail(missing)
    warnings: list[str] = []
    store = read_history(path, warn=warnings.append)
    if isinstance(store, NullStore) and os.path.lexists(path) and warnings:
        # There, but not for us to read (a newer forkjoin's, a folder we cannot
        # open): what a run would go on without is, for a reading command, the end.
        _fail(warnings[0].removesuffix("; running without history") + "; nothing to read")
    for warning in warnings:  # a broken file set aside: the new one is read
        click.echo(warning, err=True)
    try:
        yield store
    except HistoryError as error:
        _fail(str(error))
    finally:
        store.close()


def _counted(count: int, thing: str) -> str:
    """`1 new job`, `2 new jobs`."""
    return f"{count} {thing}{'' if count == 1 else 's'}"


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(2)


def _nested(spans: Sequence[Span]) -> Iterator[tuple[int, Span]]:
    """Each span with its depth, every child right under its parent, in start order."""
    known = {span.uid for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent if span.parent in known and span.parent != span.uid else None
        children.setdefault(parent, []).append(span)
    stack = [(0, span) for span in reversed(children.get(None, []))]
    shown: set[str] = set()
    while stack:
        depth, span = stack.pop()
        if span.uid in shown:  # a cycle in imported data is shown once
            continue
        shown.add(span.uid)
        yield depth, span
        stack.extend((depth + 1, child) for child in reversed(children.get(span.uid, [])))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int]) -> None:
    widths = [max(len(row[column]) for row in [headers, *rows]) for column in range(len(headers))]
    for row in [headers, *rows]:
        cells = [
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(cells).rstrip())


def _print_json(value: object) -> None:
    import json

    click.echo(json.dumps(value, indent=2))


def _job_json(job: Job, today: date) -> dict[str, object]:
    return {
        "id": job.label(today),
        "short_id": job.short_id,
        "qualified_id": job.qualified_id,
        "uid": job.uid,
        "kind": job.kind,
        "what": job.what,
        "status": job.status,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "duration": job.duration,
        "attributes": dict(job.attributes),
    }


def _span_json(span: Span) -> dict[str, object]:
    return {
        "uid": span.uid,
        "parent": span.parent,
        "key": span.key,
        "kind": span.kind,
        "status": span.status,
        "start": span.start,
        "end": span.end,
        "duration": span.duration,
        "worker": span.worker,
        "attributes": dict(span.attributes),
    }


def _when(timestamp: float, today: date) -> str:
    moment = time.localtime(timestamp)
    if (moment.tm_year, moment.tm_mon, moment.tm_mday) == (today.year, today.month, today.day):
        return time.strftime("%H:%M", moment)
    if moment.tm_year == today.year:
        return time.strftime("%b %d %H:%M", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02}m"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\N{HORIZONTAL ELLIPSIS}"
