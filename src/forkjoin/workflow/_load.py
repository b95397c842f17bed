"""Loading a forkjoin.yaml: its text to a checked Workflow, or one WorkflowError.

The text is composed into YAML nodes (`_yaml`), the top-level settings are read
here, each step by `_steps` (its `${{ }}` references by `_references`), and what
needs the whole graph last: cycles, and steps reading the outputs of steps they do
not need. Checks stop at the first mistake.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from forkjoin.errors import CycleError, WorkflowError
from forkjoin.workflow._launch import LAUNCHERS
from forkjoin.workflow._references import OutputUse
from forkjoin.workflow._spec import FailureMode, Workflow, quoted
from forkjoin.workflow._steps import ID, ID_RULE, StepReader
from forkjoin.workflow._yaml import Node, NodeReader, compose, kind_of

__all__ = ["load", "loads"]

_KEYS = ("max_concurrency", "failure_mode", "env", "pools", "executor", "address", "steps")
_ALIASES = {
    **dict.fromkeys(("jobs", "tasks", "targets"), "steps"),
    **dict.fromkeys(("concurrency", "jobs_max", "workers"), "max_concurrency"),
    **dict.fromkeys(("environment", "variables", "vars"), "env"),
}
_FAILURE_MODES: tuple[FailureMode, ...] = ("fail_fast", "keep_going")
_POOLS_HINT = "map each pool name to its depth, such as `pools: {db: 1}`"
_STEPS_HINT = "a workflow is a mapping with `steps:`, such as `steps: {hello: {run: echo hello}}`"


def load(path: str | os.PathLike[str]) -> Workflow:
    """The workflow in the file at `path`, read as UTF-8 and checked.

    Raises WorkflowError for every mistake a user can make, a missing or unreadable
    file included, naming the place in the file and the fix; never anything else for
    a bad file.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:
            data = file.read()
    except FileNotFoundError as error:
        raise WorkflowError(
            "no such file", path=name, hint="create forkjoin.yaml or pass -f"
        ) from error
    except IsADirectoryError as error:
        raise WorkflowError(
            "is a directory", path=name, hint="pass the workflow file itself with -f"
        ) from error
    except OSError as error:
        raise WorkflowError(f"cannot be read: {error.strerror or error}", path=name) from error
    data = data.removeprefix(b"\xef\xbb\xbf")  # the byte order mark some editors write
    try:
        text = data.decode()
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        raise WorkflowError(
            f"not UTF-8 text: byte 0x{data[error.start]:02x}",
            path=name,
            line=data.count(b"\n", 0, error.start) + 1,
            column=error.start - line_start + 1,
            hint="save the file as UTF-8",
        ) from error
    return loads(text, path=name)


def loads(text: str, *, path: str = "forkjoin.yaml") -> Workflow:
    """The workflow written in `text`, checked; `path` is the file name errors give.

    Raises WorkflowError as `load` does.
    """
    root = compose(text, path)
    try:
        return _read(NodeReader(text, path), root)
    except RecursionError as error:  # `<<` merges chained thousands deep
        raise WorkflowError(
            "nested too deeply to read", path=path, hint="a workflow needs a few levels at most"
        ) from error


def _read(reader: NodeReader, root: Node | None) -> Workflow:
    """The workflow of the composed file: settings first, then steps, then the graph."""
    path = reader.path
    if root is None or reader.is_null(root):
        raise WorkflowError("the file is empty", path=path, hint=_STEPS_HINT)
    if root.id != "mapping":
        raise reader.error(
            root, f"the top level must be a mapping with `steps:`, not {kind_of(root)}", _STEPS_HINT
        )
    given: dict[str, tuple[Node, Node]] = {}
    for name, key, value in reader.pairs(root, "the top level"):
        if name.startswith("x-"):
            continue  # extension keys hold anchors for `<<` merges, as in Compose files
        if name not in _KEYS:
            raise reader.unknown_key(key, "at the top level", _KEYS, _ALIASES)
        given[name] = key, value
    if "steps" not in given:
        raise reader.error(root, "no `steps:` mapping", _STEPS_HINT)

    def node_of(name: str) -> Node | None:
        return given[name][1] if name in given else None

    max_concurrency = reader.maybe_integer(
        node_of("max_concurrency"),
        "`max_concurrency`",
        minimum=1,
        hint="it is how many steps may run at once",
    )
    failure_mode = reader.choice(node_of("failure_mode"), "`failure_mode`", _FAILURE_MODES)
    env = reader.env(node_of("env"), "`env`")
    pools = _pools(reader, node_of("pools"))
    executor = reader.choice(node_of("executor"), "`executor`", LAUNCHERS)
    address_node = node_of("address")
    address = None
    if address_node is not None:
        address = reader.text(
            address_node, "`address`", "the Dask scheduler's address, such as tcp://10.0.0.5:8786"
        )
        if executor in (None, "local"):
            raise reader.error(
                address_node, "`address` is for a cluster", "add `executor: dask` beside it"
            )
    steps_key, steps_node = given["steps"]
    hint = "add a step, such as `hello: {run: echo hello}`"
    pairs = reader.pairs(steps_node, "`steps`", hint=hint)
    if not pairs:
        raise reader.error(steps_key, "`steps` is empty", hint)
    keys = {name: key for name, key, _ in pairs}
    for name, key in keys.items():
        if not ID.fullmatch(name):
            raise reader.error(key, f"step id {quoted(name)} is not valid", ID_RULE)
    steps_reader = StepReader(reader.text_of_file, path, ids=keys, env=env, pools=pools)
    workflow = Workflow(
        path=path,
        steps={name: steps_reader.step(name, key, node) for name, key, node in pairs},
        max_concurrency=max_concurrency,
        failure_mode="keep_going" if failure_mode == "keep_going" else "fail_fast",
        env=env,
        pools=pools,
        executor=executor,
        address=address,
    )
    _check_graph(reader, workflow, keys, steps_reader.uses)
    return workflow


def _pools(reader: NodeReader, node: Node | None) -> dict[str, int]:
    """Pool names, valid as ids, to depths of 1 or more."""
    pools: dict[str, int] = {}
    for name, key, depth in [] if node is None else reader.pairs(node, "`pools`", _POOLS_HINT):
        if not ID.fullmatch(name):
            raise reader.error(key, f"pool name {quoted(name)} is not valid", ID_RULE)
        pools[name] = reader.integer(
            depth,
            f"the depth of pool `{name}`",
            minimum=1,
            hint="it is how many of the pool's steps may run at once",
        )
    return pools


def _check_graph(
    reader: NodeReader, workflow: Workflow, keys: dict[str, Node], uses: Sequence[OutputUse]
) -> None:
    """No cycles, and each step reads outputs only of steps it needs, directly or not."""
    graph = workflow.graph()
    try:
        graph.topological_order()
    except CycleError as error:
        raise reader.error(
            keys[str(error.path[0])], str(error), "remove one of these needs to break the cycle"
        ) from error
    upstream: dict[str, set[str]] = {}
    for use in uses:
        source = workflow.steps[use.source]
        if source.for_each is not None or source.matrix is not None:
            raise WorkflowError(
                f"step `{use.step}` reads an output of `{use.source}`, which runs once per "
                "item and has no outputs of its own",
                path=workflow.path,
                line=use.line,
                column=use.column,
                hint="write the value from a step without items, which both can need",
            )
        if use.step not in upstream:
            upstream[use.step] = set(graph.select([use.step]))
        if use.source not in upstream[use.step]:
            raise WorkflowError(
                f"step `{use.step}` reads an output of `{use.source}` but does not need it",
                path=workflow.path,
                line=use.line,
                column=use.column,
                hint=f"add `{use.source}` to its `needs`; a step may read the outputs "
                "of every step it needs, directly or through other steps",
            )
