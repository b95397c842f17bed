"""Usage errors as one line: `forkjoin run: no such option '--bogus' (see forkjoin run --help)`."""

from __future__ import annotations

from typing import Any, NoReturn

import click
from click.exceptions import NoArgsIsHelpError

from forkjoin.cli import _startup

__all__ = ["OneLineUsageGroup"]


class _UsageLine(click.ClickException):
    """A usage error as one line on stderr, exit 2 (click's own is four)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


class OneLineUsageGroup(click.Group):
    """A group whose bad flags and arguments, its own or its subcommands', are one
    line naming the command and its --help, not click's usage block.

    Subcommands are parsed inside the group's `invoke`, so catching there covers
    them; the innermost group catches first, so the line names the whole command.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            _one_line(error, None)

    def invoke(self, ctx: click.Context) -> Any:
        _startup.hand_back()  # the command may be interrupted as Python does
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            _one_line(error, ctx)


def _one_line(error: click.UsageError, group: click.Context | None) -> NoReturn:
    if isinstance(error, NoArgsIsHelpError):  # a bare group: its help is the answer
        raise error
    names = _names(error.ctx) if error.ctx is not None else []
    if error.ctx is None and group is not None:
        # The parser raised it without a context: it is the subcommand's.
        names = [*_names(group), group.invoked_subcommand or ""]
    command = " ".join(["forkjoin", *filter(None, names)])
    message = error.format_message().rstrip(".")
    if message[:2].istitle():  # click's "No such option": a clause here, not a sentence
        message = message[0].lower() + message[1:]
    raise _UsageLine(f"{command}: {message} (see {command} --help)") from None


def _names(ctx: click.Context) -> list[str]:
    """The subcommand names from the root to `ctx` (the root's own is `forkjoin`)."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return names[::-1]
