"""What a step's process receives: its command, its environment, a call's arguments,
and the items of a for_each step whose list is another step's output.

A `${{ ... }}` reference is resolved here, at run time, from the step's item or
matrix values, the environment, or the outputs of the steps it needs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from forkjoin.errors import StepFailed
from forkjoin.workflow._quoting import interpolate, is_number
from forkjoin.workflow._spec import Item, Reference, Step, Workflow
from forkjoin.workflow._summary import Record

__all__ = ["Inputs", "text_of"]

# A `call:` step runs in a Python of its own, as a `run:` step in a shell of its own:
# the launcher names the Python of the machine where it runs.
_CALL_COMMAND = 'exec "$FORKJOIN_PYTHON" -m forkjoin._call_step'


class Inputs:
    """Builds each command of one run; `outputs_of(step_id)` gives a step's outputs.

    Without `inherit_environment` a command's environment is only what the file
    sets: a command run on another machine keeps that machine's own.
    """

    def __init__(
        self,
        workflow: Workflow,
        directory: Path,
        outputs_of: Callable[[str], dict[str, str]],
        *,
        inherit_environment: bool = True,
    ) -> None:
        self.workflow = workflow
        self.directory = directory
        self._outputs_of = outputs_of
        self._inherited: Mapping[str, str] = os.environ if inherit_environment else {}
        self._base_environment: dict[bytes, bytes] | None = None
        self._step_environments: dict[str, dict[bytes, bytes]] = {}

    def command_of(self, record: Record) -> tuple[str, dict[bytes, bytes]]:
        """The `sh -c` text of a step or item, and its environment, FORKJOIN_OUTPUT aside.

        Raises StepFailed for a reference to an output the step it names did not write,
        and for one inside `$(( ))` whose value is not a number: arithmetic would read
        any other text as an expression, which bash lets run commands.
        """
        step = record.step
        env = self._environment_of(step)
        if step.run is not None:
            references = step.references()
            command, placeholders = interpolate(step.run, references)
            for placeholder, reference in zip(placeholders, references, strict=True):
                value = text_of(self._value_of(reference, record))
                if placeholder.context == "arithmetic" and not is_number(value):
                    raise StepFailed(
                        f"`{record.id}` uses {reference} inside $(( )), where only a whole"
                        f" number may go, and its value is {value!r}"
                    )
                env[placeholder.name.encode()] = os.fsencode(value)
            return command, env
        assert step.call is not None
        env[b"FORKJOIN_CALL"] = step.call.encode()
        env[b"FORKJOIN_CALL_WITH"] = json.dumps(self._arguments_of(record)).encode()
        env[b"FORKJOIN_CALL_PATH"] = bytes(self.directory)
        return _CALL_COMMAND, env

    def _environment_of(self, step: Step) -> dict[bytes, bytes]:
        """The environment of a step's command: ours, the file's, the step's, as bytes.

        Ours and the file's are encoded once per run, and only a step's own variables
        once per step: Popen would otherwise encode every variable for every command,
        the largest cost per step in a run of many short ones."""
        if self._base_environment is None:
            merged = {**self._inherited, **self.workflow.env}
            self._base_environment = {os.fsencode(k): os.fsencode(v) for k, v in merged.items()}
        if not step.env:
            return dict(self._base_environment)
        own = self._step_environments.get(step.id)
        if own is None:
            own = {os.fsencode(k): os.fsencode(v) for k, v in step.env.items()}
            self._step_environments[step.id] = own
        return {**self._base_environment, **own}

    def _value_of(self, reference: Reference, record: Record) -> object:
        """The value a reference stands for in `record`'s step or item, as YAML typed it."""
        if reference.kind == "item":
            return record.item
        if reference.kind == "matrix":
            assert isinstance(record.item, dict)
            return record.item[reference.parts[0]]
        if reference.kind == "env":
            name = reference.parts[0]
            step = record.step
            return step.env.get(name, self.workflow.env.get(name, os.environ.get(name, "")))
        source, name = reference.parts
        outputs = self._outputs_of(source)
        if name not in outputs:
            raise StepFailed(
                f"`{record.id}` reads {reference}, but `{source}` wrote no output `{name}`"
            )
        return outputs[name]

    def _arguments_of(self, record: Record) -> dict[str, object]:
        """The keyword arguments of a `call:` step: `with`, its references replaced. A
        value that is one reference alone keeps the type of what it stands for."""
        arguments = dict(record.step.with_)
        for name, references in record.step.argument_references().items():
            text = arguments[name]
            assert isinstance(text, str)
            first = references[0]
            if len(references) == 1 and first.start == 0 and first.end == len(text):
                arguments[name] = self._value_of(first, record)
                continue
            pieces, position = [], 0
            for reference in references:
                pieces += [
                    text[position : reference.start],
                    text_of(self._value_of(reference, record)),
                ]
                position = reference.end
            arguments[name] = "".join(pieces) + text[position:]
        return arguments

    def items_of(self, record: Record) -> list[Item] | list[dict[str, Item]]:
        reference = record.step.for_each_reference()
        if reference is None:
            return record.step.items()
        source, name = reference.parts
        text = self._outputs_of(source).get(name)
        if text is None:
            raise StepFailed(
                f"`{record.id}` takes its items from {reference}, which was not written"
            )
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            raise StepFailed(f"{reference} is not JSON: {error}") from error
        if not isinstance(items, list) or not all(
            isinstance(item, str | int | float | bool) for item in items
        ):
            raise StepFailed(f"{reference} must be a JSON list of strings or numbers, not {text!r}")
        return items


def text_of(value: object) -> str:
    """A value as the shell receives it: YAML's true/false, JSON for a mapping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
