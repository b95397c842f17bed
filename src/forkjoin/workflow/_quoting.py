"""Where each `${{ }}` of a shell command stands, and the safe text to put in its place.

A reference's value never reaches the shell as code: it travels in an environment
variable, FJ_REF_n, and the reference becomes an expansion of that variable, written
as the shell context at its spot needs (`interpolate`):

    context      where                                      becomes
    word         outside quotes; in $( ), `...`, even       "${FJ_REF_n}"
                 inside "..."
    double       inside "..."                               ${FJ_REF_n}
    single       inside '...'                               '"${FJ_REF_n}"' (closes, reopens)
    comment      after a # that starts a word               "${FJ_REF_n}" (never read)
    heredoc      the body of <<EOF or <<-EOF                ${FJ_REF_n}
    arithmetic   inside $(( ))                              ${FJ_REF_n}; a number only
    literal      the body of <<'EOF', <<"EOF", <<\\EOF       refused: nothing expands there
    escaped      just after an escaping backslash           refused: it would escape the $

The shell expands a variable once and never parses what it holds, except inside
`$(( ))`, where the text is read as arithmetic: there the value must be a number
(`is_number`), checked by the runner before the command starts.

`contexts_of` reads only as much of the shell's grammar as tells those contexts apart
(quotes, backslashes, comments, here-documents, `$(( ))`, `$( )` and backticks nested
to any depth), not the whole of it. A `case` pattern's lone `)` inside `$( )` ends the
substitution early for it; write `(pattern)` there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from forkjoin.workflow._spec import Reference

__all__ = ["Context", "Placeholder", "contexts_of", "interpolate", "is_number"]

Context = Literal[
    "word", "double", "single", "comment", "heredoc", "arithmetic", "literal", "escaped"
]

# Characters after which a `#` starts a word, and so a comment.
_WORD_BREAKS = " \t\n;&|()<>`"
# Characters that end a here-document's delimiter word, outside quotes.
_DELIMITER_ENDS = " \t\n;&|()<>"
# No leading zero: `$(( 010 ))` is octal 8 to the shell, and `08` an error.
_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9A-Fa-f]+|0|[1-9][0-9]*)", re.ASCII)


@dataclass(frozen=True, slots=True)
class Placeholder:
    """The variable `name` that carries one reference's value, and where it stands."""

    name: str
    context: Context


def interpolate(command: str, references: Sequence[Reference]) -> tuple[str, list[Placeholder]]:
    """`command` with each reference replaced by an expansion of FJ_REF_0, FJ_REF_1...
    in order, written as its context needs; and the placeholders, in the same order.

    Raises ValueError for a reference in a `literal` or `escaped` context, which the
    loader refuses first, with its place in the file.
    """
    pieces: list[str] = []
    placeholders: list[Placeholder] = []
    position = 0
    for number, (reference, context) in enumerate(
        zip(references, contexts_of(command, references), strict=True)
    ):
        name = f"FJ_REF_{number}"
        pieces += [command[position : reference.start], _expansion(name, context)]
        placeholders.append(Placeholder(name, context))
        position = reference.end
    pieces.append(command[position:])
    return "".join(pieces), placeholders


def is_number(value: str) -> bool:
    """Whether `value` is a whole number as `$(( ))` reads it: `7`, `-12`, `0x1F`."""
    return _NUMBER.fullmatch(value) is not None


def _expansion(name: str, context: Context) -> str:
    if context in ("double", "heredoc", "arithmetic"):
        return f"${{{name}}}"  # expanded once, never split: no quotes, which would show
    if context == "single":
        return f"'\"${{{name}}}\"'"
    if context in ("word", "comment"):
        return f'"${{{name}}}"'
    raise ValueError(f"a reference in a {context} context cannot be given a value")


def contexts_of(command: str, references: Sequence[Reference]) -> list[Context]:
    """The context of each reference of `command`, in order (`references` sorted)."""
    lexer = _Lexer(command)
    contexts: list[Context] = []
    for reference in references:
        contexts.append(lexer.context_at(reference.start))
        lexer.skip_to(reference.end)
    return contexts


@dataclass(slots=True)
class _Heredoc:
    """A here-document whose body is still to come, or being read."""

    delimiter: str
    strips_tabs: bool  # <<-: leading tabs of each line are removed, the delimiter's too
    quoted: bool  # <<'EOF': its body is text, nothing in it expands


@dataclass(slots=True)
class _Command:
    """Commands: the whole text, the inside of `$( )` (`closer` ")") or of backticks."""

    closer: str | None
    depth: int = 0  # parentheses open inside `$( )`, such as a subshell's
    heredocs: list[_Heredoc] = field(default_factory=list)  # bodies after the next newline


@dataclass(slots=True)
class _Arithmetic:
    depth: int = 0  # parentheses open inside `$(( ))`


_Frame = _Command | _Arithmetic | _Heredoc | Literal["double", "single", "comment"]


class _Lexer:
    """Walks a command once, left to right, keeping a stack of the contexts open."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.stack: list[_Frame] = [_Command(closer=None)]

    def context_at(self, target: int) -> Context:
        """Walk to `target`; the context there."""
        while self.index < target:
            self._step()
        if self.index > target:  # a two-character token swallowed its `$`
            return "escaped" if self.text[target - 1] == "\\" else "literal"
        frame = self.stack[-1]
        if isinstance(frame, _Command):
            return "word"
        if isinstance(frame, _Arithmetic):
            return "arithmetic"
        if isinstance(frame, _Heredoc):
            return "literal" if frame.quoted else "heredoc"
        return frame

    def skip_to(self, end: int) -> None:
        """Step over a reference: to the shell it is one piece of a word."""
        self.index = max(self.index, end)

    def _step(self) -> None:
        frame = self.stack[-1]
        if isinstance(frame, _Heredoc):
            self._heredoc_step(frame)
        elif frame == "single":
            self._close_if("'")
        elif frame == "comment":
            self._close_if("\n", consume=False)  # the newline still ends the command
        elif frame == "double":
            if not self._expansion_step():
                self._close_if('"')
        elif isinstance(frame, _Arithmetic):
            self._arithmetic_step(frame)
        else:
            self._command_step(frame)

    def _close_if(self, char: str, *, consume: bool = True) -> bool:
        """Pop the frame on `char`; otherwise step over the character."""
        if self.text[self.index] == char:
            self.stack.pop()
            self.index += consume
            return True
        self.index += 1
        return False

    def _expansion_step(self) -> bool:
        """A backslash escape, `$(( `, `$( ` or a backtick, where any of them works."""
        text, index = self.text, self.index
        if text[index] == "\\":
            self.index += 2
        elif text.startswith("$((", index):
            self.stack.append(_Arithmetic())
            self.index += 3
        elif text.startswith("$(", index):
            self.stack.append(_Command(closer=")"))
            self.index += 2
        elif text[index] == "`":
            if isinstance(self.stack[-1], _Command) and self.stack[-1].closer == "`":
                self.stack.pop()
            else:
                self.stack.append(_Command(closer="`"))
            self.index += 1
        else:
            return False
        return True

    def _command_step(self, frame: _Command) -> None:
        text, index = self.text, self.index
        char = text[index]
        if self._expansion_step():
            return
        self.index += 1
        if char == "'":
            self.stack.append("single")
        elif char == '"':
            self.stack.append("double")
        elif char == "#" and (index == 0 or text[index - 1] in _WORD_BREAKS):
            self.stack.append("comment")
        elif char == "(" and frame.closer == ")":
            frame.depth += 1
        elif char == ")" and frame.closer == ")":
            if frame.depth:
                frame.depth -= 1
            else:
                self.stack.pop()
        elif char == "<" and text.startswith("<", self.index):
            self._heredoc_operator(frame)
        elif char == "\n" and frame.heredocs:
            # Bodies follow one another: the first read is the one on top.
            self.stack += reversed(frame.heredocs)
            frame.heredocs = []

    def _heredoc_operator(self, frame: _Command) -> None:
        """After `<<`: note the here-document whose delimiter follows (`<<<` is none)."""
        text = self.text
        self.index += 1
        if text.startswith("<", self.index):
            self.index += 1
            return
        strips_tabs = text.startswith("-", self.index)
        self.index += strips_tabs
        while self.index < len(text) and text[self.index] in " \t":
            self.index += 1
        delimiter: list[str] = []
        quote: str | None = None
        quoted = False
        while self.index < len(text):
            char = text[self.index]
            if quote is None and char in _DELIMITER_ENDS:
                break
            self.index += 1
            if char == quote:
                quote = None
            elif quote is None and char in "'\"":
                quote, quoted = char, True
            elif char == "\\" and quote != "'" and self.index < len(text):
                delimiter.append(text[self.index])
                self.index += 1
                quoted = True
            else:
                delimiter.append(char)
        frame.heredocs.append(_Heredoc("".join(delimiter), strips_tabs, quoted))

    def _heredoc_step(self, frame: _Heredoc) -> None:
        text, index = self.text, self.index
        if index == 0 or text[index - 1] == "\n":
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
            line = text[index:end]
            if (line.lstrip("\t") if frame.strips_tabs else line) == frame.delimiter:
                self.stack.pop()
                self.index = end + 1
                return
        if frame.quoted or not self._expansion_step():
            self.index += 1

    def _arithmetic_step(self, frame: _Arithmetic) -> None:
        text, index = self.text, self.index
        char = text[index]
        if self._expansion_step():
            return
        self.index += 1
        if char == "(":
            frame.depth += 1
        elif char == ")":
            if frame.depth:
                frame.depth -= 1
            else:
                self.stack.pop()
                self.index += text.startswith(")", self.index)
        elif char == "'":
            self.stack.append("single")
        elif char == '"':
            self.stack.append("double")
