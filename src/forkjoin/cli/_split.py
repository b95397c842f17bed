"""`forkjoin split`: print one CI node's share of a list of tests, parsing and wiring only.

The durations reach the split as one mapping of id to seconds (`_print_group`): from
the `--durations` files when given, else from the history's recent successes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from forkjoin.cli._options import history_option

if TYPE_CHECKING:
    from forkjoin.partition import Group

__all__ = ["split_command"]


@click.command("split")
@click.option(
    "--groups", "group_count", type=int, required=True, help="How many groups (CI nodes) in all."
)
@click.option("--group", type=int, required=True, help="Which group to print, from 1.")
@click.option(
    "--durations",
    "durations_files",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="Known seconds per item: pytest-split's .test_durations (JSON) or a JUnit XML "
    "report. Repeatable; a later file wins for an item in both.",
)
@click.option(
    "--by",
    type=click.Choice(["timings", "count"]),
    default="timings",
    show_default=True,
    help="timings: balance expected seconds; count: balance the number of items.",
)
@click.option(
    "--explain", is_flag=True, help="Print every group's expected seconds and items to stderr."
)
@history_option
@click.argument("items", nargs=-1, metavar="[ITEM]...")
def split_command(
    group_count: int,
    group: int,
    durations_files: tuple[Path, ...],
    by: str,
    explain: bool,
    history: Path | None,
    items: tuple[str, ...],
) -> None:
    """Print group GROUP of GROUPS: its share of the items, one per line.

    The items come as arguments or, when there are none, one per line on stdin.
    Every node computes the same groups from the same items and durations, in any
    order, so each can run its own share:

    \b
        pytest --collect-only -q | grep :: |
          forkjoin split --groups 4 --group 2 --durations .test_durations |
          xargs -d '\\n' pytest

    Without --durations, the durations are those the history recorded (the median
    of each test's last ten successful runs). Items without a known duration are
    estimated from their siblings (the same
    test with other parameters, else its class, else its file). Exits 2, with one
    line on stderr, for a bad group number, an unreadable durations file or no items.
    """
    try:
        if group_count < 1:
            raise click.UsageError(f"--groups is {group_count}: it must be at least 1")
        if not 1 <= group <= group_count:
            raise click.UsageError(
                f"--group {group} is out of range: the {group_count} groups are numbered "
                f"from 1 to {group_count}"
            )
        wanted = list(items) if items else _read_items()
        if not wanted:
            raise click.UsageError("no items: give them as arguments or one per line on stdin")
        if durations_files:
            durations = _read_durations_files(durations_files)
        else:
            durations = _history_durations(history)
    except click.UsageError as error:
        click.echo(f"forkjoin split: {error.message}", err=True)
        raise SystemExit(2) from None
    _print_group(wanted, group_count, group, durations, by=by, explain=explain)


def _read_items() -> list[str]:
    stdin = sys.stdin
    if stdin.isatty():  # nothing piped in: say so rather than wait for typing
        return []
    return [line.strip() for line in stdin if line.strip()]


def _history_durations(history: Path | None) -> dict[str, float]:
    """The median of each key's recent successes in the history; none if it has none."""
    from forkjoin.telemetry import HistoryEstimator, history_path, read_history

    with read_history(history_path(history, Path.cwd())) as store:
        return HistoryEstimator.from_store(store).known()


def _read_durations_files(paths: Sequence[Path]) -> dict[str, float]:
    """The durations of every file merged, a later file winning; UsageError if one is bad."""
    from forkjoin.errors import DurationsError
    from forkjoin.partition import read_durations

    durations: dict[str, float] = {}
    for path in paths:
        try:
            durations.update(read_durations(path))
        except DurationsError as error:
            raise click.UsageError(str(error)) from None
        except OSError as error:
            raise click.UsageError(f"{path}: cannot read it: {error.strerror}") from None
    return durations


def _print_group(
    items: Sequence[str],
    group_count: int,
    group: int,
    durations: Mapping[str, float],
    *,
    by: str,
    explain: bool,
) -> None:
    """Split `items` by `durations` and print group `group` (from 1) to stdout."""
    from forkjoin.partition import balance

    groups = balance(
        items, group_count, durations=durations, by="count" if by == "count" else "timings"
    )
    if explain:
        known = sum(1 for item in items if item in durations)
        _explain(groups, group, by=by, known=known, durations=len(durations))
    chosen = groups[group - 1].ids
    if chosen:
        click.echo("\n".join(chosen))


def _explain(groups: Sequence[Group], chosen: int, *, by: str, known: int, durations: int) -> None:
    """Each group's expected seconds and items on stderr, the chosen one marked.

    `known` items have a duration of their own among the `durations` read; the
    others were estimated from those (a file or class as the sum of its tests, else
    from like items, else the mean), or all count the same when none were read.
    """
    items = sum(len(group.ids) for group in groups)
    estimated = items - known
    header = f"{items} items, {known} with a known duration"
    if durations and estimated:
        header += (
            f", {estimated} estimated from the {durations} known"
            " (a file as the sum of its tests, else like items or the mean)"
        )
    header += f", in {len(groups)} groups by {by}"
    if not durations:
        header += ": no durations, so every item counts the same"
    click.echo(header, err=True)
    width = len(str(len(groups)))
    for number, group in enumerate(groups, 1):
        seconds = f"{group.expected_seconds:10.3f} s  " if durations else ""
        click.echo(
            f"{'>' if number == chosen else ' '} group {number:>{width}}: {seconds}"
            f"{len(group.ids)} item{'' if len(group.ids) == 1 else 's'} "
            f"({group.estimated} estimated)",
            err=True,
        )
