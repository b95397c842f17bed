"""The workflow model: a checked forkjoin.yaml as frozen values, and its two small grammars.

A `Workflow` holds its `Step`s in file order. The grammars are the durations of
`timeout` (`parse_duration`) and the `${{ ... }}` references in a step's command
(`parse_references`). Nothing here reads YAML: `_load` builds these values, and
every value it builds has passed its checks, so the runner can trust them.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from itertools import product
from typing import Literal

from forkjoin.errors import WorkflowError
from forkjoin.graph import Graph

__all__ = [
    "DURATION_FORMS",
    "LONGEST_DURATION",
    "REFERENCE_FORMS",
    "FailureMode",
    "Item",
    "OnFailure",
    "Reference",
    "ReferenceKind",
    "ReferenceSyntaxError",
    "Step",
    "Workflow",
    "did_you_mean",
    "listing",
    "parse_duration",
    "parse_references",
    "quoted",
]

FailureMode = Literal["fail_fast", "keep_going"]
OnFailure = Literal["stop", "continue"]
ReferenceKind = Literal["item", "matrix", "output", "env"]
Item = str | int | float | bool  # a for_each item or a matrix value, as YAML typed it

DURATION_FORMS = "a number of seconds, or a duration such as 90s, 1.5s, 500ms, 10m, 2h or 1h30m"
# A thread cannot wait longer (threading.Timer, Condition.wait raise OverflowError).
LONGEST_DURATION = threading.TIMEOUT_MAX
_LONGEST_HINT = (
    f"at most {LONGEST_DURATION:.0f} seconds, some"
    f" {LONGEST_DURATION // (365.25 * 24 * 3600):.0f} years; leave it out for no limit"
)
REFERENCE_FORMS = (
    "the forms are ${{ item }}, ${{ matrix.KEY }}, ${{ steps.STEP.outputs.NAME }}"
    " and ${{ env.NAME }}"
)

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
# Units come largest first, each at most once; `m(?!s)` keeps "5ms" from reading as 5m + s.
_DURATION = re.compile(
    rf"(?:{_NUMBER}h)?(?:{_NUMBER}m(?!s))?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?", re.ASCII
)
_UNIT_SECONDS = (3600.0, 60.0, 1.0, 0.001)
_SECONDS = re.compile(_NUMBER, re.ASCII)

_EXPRESSIONS: tuple[tuple[ReferenceKind, re.Pattern[str]], ...] = (
    ("item", re.compile(r"item", re.ASCII)),
    ("matrix", re.compile(r"matrix\.([A-Za-z_][\w-]*)", re.ASCII)),
    ("output", re.compile(r"steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)", re.ASCII)),
    ("env", re.compile(r"env\.([A-Za-z_]\w*)", re.ASCII)),
)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The hint "did you mean `x`?" for the choice closest to `word`, or None if none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean `{close[0]}`?" if close else None


def quoted(text: str) -> str:
    """`text` in backquotes for a one-line message: cut to 40 characters, controls escaped."""
    short = text if len(text) <= 40 else text[:37] + "..."
    return "`" + "".join(char if char.isprintable() else repr(char)[1:-1] for char in short) + "`"


def listing(intro: str, names: Iterable[str], *, limit: int = 10) -> str:
    """A hint listing the first `limit` names after `intro`: "the steps are `a`, `b`"."""
    shown = list(names)
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return f"{intro} " + ", ".join(f"`{name}`" for name in shown[:limit]) + more


def parse_duration(
    value: object,
    *,
    path: str = "forkjoin.yaml",
    line: int | None = None,
    column: int | None = None,
    shown: str | None = None,
) -> float:
    """Seconds from a number (`90`, `1.5`) or a text such as "90", "500ms", "10m" or "1h30m".

    A text is a number alone (seconds) or numbers with the units h, m, s and ms, largest
    first and each at most once. Raises WorkflowError, placed at `path:line:column` and
    showing the value as `shown` (as written in the file) if given, for anything else: a
    negative or infinite number, true/false, "10 m", "10M", "1m1h"; and for a duration
    longer than the longest wait a thread can make (`LONGEST_DURATION`, 292 years).
    """
    seconds = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int beyond any float stays NaN
            seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _DURATION.fullmatch(text)
        if _SECONDS.fullmatch(text):
            seconds = float(text)
        elif text and match:
            seconds = sum(
                float(amount) * unit
                for amount, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
                if amount is not None
            )
    if shown is None:
        shown = str(value).lower() if isinstance(value, bool) else str(value)
    if math.isfinite(seconds) and seconds > LONGEST_DURATION:
        raise WorkflowError(
            f"{quoted(shown)} is longer than any wait can be",
            path=path,
            line=line,
            column=column,
            hint=_LONGEST_HINT,
        )
    if math.isfinite(seconds) and seconds >= 0:
        return seconds
    raise WorkflowError(
        f"{quoted(shown)} is not a duration",
        path=path,
        line=line,
        column=column,
        hint=DURATION_FORMS,
    )


class ReferenceSyntaxError(ValueError):
    """Raised by `parse_references` for a `${{` it cannot read; `offset` is where it starts.

    The loader turns it into a WorkflowError at that place in the file.
    """

    def __init__(self, message: str, *, offset: int, hint: str) -> None:
        super().__init__(f"{message} ({hint})")
        self.reason = message
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Reference:
    """One `${{ ... }}` in a step's command: what it names and where it stands.

        kind     parts            written as
        item     ()               ${{ item }}
        matrix   (key,)           ${{ matrix.os }}
        output   (step, name)     ${{ steps.version.outputs.value }}
        env      (name,)          ${{ env.REGION }}

    `text[start:end]` is the whole reference, from `${{` to `}}`, so the runner can
    put something safer in its place (an environment variable) rather than the value.
    """

    kind: ReferenceKind
    parts: tuple[str, ...]
    start: int
    end: int

    def __str__(self) -> str:
        if self.kind == "item":
            return "${{ item }}"
        if self.kind == "output":
            return f"${{{{ steps.{self.parts[0]}.outputs.{self.parts[1]} }}}}"
        return f"${{{{ {self.kind}.{self.parts[0]} }}}}"


def parse_references(text: str) -> list[Reference]:
    """Every `${{ ... }}` in `text`, in order; text outside them is left as it is.

    Spaces inside the braces are optional. Raises ReferenceSyntaxError for a `${{`
    that is never closed or whose inside is none of the four forms.
    """
    references: list[Reference] = []
    start = text.find("${{")
    while start >= 0:
        close = text.find("}}", start + 3)
        if close < 0:
            raise ReferenceSyntaxError(
                "`${{` is not closed", offset=start, hint="end the reference with `}}`"
            )
        inside = text[start + 3 : close].strip()
        for kind, pattern in _EXPRESSIONS:
            match = pattern.fullmatch(inside)
            if match:
                references.append(Reference(kind, match.groups(), start, close + 2))
                break
        else:
            raise ReferenceSyntaxError(
                f"unknown reference {quoted(text[start : close + 2])}",
                offset=start,
                hint=REFERENCE_FORMS,
            )
        start = text.find("${{", close + 2)
    return references


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One step of a workflow, as the file defines it and the loader checked it.

    A step runs exactly one of `run` (a shell command) or `call` (a Python function
    named `package.module:function`, called with the keyword arguments `with_`). It
    starts once every step in `needs` has succeeded. With `for_each` (a literal list,
    or a `${{ steps.X.outputs.Y }}` text naming a list known only at run time) or
    `matrix` it runs once per item, at most `parallelism` at once, and `on_failure`
    says whether a failed item stops the others. `timeout` is in seconds per attempt,
    and `retries` counts the attempts after the first. `line` is where the step is
    defined in the file, 1-based.
    """

    id: str
    run: str | None = None
    call: str | None = None
    with_: Mapping[str, object] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    for_each: tuple[Item, ...] | str | None = None
    matrix: Mapping[str, tuple[Item, ...]] | None = None
    parallelism: int | None = None
    on_failure: OnFailure = "stop"
    timeout: float | None = None
    retries: int = 0
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    pool: str | None = None
    priority: int = 0
    line: int = 0

    def items(self) -> list[Item] | list[dict[str, Item]]:
        """The items this step runs once each, in order; [] for a step that runs once.

        For `for_each`, its items. For `matrix`, every combination as a dict whose keys
        are in file order, the last key changing fastest, as GitHub Actions orders them:
        {os: [linux, darwin], py: [a, b]} gives linux/a, linux/b, darwin/a, darwin/b.
        Raises ValueError when `for_each` is a reference: its items exist only at run time.
        """
        if isinstance(self.for_each, str):
            raise ValueError(
                f"step {self.id} takes its items from {self.for_each}, known only at run time"
            )
        if self.for_each is not None:
            return list(self.for_each)
        if self.matrix is not None:
            keys = list(self.matrix)
            return [
                dict(zip(keys, values, strict=True)) for values in product(*self.matrix.values())
            ]
        return []

    def references(self) -> list[Reference]:
        """The `${{ ... }}` references in `run`, in order; [] for a `call` step.

        Raises ReferenceSyntaxError (a ValueError) only for a step built by hand: a
        loaded step's references have all been checked.
        """
        return parse_references(self.run) if self.run is not None else []

    def argument_references(self) -> dict[str, list[Reference]]:
        """The references in each text value of `with`, by argument name; only those
        with references. Nested lists and mappings are passed as they are."""
        found = {
            name: parse_references(value)
            for name, value in self.with_.items()
            if isinstance(value, str)
        }
        return {name: references for name, references in found.items() if references}

    def for_each_reference(self) -> Reference | None:
        """The output this step's items come from, when `for_each` is a reference."""
        if isinstance(self.for_each, str):
            return parse_references(self.for_each)[0]
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    """A loaded forkjoin.yaml: its settings and its steps, keyed by id in file order.

    `max_concurrency` is None when the file leaves it to the command line (or 1).
    `env` applies to every step, under each step's own `env`. `pools` maps a pool name
    to its depth, the number of its steps that may run at once. `executor` ("local"
    or "dask") and `address` say where the steps run, unless the command line says.
    """

    path: str
    steps: Mapping[str, Step]
    max_concurrency: int | None = None
    failure_mode: FailureMode = "fail_fast"
    env: Mapping[str, str] = field(default_factory=dict)
    pools: Mapping[str, int] = field(default_factory=dict)
    executor: str | None = None
    address: str | None = None

    def graph(self) -> Graph[str]:
        """The graph of step ids, each needing the steps of its `needs`."""
        return Graph({step_id: step.needs for step_id, step in self.steps.items()})

    def select(self, patterns: Sequence[str]) -> Workflow:
        """This workflow cut down to the steps matching any pattern and all they need.

        Patterns are globs matched against step ids, case-sensitively: `test-*`, `lint`.
        The steps keep their file order. Raises WorkflowError for a pattern that matches
        no step, with the closest id as a hint, and ValueError when `patterns` is empty
        or a single string rather than a sequence of them.
        """
        if isinstance(patterns, str) or not patterns:
            raise ValueError(f"select takes a non-empty sequence of patterns, not {patterns!r}")
        ids = list(self.steps)
        matched: list[str] = []
        for pattern in patterns:
            found = [step_id for step_id in ids if fnmatchcase(step_id, pattern)]
            if not found:
                raise WorkflowError(
                    f"no step matches `{pattern}`",
                    path=self.path,
                    hint=did_you_mean(pattern, ids) or listing("the steps are", ids),
                )
            matched.extend(found)
        chosen = set(self.graph().select(matched))
        steps = {step_id: step for step_id, step in self.steps.items() if step_id in chosen}
        return replace(self, steps=steps)
