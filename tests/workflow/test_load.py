"""Tests of forkjoin.workflow: loading a forkjoin.yaml into the model, and every check.

Each mistake a user can make is a row of MISTAKES: a file and the one line of error it
gets, place and fix included, asserted whole. Files are written inline; graphs in the
docstrings read `a -> b` for "b needs a".
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import forkjoin.workflow
from forkjoin.errors import WorkflowError
from forkjoin.workflow import Reference, Step, Workflow, load, loads, parse_duration
from forkjoin.workflow._spec import LONGEST_DURATION

EXAMPLE = Path(__file__).parents[2] / "examples" / "forkjoin.yaml"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def error_of(text: str) -> str:
    with pytest.raises(WorkflowError) as caught:
        loads(dedent(text))
    return str(caught.value)


# The example, and every other key once; the expected model follows it.
BIG = """
max_concurrency: 2
failure_mode: keep_going
env: {REGION: eu-west-1, PY: 3.10, VERBOSE: true, QUIET: no, EMPTY: }
pools: {db: 1, gpu: 2}
x-retrying: &retrying {retries: 2, timeout: 1h30m}
steps:
  version:
    run: echo "value=1.2.3" >> "$FORKJOIN_OUTPUT"
  lint: {run: ruff check .}
  unit: {run: pytest -q, timeout: 10m, retries: 1, pool: db}
  package:
    needs: [lint, unit, version]
    run: python -m build --version ${{ steps.version.outputs.value }}
  deploy:
    needs: package
    for_each: [us-east-1, eu-west-1, ap-south-1]
    parallelism: 2
    on_failure: continue
    run: ./deploy.sh ${{ item }}
  build-matrix:
    matrix: {os: [linux, darwin], py: ["3.11", "3.12"]}
    run: echo ${{ matrix.os }} ${{ matrix.py }}
  train:
    <<: *retrying
    call: models.train:fit
    with: {epochs: 3, layers: [64, 32], name: small}
    cwd: ml
    env: {SEED: 7}
    pool: gpu
    priority: -5
    timeout: 90
  on:
    needs: [deploy, train]
    run: true
"""

BIG_MODEL = Workflow(
    path="forkjoin.yaml",
    max_concurrency=2,
    failure_mode="keep_going",
    env={"REGION": "eu-west-1", "PY": "3.10", "VERBOSE": "true", "QUIET": "no", "EMPTY": ""},
    pools={"db": 1, "gpu": 2},
    steps={
        "version": Step(id="version", run='echo "value=1.2.3" >> "$FORKJOIN_OUTPUT"', line=7),
        "lint": Step(id="lint", run="ruff check .", line=9),
        "unit": Step(id="unit", run="pytest -q", timeout=600.0, retries=1, pool="db", line=10),
        "package": Step(
            id="package",
            needs=("lint", "unit", "version"),
            run="python -m build --version ${{ steps.version.outputs.value }}",
            line=11,
        ),
        "deploy": Step(
            id="deploy",
            needs=("package",),
            for_each=("us-east-1", "eu-west-1", "ap-south-1"),
            parallelism=2,
            on_failure="continue",
            run="./deploy.sh ${{ item }}",
            line=14,
        ),
        "build-matrix": Step(
            id="build-matrix",
            matrix={"os": ("linux", "darwin"), "py": ("3.11", "3.12")},
            run="echo ${{ matrix.os }} ${{ matrix.py }}",
            line=20,
        ),
        "train": Step(
            id="train",
            call="models.train:fit",
            with_={"epochs": 3, "layers": [64, 32], "name": "small"},
            cwd="ml",
            env={"SEED": "7"},
            pool="gpu",
            priority=-5,
            timeout=90.0,  # its own, over the merged 1h30m
            retries=2,  # merged from x-retrying
            line=23,
        ),
        "on": Step(id="on", needs=("deploy", "train"), run="true", line=32),
    },
)


def test_a_file_with_every_key_loads_into_the_model() -> None:
    workflow = loads(dedent(BIG))
    assert workflow == BIG_MODEL
    assert list(workflow.steps) == list(BIG_MODEL.steps)  # file order


def test_a_minimal_file_takes_the_defaults() -> None:
    workflow = loads("steps: {hello: {run: echo hello}}", path="other.yaml")
    assert workflow == Workflow(
        path="other.yaml", steps={"hello": Step(id="hello", run="echo hello", line=1)}
    )
    assert (workflow.max_concurrency, workflow.failure_mode) == (None, "fail_fast")
    step = workflow.steps["hello"]
    assert (step.on_failure, step.retries, step.priority, step.timeout) == ("stop", 0, 0, None)


def test_names_and_commands_are_taken_as_written_not_as_yaml_1_1_reads_them() -> None:
    """A step `on`, `run: true`, `for_each: [no, yes]`: YAML 1.1 would read booleans."""
    workflow = loads(
        dedent("""
        steps:
          on: {run: true}
          off: {needs: [on], run: 1.50, for_each: [no, NO, yes, true, False, 3, 1.5, 2024-01-01]}
        """)
    )
    assert workflow.steps["on"].run == "true"
    assert workflow.steps["off"].needs == ("on",)
    assert workflow.steps["off"].run == "1.50"
    assert workflow.steps["off"].items() == ["no", "NO", "yes", True, False, 3, 1.5, "2024-01-01"]


def test_graph_has_the_needs_as_edges() -> None:
    """lint -> package ; unit -> package ; version -> package -> deploy -> on ; train -> on"""
    graph = loads(dedent(BIG)).graph()
    assert list(graph) == list(BIG_MODEL.steps)
    assert graph.edges() == [
        ("lint", "package"),
        ("unit", "package"),
        ("version", "package"),
        ("package", "deploy"),
        ("deploy", "on"),
        ("train", "on"),
    ]


# Each row: the file, then the whole message it gets. Placed at file:line:column.
MISTAKES = {
    "empty file": (
        "",
        "forkjoin.yaml: the file is empty (a workflow is a mapping with `steps:`, "
        "such as `steps: {hello: {run: echo hello}}`)",
    ),
    "top level a list": (
        "- a\n",
        "forkjoin.yaml:1:1: the top level must be a mapping with `steps:`, not a list "
        "(a workflow is a mapping with `steps:`, such as `steps: {hello: {run: echo hello}}`)",
    ),
    "no steps": (
        "max_concurrency: 2\n",
        "forkjoin.yaml:1:1: no `steps:` mapping (a workflow is a mapping with `steps:`, "
        "such as `steps: {hello: {run: echo hello}}`)",
    ),
    "empty steps": (
        "env: {}\nsteps:\n",
        "forkjoin.yaml:2:1: `steps` is empty (add a step, such as `hello: {run: echo hello}`)",
    ),
    "steps a list": (
        "steps: [a, b]\n",
        "forkjoin.yaml:1:8: `steps` must be a mapping, not a list "
        "(add a step, such as `hello: {run: echo hello}`)",
    ),
    "unknown top-level key, close": (
        "step:\n  a: {run: x}\n",
        "forkjoin.yaml:1:1: unknown key `step` at the top level (did you mean `steps`?)",
    ),
    "unknown top-level key, far": (
        "steps: {a: {run: x}}\nretry: 3\n",
        "forkjoin.yaml:2:1: unknown key `retry` at the top level (the keys are "
        "`max_concurrency`, `failure_mode`, `env`, `pools`, `executor`, `address`, `steps`)",
    ),
    "unknown step key, close": (
        "steps:\n  a: {run: x, need: [b]}\n  b: {run: y}\n",
        "forkjoin.yaml:2:15: unknown key `need` in step `a` (did you mean `needs`?)",
    ),
    "unknown step key, another tool's name": (
        "steps:\n  a:\n    run: x\n    depends_on: [b]\n",
        "forkjoin.yaml:4:5: unknown key `depends_on` in step `a` (did you mean `needs`?)",
    ),
    "a key given twice": (
        "steps:\n  a: {run: x}\n  a: {run: y}\n",
        "forkjoin.yaml:3:3: `a` is given twice in `steps`, first on line 2 (keep one of them)",
    ),
    "a step id with a space": (
        "steps:\n  a b: {run: x}\n",
        "forkjoin.yaml:2:3: step id `a b` is not valid "
        "(use letters, digits, `_` and `-`, starting with a letter or `_`)",
    ),
    "a step as a bare command": (
        "steps:\n  lint: ruff check .\n",
        "forkjoin.yaml:2:9: step `lint` must be a mapping, not the text `ruff check .` "
        "(write `lint: {run: <command>}`)",
    ),
    "needs a number": (
        "steps:\n  a: {run: x, needs: 3}\n",
        "forkjoin.yaml:2:22: `needs` of step `a` must be a step id or a list of step ids, "
        "not the number `3` (write `needs: [lint, unit]`)",
    ),
    "needs an unknown step, close": (
        "steps:\n  lint: {run: x}\n  test: {run: y, needs: [lint, tset]}\n",
        "forkjoin.yaml:3:32: step `test` needs `tset`, which is not a step (did you mean `test`?)",
    ),
    "needs an unknown step, far": (
        "steps:\n  lint: {run: x}\n  test: {run: y, needs: deploy}\n",
        "forkjoin.yaml:3:25: step `test` needs `deploy`, which is not a step "
        "(the steps are `lint`, `test`)",
    ),
    "needs itself": (
        "steps:\n  a: {run: x, needs: [a]}\n",
        "forkjoin.yaml:2:23: step `a` needs itself (remove `a` from its `needs`)",
    ),
    "a cycle": (
        "steps:\n  z: {run: x}\n  a: {run: x, needs: c}\n  b: {run: x, needs: a}\n"
        "  c: {run: x, needs: [z, b]}\n",
        "forkjoin.yaml:3:3: dependency cycle: a -> b -> c -> a "
        "(remove one of these needs to break the cycle)",
    ),
    "both run and call": (
        "steps:\n  a: {call: m:f, run: x}\n",
        "forkjoin.yaml:2:18: step `a` has both `run` and `call` "
        "(a step runs a shell command or calls a Python function; make two)",
    ),
    "neither run nor call": (
        "steps:\n  a: {needs: []}\n",
        "forkjoin.yaml:2:3: step `a` has neither `run` nor `call` "
        "(add `run: <shell command>` or `call: package.module:function`)",
    ),
    "an empty run": (
        "steps:\n  a: {run: ''}\n",
        "forkjoin.yaml:2:12: `run` of step `a` is empty (give the shell command to run)",
    ),
    "run a list": (
        "steps:\n  a: {run: [make, all]}\n",
        "forkjoin.yaml:2:12: `run` of step `a` must be a text, not a list "
        "(give the shell command to run)",
    ),
    "call without a colon": (
        "steps:\n  a: {call: pkg.mod.function}\n",
        "forkjoin.yaml:2:13: `call` of step `a` must be `package.module:function`, "
        "not `pkg.mod.function` (name the module, a colon, then the function in it)",
    ),
    "with on a run step": (
        "steps:\n  a: {run: x, with: {n: 1}}\n",
        "forkjoin.yaml:2:15: `with` is only for `call` steps, and step `a` has `run` "
        "(pass values to a shell command through `env`)",
    ),
    "with a keyword argument that is no name": (
        "steps:\n  a: {call: m:f, with: {class: 1}}\n",
        "forkjoin.yaml:2:25: `class` in `with` of step `a` is not a Python argument name "
        "(use letters, digits and `_`, not starting with a digit)",
    ),
    "with a value of an unknown tag": (
        "steps:\n  a: {call: m:f, with: {n: !secret x}}\n",
        "forkjoin.yaml:2:28: `with.n` of step `a` cannot be read: could not determine a "
        "constructor for the tag '!secret' (remove the `!` tag, or quote the value to pass "
        "it as text)",
    ),
    "with a value JSON cannot carry": (
        "steps:\n  a: {call: m:f, with: {n: !!binary aGVsbG8=}}\n",
        "forkjoin.yaml:2:28: `with.n` of step `a` cannot be passed to a function: YAML reads "
        "it as bytes, which JSON cannot carry (use text, numbers, booleans, null, lists and "
        "mappings; quote it for text)",
    ),
    "with a reference the step cannot have": (
        "steps:\n  a: {call: m:f, with: {n: '${{ matrix.os }}'}}\n",
        "forkjoin.yaml:2:29: ${{ matrix.os }} is set only in matrix steps, and step `a` is "
        "not one (add `matrix:` to step `a`)",
    ),
    "a reference in a quoted here-document, which expands nothing": (
        "steps:\n  a:\n    for_each: [x]\n    run: |\n      cat <<'EOF'\n      ${{ item }}\n"
        "      EOF\n",
        "forkjoin.yaml:6:7: ${{ item }} stands where the shell expands nothing: in a quoted "
        "here-document (<<'EOF') (write the delimiter unquoted (<<EOF) so the value is put "
        "in, and `\\$` for a literal $ in the text)",
    ),
    "a reference in a here-document quoted by a backslash, tabs stripped": (
        'steps:\n  a:\n    for_each: [x]\n    run: "cat <<-\\\\EOF\\n\\tok ${{ item }}\\n\\tEOF"\n',
        "forkjoin.yaml:4:30: ${{ item }} stands where the shell expands nothing: in a quoted "
        "here-document (<<'EOF') (write the delimiter unquoted (<<EOF) so the value is put "
        "in, and `\\$` for a literal $ in the text)",
    ),
    "a reference after an escaping backslash": (
        "steps:\n  a: {for_each: [x], run: 'echo \"\\${{ item }}\"'}\n",
        "forkjoin.yaml:2:35: ${{ item }} follows a `\\`, which would escape the $ forkjoin "
        "puts in its place (remove the `\\`: a value is never read as shell code, so it "
        "needs no escape)",
    ),
    "a bad duration": (
        "steps:\n  a: {run: x, timeout: 10 min}\n",
        "forkjoin.yaml:2:24: `10 min` is not a duration (a number of seconds, or a duration "
        "such as 90s, 1.5s, 500ms, 10m, 2h or 1h30m)",
    ),
    "a negative duration": (
        "steps:\n  a: {run: x, timeout: -5}\n",
        "forkjoin.yaml:2:24: `-5` is not a duration (a number of seconds, or a duration "
        "such as 90s, 1.5s, 500ms, 10m, 2h or 1h30m)",
    ),
    "an infinite duration": (
        "steps:\n  a: {run: x, timeout: .inf}\n",
        "forkjoin.yaml:2:24: `.inf` is not a duration (a number of seconds, or a duration "
        "such as 90s, 1.5s, 500ms, 10m, 2h or 1h30m)",
    ),
    "a timeout beyond any wait a thread can make": (
        "steps:\n  a: {run: x, timeout: 99999999999999999999999}\n",
        "forkjoin.yaml:2:24: `99999999999999999999999` is longer than any wait can be "
        "(at most 9223372036 seconds, some 292 years; leave it out for no limit)",
    ),
    "a timeout in hours beyond any wait": (
        "steps:\n  a: {run: x, timeout: 3000000h}\n",
        "forkjoin.yaml:2:24: `3000000h` is longer than any wait can be "
        "(at most 9223372036 seconds, some 292 years; leave it out for no limit)",
    ),
    "retries beyond reason": (
        "steps:\n  a: {run: x, retries: " + "9" * 101 + "}\n",
        "forkjoin.yaml:2:24: `retries` of step `a` is too large "
        "(it is how many times a failed attempt is tried again)",
    ),
    "a zero timeout": (
        "steps:\n  a: {run: x, timeout: 0s}\n",
        "forkjoin.yaml:2:24: `timeout` of step `a` must be more than 0 (a number of seconds, "
        "or a duration such as 90s, 1.5s, 500ms, 10m, 2h or 1h30m)",
    ),
    "negative retries": (
        "steps:\n  a: {run: x, retries: -1}\n",
        "forkjoin.yaml:2:24: `retries` of step `a` must be 0 or more, not -1 "
        "(it is how many times a failed attempt is tried again)",
    ),
    "retries as text": (
        "steps:\n  a: {run: x, retries: twice}\n",
        "forkjoin.yaml:2:24: `retries` of step `a` must be a whole number, not the text "
        "`twice` (it is how many times a failed attempt is tried again)",
    ),
    "parallelism 0": (
        "steps:\n  a: {run: x, for_each: [1, 2], parallelism: 0}\n",
        "forkjoin.yaml:2:46: `parallelism` of step `a` must be 1 or more, not 0 "
        "(it is how many items may run at once)",
    ),
    "parallelism without items": (
        "steps:\n  a: {run: x, parallelism: 2}\n",
        "forkjoin.yaml:2:15: `parallelism` applies only to for_each and matrix steps "
        "(add `for_each:` or `matrix:` to step `a`, or remove `parallelism`)",
    ),
    "on_failure without items": (
        "steps:\n  a: {run: x, on_failure: continue}\n",
        "forkjoin.yaml:2:15: `on_failure` applies only to for_each and matrix steps "
        "(add `for_each:` or `matrix:` to step `a`, or remove `on_failure`)",
    ),
    "on_failure unknown": (
        "steps:\n  a: {run: x, for_each: [1], on_failure: skip}\n",
        "forkjoin.yaml:2:42: `on_failure` of step `a` must be stop or continue, not `skip` "
        "(write stop or continue)",
    ),
    "max_concurrency 0": (
        "max_concurrency: 0\nsteps: {a: {run: x}}\n",
        "forkjoin.yaml:1:18: `max_concurrency` must be 1 or more, not 0 "
        "(it is how many steps may run at once)",
    ),
    "max_concurrency a fraction": (
        "max_concurrency: 1.5\nsteps: {a: {run: x}}\n",
        "forkjoin.yaml:1:18: `max_concurrency` must be a whole number, not the number `1.5` "
        "(it is how many steps may run at once)",
    ),
    "priority as text": (
        "steps:\n  a: {run: x, priority: high}\n",
        "forkjoin.yaml:2:25: `priority` of step `a` must be a whole number, not the text "
        "`high` (a higher priority starts first among ready steps)",
    ),
    "failure_mode close": (
        "failure_mode: keep-going\nsteps: {a: {run: x}}\n",
        "forkjoin.yaml:1:15: `failure_mode` must be fail_fast or keep_going, not `keep-going` "
        "(did you mean `keep_going`?)",
    ),
    "a pool not declared, close": (
        "pools: {database: 1}\nsteps:\n  a: {run: x, pool: databse}\n",
        "forkjoin.yaml:3:21: pool `databse` of step `a` is not declared (did you mean `database`?)",
    ),
    "a pool not declared, no pools": (
        "steps:\n  a: {run: x, pool: db}\n",
        "forkjoin.yaml:2:21: pool `db` of step `a` is not declared "
        "(declare it under `pools:`, such as `pools: {db: 1}`)",
    ),
    "a pool of depth 0": (
        "pools: {db: 0}\nsteps: {a: {run: x}}\n",
        "forkjoin.yaml:1:13: the depth of pool `db` must be 1 or more, not 0 "
        "(it is how many of the pool's steps may run at once)",
    ),
    "an empty for_each": (
        "steps:\n  a: {run: x, for_each: []}\n",
        "forkjoin.yaml:2:25: `for_each` of step `a` is empty (list the items, such as "
        "`for_each: [a, b]`, or read them from an output)",
    ),
    "for_each a bare text": (
        "steps:\n  a: {run: x, for_each: us-east-1}\n",
        "forkjoin.yaml:2:25: `for_each` of step `a` must be a list, or one "
        "${{ steps.STEP.outputs.NAME }}, not the text `us-east-1` (list the items, such as "
        "`for_each: [a, b]`, or read them from an output)",
    ),
    "for_each of nested lists": (
        "steps:\n  a: {run: x, for_each: [[1, 2]]}\n",
        "forkjoin.yaml:2:26: `for_each` of step `a` must hold strings, numbers or true/false, "
        "not a list (quote a value to pass it as text)",
    ),
    "for_each from a step not needed": (
        "steps:\n  list: {run: x}\n  a: {run: y, for_each: '${{ steps.list.outputs.regions }}'}\n",
        "forkjoin.yaml:3:26: step `a` reads an output of `list` but does not need it "
        "(add `list` to its `needs`; a step may read the outputs of every step it needs, "
        "directly or through other steps)",
    ),
    "an empty matrix": (
        "steps:\n  a: {run: x, matrix: {}}\n",
        "forkjoin.yaml:2:23: `matrix` of step `a` is empty (map each key to a list of values, "
        "such as `matrix: {os: [linux, darwin]}`)",
    ),
    "a matrix key with no values": (
        "steps:\n  a: {run: x, matrix: {os: []}}\n",
        "forkjoin.yaml:2:28: `matrix.os` of step `a` is empty (list at least one value)",
    ),
    "a matrix value not a list": (
        "steps:\n  a: {run: x, matrix: {os: linux}}\n",
        "forkjoin.yaml:2:28: `matrix.os` of step `a` must be a list of values, not the text "
        "`linux` (write `os: [a, b]`)",
    ),
    "a version that YAML reads as a number": (
        "steps:\n  a: {run: x, matrix: {py: ['3.9', 3.10]}}\n",
        "forkjoin.yaml:2:36: `3.10` in `matrix.py` of step `a` reads as the number 3.1 "
        "(quote it to keep it as written: '3.10')",
    ),
    "both for_each and matrix": (
        "steps:\n  a: {run: x, matrix: {os: [l]}, for_each: [1]}\n",
        "forkjoin.yaml:2:34: step `a` has both `for_each` and `matrix` "
        "(give it one of them: a matrix of one key is a for_each)",
    ),
    "item outside for_each": (
        "steps:\n  a:\n    run: ./deploy.sh ${{ item }}\n",
        "forkjoin.yaml:3:22: ${{ item }} is set only in for_each steps, and step `a` is not "
        "one (add `for_each:` to step `a`)",
    ),
    "item in a matrix step": (
        "steps:\n  a:\n    matrix: {os: [linux]}\n    run: echo ${{item}}\n",
        "forkjoin.yaml:4:15: ${{ item }} is set only in for_each steps, and step `a` is not "
        "one (use ${{ matrix.KEY }})",
    ),
    "matrix outside a matrix step": (
        "steps:\n  a:\n    run: echo ${{ matrix.os }}\n",
        "forkjoin.yaml:3:15: ${{ matrix.os }} is set only in matrix steps, and step `a` is "
        "not one (add `matrix:` to step `a`)",
    ),
    "a matrix key not in the matrix": (
        "steps:\n  a:\n    matrix: {os: [linux], python: ['3.12']}\n"
        "    run: echo ${{ matrix.os }} ${{ matrix.pyhton }}\n",
        "forkjoin.yaml:4:32: the matrix of step `a` has no key `pyhton` (did you mean `python`?)",
    ),
    "an env reference to nothing declared": (
        "env: {REGION: x}\nsteps:\n  a:\n    run: echo ${{ env.REGOIN }}\n",
        "forkjoin.yaml:4:15: ${{ env.REGOIN }} names no variable of the workflow's or the "
        "step's `env` (did you mean `REGION`?)",
    ),
    "an env reference to the process environment": (
        "steps:\n  a:\n    run: echo ${{ env.HOME }}\n",
        "forkjoin.yaml:3:15: ${{ env.HOME }} names no variable of the workflow's or the "
        "step's `env` (declare it under `env:`, or write $HOME to read the process "
        "environment)",
    ),
    "an output of a step with items": (
        "steps:\n  each: {for_each: [a, b], run: x}\n"
        "  b: {needs: [each], run: 'echo ${{ steps.each.outputs.out }}'}\n",
        "forkjoin.yaml:3:33: step `b` reads an output of `each`, which runs once per item "
        "and has no outputs of its own (write the value from a step without items, which "
        "both can need)",
    ),
    "an output of a step not needed, in a block of lines": (
        "steps:\n  version: {run: x}\n  a:\n    run: |\n      make\n"
        "      echo ${{ steps.version.outputs.value }}\n",
        "forkjoin.yaml:6:12: step `a` reads an output of `version` but does not need it "
        "(add `version` to its `needs`; a step may read the outputs of every step it needs, "
        "directly or through other steps)",
    ),
    "a reference after escapes in double quotes": (
        'steps:\n  a:\n    run: "printf \\"%s\\" ${{ item }}"\n',
        "forkjoin.yaml:3:25: ${{ item }} is set only in for_each steps, and step `a` is not "
        "one (add `for_each:` to step `a`)",
    ),
    "an output of no step": (
        "steps:\n  version: {run: x}\n  a:\n    needs: [version]\n"
        "    run: 'echo ${{ steps.verison.outputs.value }}'\n",
        "forkjoin.yaml:5:16: ${{ steps.verison.outputs.value }} names `verison`, which is not "
        "a step (did you mean `version`?)",
    ),
    "its own output": (
        "steps:\n  a:\n    run: echo ${{ steps.a.outputs.value }}\n",
        "forkjoin.yaml:3:15: step `a` reads its own output in ${{ steps.a.outputs.value }} "
        "(outputs are for the steps that need this one)",
    ),
    "an unknown reference": (
        "steps:\n  a:\n    run: echo ${{ github.sha }}\n",
        "forkjoin.yaml:3:15: unknown reference `${{ github.sha }}` (the forms are ${{ item }}, "
        "${{ matrix.KEY }}, ${{ steps.STEP.outputs.NAME }} and ${{ env.NAME }})",
    ),
    "a reference not closed": (
        "steps:\n  a:\n    run: echo ${{ item\n",
        "forkjoin.yaml:3:15: `${{` is not closed (end the reference with `}}`)",
    ),
    "an env value that is a list": (
        "steps:\n  a: {run: x, env: {PATHS: [a, b]}}\n",
        "forkjoin.yaml:2:28: `PATHS` in `env` of step `a` must be a text, number or "
        "true/false, not a list (quote it to pass it as text)",
    ),
    "an env name with a dash": (
        "env: {MY-VAR: 1}\nsteps: {a: {run: x}}\n",
        "forkjoin.yaml:1:7: `MY-VAR` in `env` is not a valid variable name "
        "(use letters, digits and `_`, not starting with a digit)",
    ),
    "a merge of a list": (
        "steps:\n  a: {<<: [1], run: x}\n",
        "forkjoin.yaml:2:12: `<<` must merge a mapping into another "
        "(write `<<: *name` where `&name` marks a mapping)",
    ),
    "syntax: a colon in a plain value": (
        "steps:\n  a:\n    run: echo lint: ok\n",
        "forkjoin.yaml:3:19: invalid YAML: mapping values are not allowed here "
        "(quote a value that holds `: `, or fix the indentation)",
    ),
    "syntax: a tab": (
        "steps:\n\ta: {run: x}\n",
        "forkjoin.yaml:2:1: invalid YAML: while scanning for the next token, found character "
        "'\\t' that cannot start any token (indent with spaces: YAML does not allow tabs there)",
    ),
    "syntax: a reference inside braces": (
        "steps:\n  a: {run: echo ${{ item }}, for_each: [1]}\n",
        "forkjoin.yaml:2:18: invalid YAML: while parsing a flow mapping, expected ',' or '}', "
        "but got '{' (quote a value holding ${{ }} inside { } or [ ], as in "
        '{run: "echo ${{ item }}"})',
    ),
    "syntax: a bracket not closed": (
        "steps:\n  a: {run: x, needs: [b}\n",
        "forkjoin.yaml:2:24: invalid YAML: while parsing a flow sequence, expected ',' or ']', "
        "but got '}' (check the indentation, quotes and brackets here and just before)",
    ),
    "syntax: two documents": (
        "steps: {a: {run: x}}\n---\nsteps: {b: {run: y}}\n",
        "forkjoin.yaml:2:1: invalid YAML: expected a single document in the stream, but found "
        "another document (a workflow is one document: remove the `---` line and what follows)",
    ),
    "syntax: a control character": (
        "steps: {a: {run: 'x\x07'}}\n",
        "forkjoin.yaml:1:20: invalid YAML: the character U+0007 is not allowed "
        "(remove it, or write it as an escape inside double quotes)",
    ),
}


@pytest.mark.parametrize(("text", "message"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_is_one_line_naming_the_place_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        loads(text)
    assert str(caught.value) == message


def test_the_error_carries_its_place_and_hint_as_data() -> None:
    with pytest.raises(WorkflowError) as caught:
        loads("steps:\n  a: {run: x, need: [b]}\n", path="ci/forkjoin.yaml")
    error = caught.value
    assert (error.path, error.line, error.column) == ("ci/forkjoin.yaml", 2, 15)
    assert error.reason == "unknown key `need` in step `a`"
    assert error.hint == "did you mean `needs`?"


def test_a_mistake_found_by_the_c_parser_is_reported_as_the_python_parser_words_it() -> None:
    """The message is the same with or without libyaml, wherever forkjoin runs."""
    message = error_of("steps:\n  a: {run: x\n")
    assert message.startswith("forkjoin.yaml:3:1: invalid YAML: while parsing a flow mapping")


def test_nesting_too_deep_for_the_parsers_is_a_workflow_error() -> None:
    """libyaml's composer would overflow the C stack on this; the check sends it elsewhere."""
    assert error_of("steps: " + "[" * 50_000) == (
        "forkjoin.yaml: nested too deeply to read (a workflow needs a few levels at most)"
    )


def test_merges_apply_under_the_steps_own_keys_and_first_source_first() -> None:
    workflow = loads(
        dedent("""
        x-slow: &slow {timeout: 1h, retries: 3}
        x-quick: &quick {timeout: 1m, priority: 5}
        steps:
          a: {<<: [*quick, *slow], run: x, retries: 1}
        """)
    )
    step = workflow.steps["a"]
    assert (step.timeout, step.retries, step.priority) == (60.0, 1, 5)


def test_a_need_named_twice_is_one_need() -> None:
    workflow = loads("steps: {a: {run: x}, b: {run: y, needs: [a, a]}}")
    assert workflow.steps["b"].needs == ("a",)


# load: the file itself


def test_load_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "forkjoin.yaml"
    path.write_text(dedent(BIG))
    assert load(path).steps == BIG_MODEL.steps
    assert load(str(path)).path == str(path)
    path.write_text("steps:\n  a: {run: x, needs: [b]}\n")
    with pytest.raises(WorkflowError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{path}:2:23: step `a` needs `b`, which is not a step (the steps are `a`)"
    )


def test_a_missing_file_is_a_workflow_error(tmp_path: Path) -> None:
    missing = tmp_path / "forkjoin.yaml"
    with pytest.raises(WorkflowError) as caught:
        load(missing)
    assert str(caught.value) == f"{missing}: no such file (create forkjoin.yaml or pass -f)"
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_a_directory_is_a_workflow_error(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as caught:
        load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: is a directory (pass the workflow file itself with -f)"
    )


def test_a_file_not_in_utf8_is_placed_at_its_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "forkjoin.yaml"
    path.write_bytes(b"steps:\n  a: {run: echo caf\xe9}\n")
    with pytest.raises(WorkflowError) as caught:
        load(path)
    assert str(caught.value) == (f"{path}:2:20: not UTF-8 text: byte 0xe9 (save the file as UTF-8)")


def test_a_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "forkjoin.yaml"
    path.write_bytes(b"\xef\xbb\xbfsteps: {a: {run: x}}\n")
    assert list(load(path).steps) == ["a"]


# parse_duration


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        (0, 0.0),
        ("90", 90.0),
        ("1.5", 1.5),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1h2m3s4ms", 3723.004),
        (" 10m ", 600.0),
        (".5h", 1800.0),
    ],
)
def test_parse_duration_reads_seconds_and_units(given: object, seconds: float) -> None:
    assert math.isclose(parse_duration(given), seconds)


def test_parse_duration_takes_up_to_the_longest_wait_a_thread_can_make() -> None:
    assert parse_duration(LONGEST_DURATION) == threading.TIMEOUT_MAX
    with pytest.raises(WorkflowError, match="longer than any wait can be"):
        parse_duration(LONGEST_DURATION * 1.0001)
    with pytest.raises(WorkflowError, match="`1_000e27` is longer"):
        parse_duration(10**30, shown="1_000e27")  # as the file wrote it


@pytest.mark.parametrize(
    "given",
    [
        "",
        "m",
        "10 m",
        "10M",
        "10min",
        "1m1h",
        "1s1s",
        "5ms3s",
        "-5",
        "1e3",
        "ten",
        -1,
        True,
        math.inf,
        math.nan,
        None,
        [10],
    ],
)
def test_parse_duration_refuses_anything_else(given: object) -> None:
    with pytest.raises(WorkflowError) as caught:
        parse_duration(given, path="f.yaml", line=3, column=9)
    shown = str(given).lower() if isinstance(given, bool) else str(given)
    assert str(caught.value) == (
        f"f.yaml:3:9: `{shown}` is not a duration (a number of seconds, or a duration such as "
        "90s, 1.5s, 500ms, 10m, 2h or 1h30m)"
    )


# References


def test_references_are_parsed_with_their_kind_parts_and_span() -> None:
    run = "deploy ${{ item }} --os=${{matrix.os}} ${{ steps.v.outputs.tag }} ${{ env.REGION }}"
    references = Step(id="s", run=run).references()
    assert references == [
        Reference("item", (), 7, 18),
        Reference("matrix", ("os",), 24, 38),
        Reference("output", ("v", "tag"), 39, 65),
        Reference("env", ("REGION",), 66, 83),
    ]
    assert [run[r.start : r.end] for r in references][1] == "${{matrix.os}}"
    assert [str(r) for r in references] == [
        "${{ item }}",
        "${{ matrix.os }}",
        "${{ steps.v.outputs.tag }}",
        "${{ env.REGION }}",
    ]


def test_a_call_step_has_no_references_and_a_plain_command_none_either() -> None:
    assert Step(id="s", call="m:f").references() == []
    assert Step(id="s", run="echo $HOME ${HOME} {{ x }}").references() == []


def test_a_reference_survives_loading_with_the_value_it_will_stand_for_kept_out() -> None:
    """The runner passes values through the environment, so `; rm -rf ~` stays data."""
    workflow = loads(
        dedent("""
        steps:
          list: {run: x}
          each:
            needs: [list]
            for_each: "${{ steps.list.outputs.names }}"
            run: echo "${{ item }}"
        """)
    )
    step = workflow.steps["each"]
    assert step.for_each == "${{ steps.list.outputs.names }}"
    assert step.for_each_reference() == Reference("output", ("list", "names"), 0, 31)
    assert step.references() == [Reference("item", (), 6, 17)]
    assert workflow.steps["list"].for_each_reference() is None


def test_outputs_of_steps_needed_through_others_may_be_read() -> None:
    """version -> package -> deploy: deploy reads version's output"""
    workflow = loads(
        dedent("""
        steps:
          version: {run: x}
          package: {run: y, needs: [version]}
          deploy:
            needs: [package]
            run: echo ${{ steps.version.outputs.value }}
        """)
    )
    assert workflow.steps["deploy"].references()[0].parts == ("version", "value")


# items


def test_matrix_items_are_every_combination_with_the_last_key_fastest() -> None:
    workflow = loads(
        dedent("""
        steps:
          m:
            matrix: {os: [linux, darwin], py: ['3.11', '3.12'], arch: [x86]}
            run: echo ${{ matrix.os }}
        """)
    )
    items = workflow.steps["m"].items()
    assert items == [
        {"os": "linux", "py": "3.11", "arch": "x86"},
        {"os": "linux", "py": "3.12", "arch": "x86"},
        {"os": "darwin", "py": "3.11", "arch": "x86"},
        {"os": "darwin", "py": "3.12", "arch": "x86"},
    ]
    assert [list(item) for item in items] == [["os", "py", "arch"]] * 4  # keys in file order


def test_items_of_a_for_each_step_are_its_list_and_of_a_plain_step_none() -> None:
    assert Step(id="s", run="x", for_each=("a", 2)).items() == ["a", 2]
    assert Step(id="s", run="x").items() == []


def test_items_from_an_output_are_known_only_at_run_time() -> None:
    step = Step(id="s", run="x", for_each="${{ steps.a.outputs.b }}", needs=("a",))
    with pytest.raises(ValueError, match="known only at run time"):
        step.items()


# select


SELECTABLE = """
steps:
  build: {run: x}
  test-unit: {run: x, needs: [build]}
  test-e2e: {run: x, needs: [build, fixtures]}
  fixtures: {run: x}
  lint: {run: x}
  deploy: {run: x, needs: [test-unit, test-e2e]}
"""


def test_select_keeps_matching_steps_and_all_they_need_in_file_order() -> None:
    """build -> test-unit -> deploy ; build -> test-e2e -> deploy ; fixtures -> test-e2e ; lint"""
    workflow = loads(dedent(SELECTABLE))
    assert list(workflow.select(["test-*"]).steps) == ["build", "test-unit", "test-e2e", "fixtures"]
    assert list(workflow.select(["lint", "test-u?it"]).steps) == ["build", "test-unit", "lint"]
    assert list(workflow.select(["deploy"]).steps) == [*list(workflow.steps)[:4], "deploy"]
    selected = workflow.select(["test-unit"])
    assert selected.steps["test-unit"] is workflow.steps["test-unit"]
    assert (selected.path, selected.env, selected.pools) == (workflow.path, {}, {})


def test_select_is_case_sensitive_and_names_a_pattern_matching_nothing() -> None:
    workflow = loads(dedent(SELECTABLE))
    with pytest.raises(WorkflowError) as caught:
        workflow.select(["lint", "tset-unit"])
    assert str(caught.value) == (
        "forkjoin.yaml: no step matches `tset-unit` (did you mean `test-unit`?)"
    )
    with pytest.raises(WorkflowError) as caught:
        workflow.select(["LINT"])
    assert str(caught.value) == (
        "forkjoin.yaml: no step matches `LINT` (the steps are `build`, `test-unit`, "
        "`test-e2e`, `fixtures`, `lint`, `deploy`)"
    )


def test_select_needs_a_sequence_of_patterns() -> None:
    workflow = loads(dedent(SELECTABLE))
    with pytest.raises(ValueError, match="non-empty sequence"):
        workflow.select([])
    with pytest.raises(ValueError, match="non-empty sequence"):
        workflow.select("lint")


# The package and the example


def test_the_public_names_exist() -> None:
    assert set(forkjoin.workflow.__all__) >= {"load", "loads", "Workflow", "Step", "parse_duration"}
    for name in forkjoin.workflow.__all__:
        assert getattr(forkjoin.workflow, name) is not None


def test_importing_workflow_does_not_import_yaml() -> None:
    """The CLI imports it to parse its flags; PyYAML loads with the first file."""
    code = "import sys, forkjoin.workflow; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_example_has_needs_for_each_matrix_and_outputs() -> None:
    workflow = load(EXAMPLE)
    steps = workflow.steps
    assert workflow.graph().topological_order()[-3:] == ["package", "deploy", "announce"]
    assert steps["deploy"].items() == ["us-east-1", "eu-west-1", "ap-south-1"]
    assert len(steps["test-matrix"].items()) == 4
    assert {r.kind for step in steps.values() for r in step.references()} == {
        "item",
        "matrix",
        "output",
    }
    assert steps["announce"].call == "release:announce"
    arguments = steps["announce"].argument_references()
    assert {name: [r.kind for r in refs] for name, refs in arguments.items()} == {
        "app": ["env"],
        "version": ["output"],
    }


@pytest.mark.slow
def test_the_example_runs_in_sh(tmp_path: Path) -> None:
    """Each step of the example, in order, each item once, as the runner will run them.

    As the runner will, each reference becomes a variable holding its value, never
    the value pasted into the command.
    """
    workflow = load(EXAMPLE)
    outputs: dict[str, dict[str, str]] = {}
    for step_id in workflow.graph().topological_order():
        step = workflow.steps[step_id]
        output_file = tmp_path / f"{step_id}.out"
        output_file.touch()
        for item in step.items() or [None]:
            command, values = step.run or "", {}
            for index, reference in reversed(list(enumerate(step.references()))):
                if reference.kind == "item":
                    values[f"FJ_REF_{index}"] = str(item)
                elif reference.kind == "matrix":
                    assert isinstance(item, dict)
                    values[f"FJ_REF_{index}"] = str(item[reference.parts[0]])
                elif reference.kind == "output":
                    values[f"FJ_REF_{index}"] = outputs[reference.parts[0]][reference.parts[1]]
                else:
                    values[f"FJ_REF_{index}"] = workflow.env[reference.parts[0]]
                command = (
                    f"{command[: reference.start]}${{FJ_REF_{index}}}{command[reference.end :]}"
                )
            env = {**os.environ, **workflow.env, **step.env, **values}
            env["FORKJOIN_OUTPUT"] = str(output_file)
            done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            assert "${{" not in done.stdout
        lines = output_file.read_text().splitlines()
        outputs[step_id] = dict(line.split("=", 1) for line in lines)
    assert outputs["version"] == {"version": "1.2.3"}


def test_with_values_keep_their_yaml_types_and_dates_become_text() -> None:
    workflow = forkjoin.workflow.loads(
        "steps:\n  a: {call: m:f, with: {n: 3, on: 2026-11-25, xs: [1.5, null, true]}}\n"
    )
    assert dict(workflow.steps["a"].with_) == {"n": 3, "on": "2026-11-25", "xs": [1.5, None, True]}
