"""Options that several commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["HISTORY_PATH", "history_option", "workflow_file_option"]

_Command = TypeVar("_Command", bound=Callable[..., Any])

# One type for every --history option: building a click.Path costs a millisecond of
# gettext look-ups at start-up, on every command.
HISTORY_PATH = click.Path(path_type=Path)


def history_option(command: _Command) -> _Command:
    """`--history PATH`: the history file, else $FORKJOIN_HISTORY, else the default."""
    return click.option(
        "--history",
        type=HISTORY_PATH,
        default=None,
        help="The history file (default: $FORKJOIN_HISTORY, else .forkjoin/history.db).",
    )(command)


# `-f FILE`: the workflow file of every command that reads one.
workflow_file_option = click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="forkjoin.yaml",
    show_default=True,
    help="The workflow file.",
)
