"""`call:` steps: Python functions in the graph beside shell steps, each in a process of
its own, with `with:` keyword arguments, references, outputs, failures and items."""

from __future__ import annotations

import textwrap
from pathlib import Path

from test_run import nodes_of, run, statuses, write

from forkjoin._call_step import output_lines

MODULE = """
import os, time

def greet(name, times=1):
    print(f"hello {name}" * times)
    return {"greeting": f"hello {name}", "count": times}

def explode(**_):
    raise RuntimeError("the build is on fire")

def square(n):
    print(n * n)
    return n * n

def where():
    return {"cwd": os.getcwd()}

def slow():
    time.sleep(30)
"""


def project(directory: Path, workflow: str) -> None:
    package = directory / "tasks"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text(textwrap.dedent(MODULE))
    write(directory, workflow)


def test_python_and_shell_steps_mix_and_pass_outputs(tmp_path: Path) -> None:
    """greet (python) -> shout (shell)"""
    project(
        tmp_path,
        """
        steps:
          greet:
            call: tasks.steps:greet
            with: {name: world, times: 2}
          shout:
            needs: [greet]
            run: echo "${{ steps.greet.outputs.greeting }}!" "${{ steps.greet.outputs.count }}"
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "hello worldhello world" in result.stdout
    assert "hello world! 2" in result.stdout
    assert nodes_of(summary)["greet"]["outputs"] == {"greeting": "hello world", "count": "2"}
    assert nodes_of(summary)["greet"]["exit_code"] == 0


def test_a_raising_function_fails_its_step_with_its_traceback_in_the_log(tmp_path: Path) -> None:
    """boom -> after"""
    project(
        tmp_path,
        """
        steps:
          boom: {call: 'tasks.steps:explode'}
          after: {needs: [boom], run: echo never}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 1
    assert statuses(summary) == {"boom": "failed", "after": "skipped"}
    node = nodes_of(summary)["boom"]
    assert node["exit_code"] == 1
    log = Path(node["log_file"]).read_text()
    assert "RuntimeError: the build is on fire" in log
    assert "Traceback" in log  # the user's own traceback, in the step's log


def test_a_missing_module_or_function_says_so_in_one_line(tmp_path: Path) -> None:
    project(
        tmp_path,
        """
        failure_mode: keep_going
        steps:
          nomodule: {call: 'tasks.nothing:greet'}
          nofunction: {call: 'tasks.steps:grete'}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 1
    assert statuses(summary) == {"nomodule": "failed", "nofunction": "failed"}
    assert "cannot import `tasks.nothing`" in result.stdout
    assert "`tasks.steps` has no function `grete`" in result.stdout
    assert "Traceback" not in result.stdout


def test_items_reach_the_function_with_their_type(tmp_path: Path) -> None:
    project(
        tmp_path,
        """
        steps:
          squares:
            for_each: [2, 3, 4]
            call: tasks.steps:square
            with: {n: '${{ item }}'}
        """,
    )
    result, summary = run(tmp_path, "--output", "prefixed")
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert {"[squares/2] 4", "[squares/3] 9", "[squares/4] 16"} <= lines
    items = nodes_of(summary)["squares"]["items"]
    assert [item["outputs"] for item in items] == [{"value": "4"}, {"value": "9"}, {"value": "16"}]


def test_a_reference_inside_text_is_replaced_as_text(tmp_path: Path) -> None:
    project(
        tmp_path,
        """
        env: {WHO: team}
        steps:
          greet: {call: 'tasks.steps:greet', with: {name: 'the ${{ env.WHO }} at last'}}
        """,
    )
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert nodes_of(summary)["greet"]["outputs"]["greeting"] == "hello the team at last"


def test_the_module_is_found_from_the_workflow_folder_whatever_the_cwd(tmp_path: Path) -> None:
    project(
        tmp_path,
        """
        steps:
          where: {call: 'tasks.steps:where', cwd: sub}
        """,
    )
    (tmp_path / "sub").mkdir()
    result, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert nodes_of(summary)["where"]["outputs"]["cwd"] == str(tmp_path / "sub")


def test_a_call_step_times_out_like_a_shell_step(tmp_path: Path) -> None:
    project(tmp_path, "steps:\n  slow: {call: 'tasks.steps:slow', timeout: 0.5s}\n")
    result, summary = run(tmp_path, "--grace", "1")
    assert result.returncode == 1
    assert "timed out" in nodes_of(summary)["slow"]["error"]


def test_a_reference_in_with_is_checked_when_the_file_loads(tmp_path: Path) -> None:
    project(tmp_path, "steps:\n  a: {call: 'tasks.steps:greet', with: {name: '${{ item }}'}}\n")
    result, summary = run(tmp_path)
    assert result.returncode == 2
    assert "only in for_each steps" in result.stderr and "Traceback" not in result.stderr
    assert summary is None


def test_what_a_function_returns_becomes_key_value_lines() -> None:
    assert output_lines(None) == ""
    assert output_lines({"a": "x", "n": 3, "l": [1]}) == "a=x\nn=3\nl=[1]\n"
    assert output_lines(7) == "value=7\n"
