"""YAML for workflow files: text to nodes, and typed values from nodes, each with its place.

`compose` turns text into PyYAML's node tree, or a WorkflowError at the line and
column of the syntax error. `NodeReader` reads values of the types a workflow uses
from those nodes, raising a WorkflowError at the node for a value of the wrong kind.
PyYAML is imported here on first use only.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from typing import Any

from forkjoin.errors import WorkflowError
from forkjoin.workflow._spec import Item, did_you_mean, listing, quoted

__all__ = ["Node", "NodeReader", "compose", "kind_of"]

Node = Any  # a yaml.nodes.Node: PyYAML has no type hints, and loads only when a file does

_TAG = "tag:yaml.org,2002:"
_NULL, _STR, _INT, _FLOAT, _BOOL, _TIMESTAMP, _MERGE = (
    _TAG + name for name in ("null", "str", "int", "float", "bool", "timestamp", "merge")
)
_TEXT_TAGS = (_STR, _INT, _FLOAT, _BOOL, _TIMESTAMP)  # a name or a command, taken as written
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a new line
_TRAILING_ZERO = re.compile(r"[-+]?[0-9]*\.[0-9]*0")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_LONGEST_NUMBER = 100  # digits; Python refuses to read an int of more than 4300
# The C parser recurses on the C stack once per level of nesting and kills the process
# beyond some 20,000 levels; the Python parser raises RecursionError instead. A file
# nests no deeper than twice its longest line plus its count of brackets.
_C_PARSER_SAFE_DEPTH = 5_000


def compose(text: str, path: str) -> Node | None:
    """The node tree of `text`, or None for a text holding no document.

    Raises WorkflowError for a YAML syntax error, at its line and column, for more
    than one document, and for nesting too deep to read.
    """
    import yaml

    bound = 2 * max(map(len, text.splitlines()), default=0) + text.count("[") + text.count("{")
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None and bound < _C_PARSER_SAFE_DEPTH:
        try:
            return yaml.compose(text, Loader=fast)
        except (yaml.YAMLError, UnicodeError):
            # The Python parser runs again to report it: its messages read better, and
            # they are the same wherever forkjoin runs, with or without libyaml.
            pass
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or "cannot be read"
        message = f"{error.context}, {problem}" if error.context else problem
        lines = text.splitlines()
        line_text = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
        raise WorkflowError(
            f"invalid YAML: {message}",
            path=path,
            line=None if mark is None else mark.line + 1,
            column=None if mark is None else mark.column + 1,
            hint=_syntax_hint(problem, line_text),
        ) from error
    except yaml.reader.ReaderError as error:
        line, column = _Lines(text).place(error.position)
        raise WorkflowError(
            f"invalid YAML: the character U+{error.character:04X} is not allowed",
            path=path,
            line=line,
            column=column,
            hint="remove it, or write it as an escape inside double quotes",
        ) from error
    except RecursionError as error:
        raise WorkflowError(
            "nested too deeply to read", path=path, hint="a workflow needs a few levels at most"
        ) from error


def _syntax_hint(problem: str, line: str) -> str:
    """The likely fix of a syntax error, from PyYAML's problem and the line it is on."""
    if "${{" in line:
        # `${{` opens a flow mapping inside `{...}` or `[...]`, the usual way to trip.
        return 'quote a value holding ${{ }} inside { } or [ ], as in {run: "echo ${{ item }}"}'
    if "'\\t'" in problem:
        return "indent with spaces: YAML does not allow tabs there"
    if "mapping values are not allowed" in problem:
        return "quote a value that holds `: `, or fix the indentation"
    if "another document" in problem:
        return "a workflow is one document: remove the `---` line and what follows"
    return "check the indentation, quotes and brackets here and just before"


def kind_of(node: Node) -> str:
    """What a node holds, as an error message names it: "a list", "the number 3"."""
    if node.id == "mapping":
        return "a mapping"
    if node.id == "sequence":
        return "a list"
    shown = quoted(node.value)
    return {
        _NULL: "empty",
        _STR: f"the text {shown}",
        _INT: f"the number {shown}",
        _FLOAT: f"the number {shown}",
    }.get(node.tag, shown)


class _Lines:
    """Offsets in a text to 1-based lines and columns, as YAML counts them."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    def offset(self, line: int, column: int) -> int:
        """The offset of a 0-based line and column, as PyYAML's marks give them."""
        return self.starts[min(line, len(self.starts) - 1)] + column

    def place(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1


class NodeReader:
    """Typed values from the nodes of one file, each failure a WorkflowError at its node."""

    NULL, STR, INT, FLOAT, BOOL, MERGE = _NULL, _STR, _INT, _FLOAT, _BOOL, _MERGE
    LONGEST_NUMBER = _LONGEST_NUMBER

    def __init__(self, text: str, path: str) -> None:
        self.text_of_file = text
        self.path = path
        self._lines: _Lines | None = None
        self._constructor: Any = None

    def error(self, node: Node, message: str, hint: str | None = None) -> WorkflowError:
        """The error `message`, placed at the start of `node`."""
        mark = node.start_mark
        return WorkflowError(
            message, path=self.path, line=mark.line + 1, column=mark.column + 1, hint=hint
        )

    @staticmethod
    def position(node: Node) -> tuple[int, int]:
        """Where a node starts, for telling which of two keys comes later."""
        return node.start_mark.line, node.start_mark.column

    @staticmethod
    def is_null(node: Node) -> bool:
        return node.id == "scalar" and node.tag == _NULL  # type: ignore[no-any-return]

    def place(self, node: Node, offset: int) -> tuple[int, int]:
        """The 1-based line and column in the file of the `${{` at `offset` in a scalar's value.

        A value's offsets drift from the file's when YAML folds lines or unescapes
        quotes, but each `${{` in the value is written as such in the file, so the
        n-th `${{` of the value is found as the n-th of the node's text. Anything else
        is placed at the node's start.
        """
        if self._lines is None:
            self._lines = _Lines(self.text_of_file)
        lines = self._lines
        start = lines.offset(node.start_mark.line, node.start_mark.column)
        end = lines.offset(node.end_mark.line, node.end_mark.column)
        value: str = node.value
        found = start - 1
        if value.startswith("${{", offset):
            for _ in range(value.count("${{", 0, offset) + 1):
                found = self.text_of_file.find("${{", found + 1, end)
                if found < 0:
                    break
        return lines.place(found if start <= found else start)

    def pairs(self, node: Node, what: str, hint: str | None = None) -> list[tuple[str, Node, Node]]:
        """The (name, key node, value node) of a mapping, `<<` merges applied; [] for empty.

        Keys are names, taken as written. Raises WorkflowError when the node is no
        mapping, for a key that is not a plain name, and for a key given twice.
        """
        if self.is_null(node):
            return []
        if node.id != "mapping":
            raise self.error(node, f"{what} must be a mapping, not {kind_of(node)}", hint)
        return self._merged(node, what, set())

    def _merged(self, node: Node, what: str, merging: set[int]) -> list[tuple[str, Node, Node]]:
        merging.add(id(node))
        own: dict[str, tuple[Node, Node]] = {}
        inherited: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            if key.tag == _MERGE:
                for source in value.value if value.id == "sequence" else [value]:
                    if source.id != "mapping" or id(source) in merging:
                        raise self.error(
                            source,
                            "`<<` must merge a mapping into another",
                            "write `<<: *name` where `&name` marks a mapping",
                        )
                    for name, merged_key, merged_value in self._merged(source, what, merging):
                        inherited.setdefault(name, (merged_key, merged_value))  # first wins
                continue
            if key.id != "scalar" or key.tag == _NULL or not key.value:
                raise self.error(
                    key,
                    f"a key in {what} must be a name, not {kind_of(key)}",
                    "write each key as a plain word",
                )
            if key.value in own:
                first = own[key.value][0].start_mark.line + 1
                raise self.error(
                    key,
                    f"{quoted(key.value)} is given twice in {what}, first on line {first}",
                    "keep one of them",
                )
            own[key.value] = key, value
        merging.discard(id(node))
        inherited = {name: pair for name, pair in inherited.items() if name not in own}
        return [(name, key, value) for name, (key, value) in (inherited | own).items()]

    def unknown_key(
        self, key: Node, where: str, known: tuple[str, ...], aliases: dict[str, str]
    ) -> WorkflowError:
        """The error for a key not in `known`, with the closest or the aliased one as a hint."""
        name = key.value
        meant = aliases.get(name)
        hint = f"did you mean `{meant}`?" if meant else did_you_mean(name, known)
        return self.error(
            key,
            f"unknown key {quoted(name)} {where}",
            hint or listing("the keys are", known, limit=len(known)),
        )

    def text(self, node: Node, what: str, hint: str) -> str:
        """A non-blank text; a number or a boolean is taken as written."""
        if node.id != "scalar":
            raise self.error(node, f"{what} must be a text, not {kind_of(node)}", hint)
        if node.tag == _NULL or not node.value.strip():
            raise self.error(node, f"{what} is empty", hint)
        self._check_tag(node, what, _TEXT_TAGS)
        return node.value  # type: ignore[no-any-return]

    def integer(
        self, node: Node, what: str, *, minimum: int | None = None, hint: str | None = None
    ) -> int:
        """A whole number, at least `minimum` when it is given."""
        if node.id != "scalar" or node.tag != _INT:
            raise self.error(node, f"{what} must be a whole number, not {kind_of(node)}", hint)
        if len(node.value) > _LONGEST_NUMBER:
            raise self.error(node, f"{what} is too large", hint)
        number: int = self.construct(node, what)
        if minimum is not None and number < minimum:
            raise self.error(node, f"{what} must be {minimum} or more, not {number}", hint)
        return number

    def maybe_integer(
        self, node: Node | None, what: str, *, minimum: int | None = None, hint: str | None = None
    ) -> int | None:
        return None if node is None else self.integer(node, what, minimum=minimum, hint=hint)

    def choice(self, node: Node | None, what: str, allowed: tuple[str, ...]) -> str | None:
        """One of `allowed`, or None for no node."""
        if node is None:
            return None
        listed = " or ".join(allowed)
        text = self.text(node, what, f"write {listed}")
        if text not in allowed:
            raise self.error(
                node,
                f"{what} must be {listed}, not {quoted(text)}",
                did_you_mean(text, allowed) or f"write {listed}",
            )
        return text

    def item(self, node: Node, what: str) -> Item:
        """A string, a number or true/false; other YAML 1.1 booleans (`no`, `on`) are strings."""
        if node.id != "scalar" or node.tag == _NULL:
            raise self.error(
                node,
                f"{what} must hold strings, numbers or true/false, not {kind_of(node)}",
                "quote a value to pass it as text",
            )
        self._check_tag(node, what, _TEXT_TAGS)
        text: str = node.value
        if node.tag in (_INT, _FLOAT) and len(text) > _LONGEST_NUMBER:
            raise self.error(
                node, f"{what} holds a number too large", "quote it to pass it as text"
            )
        if node.tag == _INT:
            return self.construct(node, what)  # type: ignore[no-any-return]
        if node.tag == _FLOAT:
            number: float = self.construct(node, what)
            if not math.isfinite(number):
                raise self.error(
                    node,
                    f"{what} must hold finite numbers, not {quoted(text)}",
                    "quote it to pass it as text",
                )
            if _TRAILING_ZERO.fullmatch(text):
                raise self.error(
                    node,
                    f"`{text}` in {what} reads as the number {number!r}",
                    f"quote it to keep it as written: '{text}'",
                )
            return number
        if node.tag == _BOOL and text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text

    def env(self, node: Node | None, what: str) -> dict[str, str]:
        """Variable names to texts: numbers as written, true/false in lower case, empty as ""."""
        env: dict[str, str] = {}
        if node is None:
            return env
        for name, key, value in self.pairs(node, what, "map each variable name to its value"):
            if not _ENV_NAME.fullmatch(name):
                raise self.error(
                    key,
                    f"{quoted(name)} in {what} is not a valid variable name",
                    "use letters, digits and `_`, not starting with a digit",
                )
            if value.id != "scalar":
                raise self.error(
                    value,
                    f"`{name}` in {what} must be a text, number or true/false, "
                    f"not {kind_of(value)}",
                    "quote it to pass it as text",
                )
            self._check_tag(value, f"`{name}` in {what}", (*_TEXT_TAGS, _NULL))
            text: str = "" if value.tag == _NULL else value.value
            is_bool = value.tag == _BOOL and text.lower() in ("true", "false")
            env[name] = text.lower() if is_bool else text
        return env

    def construct(self, node: Node, what: str) -> Any:
        """The Python value of a node, as yaml.safe_load would give it."""
        if self._constructor is None:
            import yaml

            self._constructor = yaml.constructor.SafeConstructor()
        try:
            return self._constructor.construct_object(node, deep=True)
        except RecursionError:
            raise
        except Exception as error:
            # PyYAML's constructors raise ValueError, KeyError or AttributeError for a
            # value that does not fit its explicit tag (`!!int x`), and ConstructorError
            # for an unknown tag: all the same mistake, in the file.
            mark = getattr(error, "problem_mark", None) or node.start_mark
            problem = getattr(error, "problem", None) or "it does not fit its tag"
            raise WorkflowError(
                f"{what} cannot be read: {problem}",
                path=self.path,
                line=mark.line + 1,
                column=mark.column + 1,
                hint="a value cannot hold itself through an alias"
                if "recursive" in problem
                else "remove the `!` tag, or quote the value to pass it as text",
            ) from error

    def _check_tag(self, node: Node, what: str, tags: tuple[str, ...]) -> None:
        if node.tag not in tags:
            tag = quoted(node.tag.replace(_TAG, "!!"))
            raise self.error(
                node, f"{what} cannot be a {tag} value", "remove the tag, or quote the value"
            )
