"""Fuzzing the loader: whatever the file holds, a Workflow or one WorkflowError, never a traceback.

Four kinds of input, drawn by hypothesis with a fixed seed: random bytes, text of
YAML's punctuation and forkjoin's words, random edits of a valid file, and well-formed
YAML of forkjoin's keys with values of the wrong kinds. A file that loads must hold
together: its needs are steps, its graph has an order, its references parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forkjoin.errors import WorkflowError
from forkjoin.workflow import Workflow, load, loads

VALID = """\
max_concurrency: 2
failure_mode: keep_going
env: {REGION: eu-west-1, DEBUG: 1}
pools: {db: 1}
x-slow: &slow {timeout: 10m, retries: 1}
steps:
  version:
    run: echo "value=1.2.3" >> "$FORKJOIN_OUTPUT"
  lint: {run: ruff check ., priority: 3}
  unit: {<<: *slow, run: pytest -q, pool: db}
  package:
    needs: [lint, unit, version]
    run: python -m build --version ${{ steps.version.outputs.value }} ${{ env.REGION }}
  deploy:
    needs: package
    for_each: [us-east-1, eu-west-1]
    parallelism: 2
    on_failure: continue
    run: ./deploy.sh ${{ item }}
  matrix:
    matrix: {os: [linux, darwin], py: ["3.11", "3.12"]}
    run: |
      echo ${{ matrix.os }}
      echo ${{ matrix.py }}
  each:
    needs: [version]
    for_each: "${{ steps.version.outputs.list }}"
    run: echo "${{ item }}"
  train:
    call: models.train:fit
    with: {epochs: 3, sizes: [1, 2]}
    cwd: ml
    env: {SEED: 7}
"""

TOKENS = [
    *("steps:", "needs:", "run:", "call:", "with:", "for_each:", "matrix:", "env:", "pools:"),
    *("timeout:", "retries:", "pool:", "priority:", "parallelism:", "on_failure:", "cwd:"),
    *("max_concurrency:", "failure_mode:", "x-a:", "<<:", "a:", "b:", "\n", "\n  ", "\n    "),
    *("${{", "}}", " item ", "matrix.os", "steps.a.outputs.b", "env.A", "{", "}", "[", "]"),
    *(",", ":", "- ", " ", "\t", "&a ", "*a", "!!int ", "!x ", "'", '"', "#", "? ", "---"),
    *("|", ">", "~", "yes", "10m", "-1", "0", "3.10", "1e400", ".nan", "m:f", "\\", "\x00"),
    *("é", "\r", "\ufeff", "a", "b", "db", "stop", "keep_going", "9" * 400, "9" * 5000),
]

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def check(text: str) -> None:
    """`loads(text)` gives a sound Workflow or a one-line WorkflowError placed in the file."""
    try:
        workflow = loads(text)
    except WorkflowError as error:
        assert_well_formed(error, text)
    else:
        assert_sound(workflow)


def assert_well_formed(error: WorkflowError, text: str) -> None:
    message = str(error)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(error.path), message
    if error.line is not None:
        assert 1 <= error.line <= text.count("\n") + text.count("\r") + 1, message
        assert error.column is None or error.column >= 1, message


def assert_sound(workflow: Workflow) -> None:
    assert workflow.steps
    order = workflow.graph().topological_order()
    assert sorted(order) == sorted(workflow.steps)
    for step in workflow.steps.values():
        assert set(step.needs) <= set(workflow.steps) - {step.id}
        assert (step.run is None) != (step.call is None)
        assert step.pool is None or step.pool in workflow.pools
        step.references()
        if isinstance(step.for_each, str):
            assert step.for_each_reference() is not None
        else:
            step.items()


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "forkjoin.yaml"


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(fuzz_file: Path, data: bytes) -> None:
    fuzz_file.write_bytes(data)
    try:
        workflow = load(fuzz_file)
    except WorkflowError as error:
        assert_well_formed(error, data.decode("latin-1"))
    else:
        assert_sound(workflow)


@FUZZ
@given(text=st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_yaml_like_text(text: str) -> None:
    check(text)


@st.composite
def edits_of(draw: st.DrawFn, text: str) -> str:
    """`text` after a few random deletions, insertions, replacements and moved lines."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["delete", "insert", "replace", "line"]))
        if edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 30)) :]
        elif edit == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif edit == "replace":
            text = text[:at] + draw(st.characters(max_codepoint=0x2FFF)) + text[at + 1 :]
        else:
            lines = text.split("\n")
            moved = lines.pop(draw(st.integers(0, len(lines) - 1)))
            lines.insert(draw(st.integers(0, len(lines))), moved)
            text = "\n".join(lines)
    return text


def test_the_file_the_edits_start_from_is_valid() -> None:
    assert len(loads(VALID).steps) == 8


@FUZZ
@given(text=edits_of(VALID))
def test_edits_of_a_valid_file(text: str) -> None:
    check(text)


STEP_KEYS = [
    *("run", "call", "with", "needs", "for_each", "matrix", "parallelism", "on_failure"),
    *("timeout", "retries", "cwd", "env", "pool", "priority", "need"),
]
WORDS = [
    *("a", "b", "c", "db", "os", "A", "10m", "1.5s", "-1", "m:f", "m.n:f", "stop", "continue"),
    *("fail_fast", "keep_going", "${{ item }}", "${{ matrix.os }}", "${{ steps.a.outputs.x }}"),
    *("${{ steps.b.outputs.x }}", "${{ env.A }}", "${{ nope }}", "echo ${{ item", ""),
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 4),
    st.integers(min_value=-(10**200), max_value=10**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "os", "A", "db"]), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.sampled_from(["a", "b", "c", "on"])


def mostly(fit: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly values that fit, sometimes a value of any kind."""
    return st.one_of(fit, fit, fit, fit, values)


words = st.sampled_from(WORDS)
# For each key of a step, values that fit it, mixed with values of every kind.
fitting = {
    "run": words,
    "call": st.sampled_from(["m:f", "pkg.mod:fn", "f"]),
    "with": st.dictionaries(st.sampled_from(["x", "y", "class"]), values, max_size=2),
    "needs": names | st.lists(names, max_size=3),
    "for_each": st.lists(scalars, max_size=3) | words,
    "matrix": st.dictionaries(st.sampled_from(["os", "py"]), st.lists(scalars, max_size=2)),
    "parallelism": st.integers(0, 3),
    "on_failure": st.sampled_from(["stop", "continue", "skip"]),
    "timeout": st.sampled_from([5, 0.5, "10m", "1h30m", "0", "10 m"]),
    "retries": st.integers(-1, 3),
    "cwd": st.sampled_from(["src", ""]),
    "env": st.dictionaries(st.sampled_from(["A", "B", "C-D"]), scalars, max_size=2),
    "pool": st.sampled_from(["db", "gpu"]),
    "priority": st.integers(-2, 2),
}
step = st.fixed_dictionaries(
    {"run": words}, optional={key: mostly(fit) for key, fit in fitting.items() if key != "run"}
)
steps = st.dictionaries(
    st.sampled_from(["a", "b", "c", "on", "bad id"]),
    st.one_of(step, step, step, st.dictionaries(st.sampled_from(STEP_KEYS), values, max_size=3)),
    min_size=1,
    max_size=4,
)
documents = st.fixed_dictionaries(
    {"steps": st.one_of(steps, steps, steps, values)},
    optional={
        "max_concurrency": mostly(st.integers(0, 3)),
        "failure_mode": mostly(st.sampled_from(["fail_fast", "keep_going"])),
        "env": mostly(st.dictionaries(st.sampled_from(["A", "B"]), scalars, max_size=2)),
        "pools": mostly(st.dictionaries(st.sampled_from(["db", "gpu"]), st.integers(0, 2))),
    },
)


@FUZZ
@given(document=documents)
def test_well_formed_yaml_with_values_of_every_kind(document: dict[str, Any]) -> None:
    check(yaml.safe_dump(document, sort_keys=False))
