"""Tests of the `forkjoin` command, on real workflow files in a temporary directory.

Most run the command in-process with click's CliRunner; one runs the installed
`forkjoin` script as a real process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from forkjoin.cli import main
from forkjoin.report import FORMATS

TIMES = "\N{MULTIPLICATION SIGN}"

RELEASE = """\
steps:
  version:
    run: echo "value=1.2.3" >> "$FORKJOIN_OUTPUT"
  lint: {run: ruff check .}
  unit: {run: pytest -q}
  package:
    needs: [lint, unit, version]
    run: python -m build
  deploy:
    needs: [package]
    for_each: [us-east-1, eu-west-1, ap-south-1]
    run: ./deploy.sh ${{ item }}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the release workflow as forkjoin.yaml."""
    (tmp_path / "forkjoin.yaml").write_text(RELEASE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def forkjoin(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_graph_prints_the_plan_as_text_by_default(project: Path) -> None:
    """version, lint, unit -> package -> deploy (3 items)"""
    result = forkjoin("graph")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "  1. version\n"
        "  2. lint\n"
        "  3. unit\n"
        "  4. package     <- lint, unit, version\n"
        f"  5. deploy {TIMES}3   <- package\n"
        "critical path: version -> package -> deploy\n"
    )
    assert result.stderr == ""


def test_graph_as_json(project: Path) -> None:
    result = forkjoin("graph", "--format", "json")
    assert result.exit_code == 0, result.output
    drawn = json.loads(result.stdout)
    assert [(node["id"], node["label"]) for node in drawn["nodes"]] == [
        ("version", "version"),
        ("lint", "lint"),
        ("unit", "unit"),
        ("package", "package"),
        ("deploy", f"deploy {TIMES}3"),
    ]
    assert drawn["nodes"][3]["needs"] == ["lint", "unit", "version"]
    assert drawn["edges"] == [
        ["lint", "package"],
        ["unit", "package"],
        ["version", "package"],
        ["package", "deploy"],
    ]


def test_graph_as_mermaid_and_dot(project: Path) -> None:
    mermaid = forkjoin("graph", "--format", "mermaid")
    assert mermaid.exit_code == 0, mermaid.output
    lines = mermaid.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    assert f'    deploy["deploy {TIMES}3"]' in lines
    assert "    package --> deploy" in lines
    dot = forkjoin("graph", "--format", "dot")
    assert dot.exit_code == 0, dot.output
    lines = dot.stdout.splitlines()
    assert lines[:2] == ["digraph forkjoin {", "    rankdir=LR;"]
    assert f'    "deploy" [label="deploy {TIMES}3"];' in lines
    assert '    "package" -> "deploy";' in lines


def test_run_offers_every_launcher_of_the_workflow() -> None:
    from forkjoin.workflow import LAUNCHERS

    (option,) = [param for param in main.commands["run"].params if param.name == "executor"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == LAUNCHERS


def test_graph_offers_every_format_of_the_report() -> None:
    graph = main.commands["graph"]
    (option,) = [param for param in graph.params if param.name == "format_"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == FORMATS
    result = forkjoin("graph", "--format", "svg")
    assert result.exit_code == 2
    assert "'svg' is not one of 'text', 'mermaid', 'dot', 'json'" in result.stderr


def test_graph_of_a_file_named_with_f(tmp_path: Path) -> None:
    """build -> test-unit ; build -> test-e2e ; docs"""
    path = tmp_path / "ci.yml"
    path.write_text(
        textwrap.dedent(
            """\
            steps:
              build: {run: make}
              test-unit: {run: make test, needs: [build]}
              test-e2e: {run: make e2e, needs: [build]}
              docs: {run: make docs}
            """
        )
    )
    result = forkjoin("graph", "-f", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert [node["id"] for node in json.loads(result.stdout)["nodes"]] == [
        "build",
        "test-unit",
        "test-e2e",
        "docs",
    ]


def test_graph_selects_steps_by_name_and_glob(tmp_path: Path) -> None:
    """build -> test-unit ; build -> test-e2e ; docs -> publish"""
    path = tmp_path / "forkjoin.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            steps:
              build: {run: make}
              test-unit: {run: make test, needs: [build]}
              test-e2e: {run: make e2e, needs: [build]}
              docs: {run: make docs}
              publish: {run: make publish, needs: [docs]}
            """
        )
    )
    selected = forkjoin("graph", "-f", str(path), "--format", "json", "test-*")
    assert selected.exit_code == 0, selected.output
    assert [node["id"] for node in json.loads(selected.stdout)["nodes"]] == [
        "build",
        "test-unit",
        "test-e2e",
    ]
    several = forkjoin("graph", "-f", str(path), "publish", "test-e2e")
    assert several.exit_code == 0, several.output
    assert several.stdout.splitlines()[:-1] == [
        "  1. build",
        "  2. test-e2e   <- build",
        "  3. docs",
        "  4. publish    <- docs",
    ]


def test_items_known_only_at_run_time_are_a_question_mark(tmp_path: Path) -> None:
    """regions -> deploy (one item per region, told by the regions step)"""
    path = tmp_path / "forkjoin.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            steps:
              regions:
                run: echo 'list=["us-east-1", "eu-west-1"]' >> "$FORKJOIN_OUTPUT"
              deploy:
                needs: [regions]
                for_each: ${{ steps.regions.outputs.list }}
                run: ./deploy.sh ${{ item }}
              matrix:
                matrix: {os: [linux, darwin], py: ["3.11", "3.12"]}
                run: echo ${{ matrix.os }} ${{ matrix.py }}
            """
        )
    )
    result = forkjoin("graph", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:-1] == [
        "  1. regions",
        f"  2. deploy {TIMES}?   <- regions",
        f"  3. matrix {TIMES}4",
    ]


def test_a_bad_file_is_one_line_naming_the_place(project: Path) -> None:
    (project / "forkjoin.yaml").write_text("steps:\n  lint: {run: ruff check .\n  unit: {}\n")
    result = forkjoin("graph")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    place, _, message = lines[0].partition(": ")
    file, line, column = place.split(":")
    assert file == "forkjoin.yaml"
    assert int(line) in (2, 3) and int(column) > 0
    assert message
    assert "Traceback" not in result.output


def test_an_unknown_step_is_a_bad_usage(project: Path) -> None:
    result = forkjoin("graph", "packge")
    assert result.exit_code == 2
    assert "packge" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_missing_file_is_a_bad_usage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = forkjoin("graph")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "forkjoin.yaml" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_the_installed_command_draws_and_fails_cleanly(project: Path) -> None:
    command = shutil.which("forkjoin")
    assert command is not None, "forkjoin is not installed on PATH"
    drawn = subprocess.run(
        [command, "graph", "--format", "json"], capture_output=True, text=True, timeout=60
    )
    assert drawn.returncode == 0, drawn.stderr
    assert json.loads(drawn.stdout)["nodes"][-1]["label"] == f"deploy {TIMES}3"
    (project / "forkjoin.yaml").write_text("steps: [")
    failed = subprocess.run([command, "graph"], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith("forkjoin.yaml:")
    assert len(failed.stderr.splitlines()) == 1
    assert "Traceback" not in failed.stderr


def test_graph_help_names_the_formats() -> None:
    result = forkjoin("graph", "--help")
    assert result.exit_code == 0
    assert "[text|mermaid|dot|json]" in result.stdout
    assert "-f, --file" in result.stdout


def test_help_starts_without_the_workflow_loader() -> None:
    code = (
        "import sys\n"
        "from forkjoin.cli import main\n"
        "try:\n"
        "    main(['graph', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('yaml', 'forkjoin.workflow', 'forkjoin.report', 'forkjoin.scheduler',\n"
        "         'rich', 'sqlite3')\n"
        "print([m for m in heavy if m in sys.modules], file=sys.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert out.stderr.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "--bogus"], "forkjoin run: no such option '--bogus' (see forkjoin run --help)"),
        (["--bogus"], "forkjoin: no such option '--bogus' (see forkjoin --help)"),
        (["plan", "--history"], "forkjoin plan: option '--history' requires an argument"),
        (["history", "show"], "forkjoin history show: missing argument 'JOB'"),
        (["history", "nope"], "forkjoin history: no such command 'nope'"),
        (["split", "--groups", "x", "--group", "1", "a"], "forkjoin split: invalid value for"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args: list[str], line: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    (only,) = result.stderr.splitlines()
    assert only.startswith(line) and only.endswith(" --help)")


def test_help_and_a_bare_group_still_print_the_usage() -> None:
    helped = CliRunner().invoke(main, ["run", "--help"])
    assert helped.exit_code == 0 and helped.stdout.startswith("Usage: ")
    bare = CliRunner().invoke(main, [])
    assert "Commands:" in bare.output


def test_a_usage_error_of_the_real_command_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "forkjoin.cli", "run", "--bogus"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr == "forkjoin run: no such option '--bogus' (see forkjoin run --help)\n"


def test_a_ctrl_c_while_the_command_starts_exits_130_once_it_can() -> None:
    """A SIGINT before any command runs (during the imports, say) is held, and the
    group answers it with 130 before the command; without one, Python's handler is
    back for the command."""
    script = (
        "import os, signal, sys\n"
        "sys.argv[0] = 'forkjoin'  # as the console script\n"
        "from forkjoin.cli import _startup\n"
        "_startup.install()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "import json  # an import the signal lands in, as at start-up\n"
        "print('still here', flush=True)\n"
        "_startup.hand_back()\n"
        "print('not reached')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (130, "still here\n", "")
    quiet = (
        "import signal\n"
        "from forkjoin.cli import _startup\n"
        "_startup.install()\n"
        "_startup.hand_back()\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
    )
    assert subprocess.run([sys.executable, "-c", quiet]).returncode == 0


def test_a_program_that_imports_the_cli_keeps_its_ctrl_c() -> None:
    script = (
        "import os, signal, time\n"
        "import forkjoin.cli\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(1)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "interrupted\n"), result.stderr
