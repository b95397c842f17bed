"""Reading one step of a forkjoin.yaml: its keys and their values.

Everything about a step that the step alone can tell is checked here, given the ids
of all steps, the workflow's env and its pools; its `${{ }}` references are checked
by `_references`, whose `ReferenceChecker` this reader extends.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from datetime import date

from forkjoin.workflow._references import ReferenceChecker
from forkjoin.workflow._spec import (
    DURATION_FORMS,
    Item,
    OnFailure,
    Step,
    did_you_mean,
    listing,
    parse_duration,
    quoted,
)
from forkjoin.workflow._yaml import Node, kind_of

__all__ = ["ID", "ID_RULE", "StepReader"]

ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*", re.ASCII)  # as GitHub Actions' job ids
ID_RULE = "use letters, digits, `_` and `-`, starting with a letter or `_`"

_KEYS = (
    *("run", "call", "with", "needs", "for_each", "matrix", "parallelism", "on_failure"),
    *("timeout", "retries", "cwd", "env", "pool", "priority"),
)
# Names other tools give the same keys, in which difflib sees no likeness.
_ALIASES = {
    **dict.fromkeys(("depends_on", "depends-on", "dependsOn", "requires", "after"), "needs"),
    **dict.fromkeys(("command", "cmd", "script", "shell"), "run"),
    **dict.fromkeys(("working-directory", "working_directory", "workdir", "dir"), "cwd"),
    **dict.fromkeys(("environment", "variables", "vars"), "env"),
    **dict.fromkeys(("args", "kwargs", "with_"), "with"),
    "continue-on-error": "on_failure",
}
_CALL = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", re.ASCII)


class StepReader(ReferenceChecker):
    """Reads the steps of one file, given the ids of all of them, the env and the pools."""

    def __init__(
        self,
        text: str,
        path: str,
        *,
        ids: Mapping[str, Node],
        env: Mapping[str, str],
        pools: Mapping[str, int],
    ) -> None:
        super().__init__(text, path, ids=ids, env=env)
        self.pools = pools

    def step(self, step_id: str, key: Node, node: Node) -> Step:
        """The step defined by `node` under `key`; raises WorkflowError at its first mistake."""
        this = f"step `{step_id}`"
        if node.id != "mapping":
            raise self.error(
                key if self.is_null(node) else node,
                f"{this} must be a mapping, not {kind_of(node)}",
                f"write `{step_id}: {{run: <command>}}`",
            )
        fields: dict[str, tuple[Node, Node]] = {}
        for name, field_key, value in self.pairs(node, this):
            if name not in _KEYS:
                raise self.unknown_key(field_key, f"in {this}", _KEYS, _ALIASES)
            fields[name] = field_key, value
        self._check_combination(fields, key, this)

        def node_of(name: str) -> Node | None:
            return fields[name][1] if name in fields else None

        def text(name: str, hint: str) -> str | None:
            node = node_of(name)
            return None if node is None else self.text(node, f"`{name}` of {this}", hint)

        call = text("call", "name a function")
        if call is not None and not _CALL.fullmatch(call):
            raise self.error(
                node_of("call"),
                f"`call` of {this} must be `package.module:function`, not {quoted(call)}",
                "name the module, a colon, then the function in it",
            )
        step = Step(
            id=step_id,
            run=text("run", "give the shell command to run"),
            call=call,
            with_=self._keywords(node_of("with"), this),
            needs=self._needs(node_of("needs"), step_id),
            for_each=self._for_each(fields.get("for_each"), step_id),
            matrix=self._matrix(fields.get("matrix"), this),
            parallelism=self.maybe_integer(
                node_of("parallelism"),
                f"`parallelism` of {this}",
                minimum=1,
                hint="it is how many items may run at once",
            ),
            on_failure=_on_failure(
                self.choice(node_of("on_failure"), f"`on_failure` of {this}", ("stop", "continue"))
            ),
            timeout=self._timeout(node_of("timeout"), this),
            retries=self.maybe_integer(
                node_of("retries"),
                f"`retries` of {this}",
                minimum=0,
                hint="it is how many times a failed attempt is tried again",
            )
            or 0,
            cwd=text("cwd", "give a directory"),
            env=self.env(node_of("env"), f"`env` of {this}"),
            pool=self._pool(node_of("pool"), this),
            priority=self.maybe_integer(
                node_of("priority"),
                f"`priority` of {this}",
                hint="a higher priority starts first among ready steps",
            )
            or 0,
            line=key.start_mark.line + 1,
        )
        if step.run is not None:
            self._check_references(step, step.run, fields["run"][1])
            self._check_contexts(step.run, fields["run"][1])
        with_node = node_of("with")
        for _, _, value in [] if with_node is None else self.pairs(with_node, f"`with` of {this}"):
            if value.id == "scalar" and value.tag == self.STR:
                self._check_references(step, value.value, value)
        return step

    def _check_combination(
        self, fields: dict[str, tuple[Node, Node]], key: Node, this: str
    ) -> None:
        """One of `run` and `call`; `with` only with `call`; item options only with items."""
        for first, second, hint in (
            ("run", "call", "a step runs a shell command or calls a Python function; make two"),
            ("for_each", "matrix", "give it one of them: a matrix of one key is a for_each"),
        ):
            if first in fields and second in fields:
                later = max(fields[first][0], fields[second][0], key=self.position)
                raise self.error(later, f"{this} has both `{first}` and `{second}`", hint)
        if "run" not in fields and "call" not in fields:
            raise self.error(
                key,
                f"{this} has neither `run` nor `call`",
                "add `run: <shell command>` or `call: package.module:function`",
            )
        if "with" in fields and "call" not in fields:
            raise self.error(
                fields["with"][0],
                f"`with` is only for `call` steps, and {this} has `run`",
                "pass values to a shell command through `env`",
            )
        if "for_each" not in fields and "matrix" not in fields:
            for name in ("parallelism", "on_failure"):
                if name in fields:
                    raise self.error(
                        fields[name][0],
                        f"`{name}` applies only to for_each and matrix steps",
                        f"add `for_each:` or `matrix:` to {this}, or remove `{name}`",
                    )

    def _needs(self, node: Node | None, step_id: str) -> tuple[str, ...]:
        """A step id or a list of them, each a step other than this one."""
        if node is None or self.is_null(node):
            return ()
        what = f"`needs` of step `{step_id}`"
        needs: dict[str, None] = {}  # a need named twice is one need
        for entry in node.value if node.id == "sequence" else [node]:
            if entry.id != "scalar" or entry.tag in (self.INT, self.FLOAT, self.NULL):
                raise self.error(
                    entry,
                    f"{what} must be a step id or a list of step ids, not {kind_of(entry)}",
                    "write `needs: [lint, unit]`",
                )
            name = self.text(entry, what, "name a step")
            if name == step_id:
                raise self.error(
                    entry, f"step `{step_id}` needs itself", f"remove `{name}` from its `needs`"
                )
            if name not in self.ids:
                raise self.error(
                    entry,
                    f"step `{step_id}` needs {quoted(name)}, which is not a step",
                    did_you_mean(name, self.ids) or listing("the steps are", self.ids),
                )
            needs[name] = None
        return tuple(needs)

    def _for_each(
        self, field: tuple[Node, Node] | None, step_id: str
    ) -> tuple[Item, ...] | str | None:
        """A non-empty list of items, or one `${{ steps.X.outputs.Y }}` as a text."""
        if field is None:
            return None
        key, node = field
        what = f"`for_each` of step `{step_id}`"
        hint = "list the items, such as `for_each: [a, b]`, or read them from an output"
        if self.is_null(node) or (node.id == "sequence" and not node.value):
            raise self.error(key if self.is_null(node) else node, f"{what} is empty", hint)
        if node.id == "sequence":
            return tuple(self.item(entry, what) for entry in node.value)
        if node.id == "scalar" and node.tag == self.STR:
            text: str = node.value.strip()
            references = self._references(node, text)
            if len(references) == 1 and references[0].kind == "output":
                reference = references[0]
                if (reference.start, reference.end) == (0, len(text)):
                    self._note_output_use(step_id, reference, node, node.value.find("${{"))
                    return text
        raise self.error(
            node,
            f"{what} must be a list, or one ${{{{ steps.STEP.outputs.NAME }}}}, "
            f"not {kind_of(node)}",
            hint,
        )

    def _matrix(
        self, field: tuple[Node, Node] | None, this: str
    ) -> dict[str, tuple[Item, ...]] | None:
        """A non-empty mapping of keys to non-empty lists of values, keys in file order."""
        if field is None:
            return None
        key, node = field
        hint = "map each key to a list of values, such as `matrix: {os: [linux, darwin]}`"
        pairs = self.pairs(node, f"`matrix` of {this}", hint=hint)
        if not pairs:
            empty = key if self.is_null(node) else node
            raise self.error(empty, f"`matrix` of {this} is empty", hint)
        matrix: dict[str, tuple[Item, ...]] = {}
        for name, matrix_key, values in pairs:
            what = f"`matrix.{name}` of {this}"
            if not ID.fullmatch(name):
                raise self.error(
                    matrix_key, f"matrix key {quoted(name)} of {this} is not valid", ID_RULE
                )
            if values.id != "sequence":
                raise self.error(
                    matrix_key if self.is_null(values) else values,
                    f"{what} must be a list of values, not {kind_of(values)}",
                    f"write `{name}: [a, b]`",
                )
            if not values.value:
                raise self.error(values, f"{what} is empty", "list at least one value")
            matrix[name] = tuple(self.item(entry, what) for entry in values.value)
        return matrix

    def _keywords(self, node: Node | None, this: str) -> dict[str, object]:
        """Python argument names to any YAML values, as yaml.safe_load gives them."""
        keywords: dict[str, object] = {}
        if node is None:
            return keywords
        what = f"`with` of {this}"
        for name, key, value in self.pairs(node, what, hint="map each argument to its value"):
            if not name.isidentifier() or keyword.iskeyword(name):
                raise self.error(
                    key,
                    f"{quoted(name)} in {what} is not a Python argument name",
                    "use letters, digits and `_`, not starting with a digit",
                )
            try:
                keywords[name] = _json_like(self.construct(value, f"`with.{name}` of {this}"))
            except TypeError as error:
                raise self.error(
                    value,
                    f"`with.{name}` of {this} cannot be passed to a function: {error}",
                    "use text, numbers, booleans, null, lists and mappings; quote it for text",
                ) from error
        return keywords

    def _timeout(self, node: Node | None, this: str) -> float | None:
        if node is None:
            return None
        what = f"`timeout` of {this}"
        if node.id != "scalar" or self.is_null(node):
            raise self.error(
                node, f"{what} must be a duration, not {kind_of(node)}", DURATION_FORMS
            )
        mark = node.start_mark
        # A number is read as YAML reads it (1_000, 1:30), a text by parse_duration; an
        # error shows the value as written.
        is_number = node.tag in (self.INT, self.FLOAT) and len(node.value) <= self.LONGEST_NUMBER
        given = self.construct(node, what) if is_number else node.value
        seconds = parse_duration(
            given, path=self.path, line=mark.line + 1, column=mark.column + 1, shown=node.value
        )
        if seconds <= 0:
            raise self.error(node, f"{what} must be more than 0", DURATION_FORMS)
        return seconds

    def _pool(self, node: Node | None, this: str) -> str | None:
        if node is None:
            return None
        name = self.text(node, f"`pool` of {this}", "name a pool declared under `pools:`")
        if name not in self.pools:
            raise self.error(
                node,
                f"pool {quoted(name)} of {this} is not declared",
                did_you_mean(name, self.pools)
                or f"declare it under `pools:`, such as `pools: {{{name}: 1}}`",
            )
        return name


def _json_like(value: object) -> object:
    """`value` as JSON can carry it to a `call:` step's process: a date as its ISO text.

    Raises TypeError for a value JSON has no form for (binary, a set).
    """
    if isinstance(value, dict):
        return {str(key): _json_like(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_like(item) for item in value]
    if isinstance(value, date):  # datetime too: YAML reads 2026-11-25 as a date
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"YAML reads it as {type(value).__name__}, which JSON cannot carry")


def _on_failure(text: str | None) -> OnFailure:
    return "continue" if text == "continue" else "stop"
