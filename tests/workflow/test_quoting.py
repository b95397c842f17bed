"""Where a `${{ }}` stands in a shell command, and what the shell makes of its value.

Commands are written with `@` for `${{ item }}`. The context of each reference is
asserted for the shapes of shell that change it; then real `/bin/sh -c` runs
generated values in every context, and the value must come out exactly, never as code.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forkjoin.workflow._quoting import Context, contexts_of, interpolate, is_number
from forkjoin.workflow._spec import parse_references

REFERENCE = "${{ item }}"


def contexts(command: str) -> list[Context]:
    text = command.replace("@", REFERENCE)
    return contexts_of(text, parse_references(text))


CONTEXTS: dict[str, tuple[str, list[Context]]] = {
    "plain words": ("echo @ x@y", ["word", "word"]),
    "quotes": ("echo \"a @\" 'b @' \"it's @\" 'say \"@'", ["double", "single"] * 2),
    "escaped quotes are no quotes": ('echo \\\' @ \\" @ "\\"@"', ["word", "word", "double"]),
    "an apostrophe in a comment": ('# don\'t @\necho "v=[@]" @', ["comment", "double", "word"]),
    "a # inside a word is no comment": ("echo a#b'@' $# @ ${x#y}@", ["single", "word", "word"]),
    "a comment after a command": ("echo @ # it's @\necho '@'", ["word", "comment", "single"]),
    "a here-document": ('cat <<EOF\n"@" \'@\'\nEOF\necho "@"', ["heredoc"] * 2 + ["double"]),
    "a here-document with tabs stripped": ("cat <<-EOF\n\t@\n\tEOF\necho @", ["heredoc", "word"]),
    "quoted here-documents": (
        "cat <<'A' <<\"B\"\n@\nA\n@\nB\ncat <<\\C\n@\nC\n@",
        ["literal", "literal", "literal", "word"],
    ),
    "the end of a here-document is a whole line": (
        "cat <<EOF\n EOF\nEOF x\n@\nEOF\n@",
        ["heredoc", "word"],
    ),
    "a here-document after a comment on its line": (
        "cat <<E # it's\n'@'\nE\n'@'",
        ["heredoc", "single"],
    ),
    "a here-string is no here-document": ("cat <<<@\necho @", ["word", "word"]),
    "expansions in a here-document": (
        "cat <<EOF\n$(echo @) `echo @` $((@))\nEOF",
        ["word", "word", "arithmetic"],
    ),
    "arithmetic": ('echo $(( @ + 1 )) "$(( (@) * 2 ))" @', ["arithmetic"] * 2 + ["word"]),
    "substitutions inside double quotes": (
        'echo "$(echo @ "@") `echo @` $(echo "$(echo @)") @"',
        ["word", "double", "word", "word", "double"],
    ),
    "parentheses inside a substitution": ('echo "$( (echo @) ) @"', ["word", "double"]),
    "a backslash before a reference": (
        "echo \\@ \"\\@\" '\\@' \\\\@",
        ["escaped"] * 2 + ["single", "word"],
    ),
}


@pytest.mark.parametrize(("command", "expected"), CONTEXTS.values(), ids=CONTEXTS.keys())
def test_each_reference_knows_its_shell_context(command: str, expected: list[Context]) -> None:
    assert contexts(command) == expected


def test_each_context_gets_the_expansion_it_needs() -> None:
    text = "echo @ \"@\" '@' $((@))\ncat <<E\n@\nE".replace("@", REFERENCE)
    command, placeholders = interpolate(text, parse_references(text))
    assert command == (
        'echo "${FJ_REF_0}" "${FJ_REF_1}" \'\'"${FJ_REF_2}"\'\' $((${FJ_REF_3}))\n'
        "cat <<E\n${FJ_REF_4}\nE"
    )
    assert [p.name for p in placeholders] == [f"FJ_REF_{n}" for n in range(5)]
    assert placeholders[3].context == "arithmetic"


def test_a_reference_the_shell_would_not_expand_is_refused() -> None:
    text = f"cat <<'E'\n{REFERENCE}\nE"
    with pytest.raises(ValueError, match="literal"):
        interpolate(text, parse_references(text))


@pytest.mark.parametrize("value", ["7", "-12", "+3", "0x1F", "0"])
def test_a_whole_number_may_go_into_arithmetic(value: str) -> None:
    assert is_number(value)


@pytest.mark.parametrize(
    "value",
    ["", "1.5", " 1", "1 ", "x", "a[$(touch PWNED)]", "1+1", "7\n", "010", "08"],
)
def test_anything_else_may_not(value: str) -> None:
    assert not is_number(value)


# Each command prints the value between markers; `expect` is what must come out. A
# `$( )` prints a `.` after it, as `$( )` drops the trailing newlines of what it reads.
SHELL = {
    "word": ("printf '[%s]' @", "[{}]"),
    "word, twice in one": ("printf '[%s]' x@y@", "[x{0}y{0}]"),
    "double": ("printf '[%s]' \"<@>\"", "[<{}>]"),
    "single": ("printf '[%s]' '<@>'", "[<{}>]"),
    "after an apostrophe in a comment": (
        "# don't @ break\nprintf '[%s]' \"<@>\" @",
        "[<{0}>][{0}]",
    ),
    "here-document": ("cat <<EOF\n[\"@\" '@']\nEOF\nprintf '[%s]' @", "[\"{0}\" '{0}']\n[{0}]"),
    "here-document, tabs stripped": ("cat <<-EOF\n\t[@]\n\tEOF", "[{}]\n"),
    "substitution in double quotes": ("printf '[%s]' \"$(printf '%s.' @)\"", "[{}.]"),
    "backticks in double quotes": ("printf '[%s]' \"`printf '%s.' @`\"", "[{}.]"),
    "nested substitutions": (
        "printf '[%s]' \"$(printf '%s' \"$(printf '%s.' @)\").\"",
        "[{}..]",
    ),
    "substitution in a here-document": ("cat <<EOF\n[$(printf '%s.' @)]\nEOF", "[{}.]\n"),
    "a default, unquoted": ("printf '[%s]' ${UNSET:-@}", "[{}]"),
    "a default, in double quotes": ("printf '[%s]' \"${UNSET:-@}\"", "[{}]"),
    "an assignment": ("x=@; printf '[%s]' \"$x\"", "[{}]"),
}

_FRAGMENTS = [
    "; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "'\"",
    "\n",
    "*",
    " ",
    "  ",
    "\t",
    "\\",
    "$HOME",
    "${x}",
    "#",
    "EOF",
    "\nEOF\n",
    "~",
    "é",
]
VALUES = st.lists(
    st.sampled_from(_FRAGMENTS)
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=3),
    max_size=6,
).map("".join)


_FIXTURE = HealthCheck.function_scoped_fixture  # tmp_path: PWNED would land in it


def sh(command: str, value: str, directory: Path) -> str:
    text = command.replace("@", REFERENCE)
    script, placeholders = interpolate(text, parse_references(text))
    env = {"PATH": os.environ["PATH"]} | {p.name: value for p in placeholders}
    result = subprocess.run(
        ["/bin/sh", "-c", script], cwd=directory, env=env, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(("command", "expect"), SHELL.values(), ids=SHELL.keys())
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=VALUES)
def test_the_shell_sees_exactly_the_value_and_never_runs_it(
    command: str, expect: str, value: str, tmp_path: Path
) -> None:
    assert sh(command, value, tmp_path) == expect.format(value)
    assert not (tmp_path / "PWNED").exists()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(number=st.integers(-(2**31), 2**31))
def test_arithmetic_reads_a_number(number: int, tmp_path: Path) -> None:
    assert sh('echo $(( @ + 1 )) "$(( (@) * 2 ))"', str(number), tmp_path).split() == [
        str(number + 1),
        str(number * 2),
    ]
