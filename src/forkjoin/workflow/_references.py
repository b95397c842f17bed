"""Checking the `${{ }}` references of one step of a forkjoin.yaml against what it has.

A `run` command or a `with` value may name the step's item, a matrix key, an env, or
an output of another step. All but outputs are checked here; reading an output is
noted as an `OutputUse`, to be checked against the graph once every step is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from forkjoin.errors import WorkflowError
from forkjoin.workflow._quoting import Context, contexts_of
from forkjoin.workflow._spec import (
    Reference,
    ReferenceSyntaxError,
    Step,
    did_you_mean,
    listing,
    parse_references,
)
from forkjoin.workflow._yaml import Node, NodeReader

__all__ = ["OutputUse", "ReferenceChecker"]

# Where a reference's variable would not be expanded, why, and the fix.
_UNEXPANDED: dict[Context, tuple[str, str]] = {
    "literal": (
        "stands where the shell expands nothing: in a quoted here-document (<<'EOF')",
        "write the delimiter unquoted (<<EOF) so the value is put in, and `\\$` for a"
        " literal $ in the text",
    ),
    "escaped": (
        "follows a `\\`, which would escape the $ forkjoin puts in its place",
        "remove the `\\`: a value is never read as shell code, so it needs no escape",
    ),
}


@dataclass(frozen=True, slots=True)
class OutputUse:
    """Step `step` reads an output of step `source`, at `line`:`column` of the file."""

    step: str
    source: str
    line: int
    column: int


class ReferenceChecker(NodeReader):
    """Checks the `${{ }}` references of the steps of one file, given the ids and the env."""

    def __init__(
        self, text: str, path: str, *, ids: Mapping[str, Node], env: Mapping[str, str]
    ) -> None:
        super().__init__(text, path)
        self.ids = ids
        self.workflow_env = env
        self.uses: list[OutputUse] = []

    def _references(self, node: Node, text: str) -> list[Reference]:
        try:
            return parse_references(text)
        except ReferenceSyntaxError as error:
            line, column = self.place(node, error.offset)
            raise WorkflowError(
                error.reason, path=self.path, line=line, column=column, hint=error.hint
            ) from error

    def _check_references(self, step: Step, text: str, node: Node) -> None:
        """Each `${{ }}` in `text` (`run`, or a `with` value) names what the step has:
        its item, a matrix key, an env, or an output of a step it needs."""
        env = {**self.workflow_env, **step.env}
        for reference in self._references(node, text):
            if reference.kind == "output":
                self._note_output_use(step.id, reference, node, reference.start)
                continue
            problem = _reference_problem(step, reference, env)
            if problem is not None:
                line, column = self.place(node, reference.start)
                message, hint = problem
                raise WorkflowError(message, path=self.path, line=line, column=column, hint=hint)

    def _check_contexts(self, command: str, node: Node) -> None:
        """No `${{ }}` of a command stands where the shell would not expand it."""
        references = self._references(node, command)
        for reference, context in zip(references, contexts_of(command, references), strict=True):
            if context not in _UNEXPANDED:
                continue
            message, hint = _UNEXPANDED[context]
            line, column = self.place(node, reference.start)
            raise WorkflowError(
                f"{reference} {message}", path=self.path, line=line, column=column, hint=hint
            )

    def _note_output_use(self, step_id: str, reference: Reference, node: Node, offset: int) -> None:
        source = reference.parts[0]
        line, column = self.place(node, offset)
        if source == step_id:
            message = f"step `{step_id}` reads its own output in {reference}"
            hint = "outputs are for the steps that need this one"
        elif source not in self.ids:
            message = f"{reference} names `{source}`, which is not a step"
            hint = did_you_mean(source, self.ids) or listing("the steps are", self.ids)
        else:
            self.uses.append(OutputUse(step_id, source, line, column))
            return
        raise WorkflowError(message, path=self.path, line=line, column=column, hint=hint)


def _reference_problem(
    step: Step, reference: Reference, env: Mapping[str, str]
) -> tuple[str, str] | None:
    """What is wrong with an item, matrix or env reference in `step`, and the fix; or None."""
    this = f"step `{step.id}`"
    name = reference.parts[0] if reference.parts else ""
    if reference.kind == "item" and step.for_each is None:
        fix = "use ${{ matrix.KEY }}" if step.matrix is not None else f"add `for_each:` to {this}"
        return f"{reference} is set only in for_each steps, and {this} is not one", fix
    if reference.kind == "matrix" and step.matrix is None:
        fix = "use ${{ item }}" if step.for_each is not None else f"add `matrix:` to {this}"
        return f"{reference} is set only in matrix steps, and {this} is not one", fix
    if reference.kind == "matrix" and step.matrix is not None and name not in step.matrix:
        fix = did_you_mean(name, step.matrix) or listing("its keys are", step.matrix)
        return f"the matrix of {this} has no key `{name}`", fix
    if reference.kind == "env" and name not in env:
        fix = did_you_mean(name, env) or (
            f"declare it under `env:`, or write ${name} to read the process environment"
        )
        return f"{reference} names no variable of the workflow's or the step's `env`", fix
    return None
