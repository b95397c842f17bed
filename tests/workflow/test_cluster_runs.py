"""`forkjoin run --executor dask`: steps on the workers of a real Dask cluster.

The cluster (`dask_address`, tests/conftest.py) is a scheduler and two workers,
each a process of its own on 127.0.0.1; `forkjoin run` is a process too. A step
shows it ran on a worker by what it cannot see there: this process's environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_run import COMMAND, _alive_in_group, nodes_of, run, statuses, write

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

# In forkjoin's environment, never in the workers'.
ONLY_HERE = {"FJ_ONLY_ON_THE_CLIENT": "here"}


def _wait_for(path: Path, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    return path.read_text().strip()


def _wait_for_both_workers(address: str) -> None:
    import distributed

    with distributed.Client(address, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=90)


def test_steps_run_on_the_workers_and_everything_comes_back(
    tmp_path: Path, dask_address: str
) -> None:
    """version -> each (3 items), version -> greet (a call: step)"""
    (tmp_path / "tasks.py").write_text(
        "def greet(name):\n    print('hi', name)\n    return {'greeting': 'hi ' + name}\n"
    )
    write(
        tmp_path,
        """
        max_concurrency: 2
        env: {FROM_THE_FILE: filed}
        steps:
          version:
            run: |
              echo "sees ${FJ_ONLY_ON_THE_CLIENT:-nothing of the client} and $FROM_THE_FILE"
              echo "value=1.2.3" >> "$FORKJOIN_OUTPUT"
          each:
            needs: [version]
            for_each: [a, b, c]
            run: echo "${{ item }} at ${{ steps.version.outputs.value }}"
          greet:
            needs: [version]
            call: tasks:greet
            with: {name: "${{ steps.version.outputs.value }}"}
        """,
    )
    result, summary = run(
        tmp_path, "--executor", "dask", "--address", dask_address, env=ONLY_HERE, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert statuses(summary) == dict.fromkeys(("version", "each", "greet"), "succeeded")
    nodes = nodes_of(summary)
    assert nodes["version"]["outputs"] == {"value": "1.2.3"}
    assert nodes["greet"]["outputs"] == {"greeting": "hi 1.2.3"}
    assert [item["status"] for item in nodes["each"]["items"]] == ["succeeded"] * 3
    # The output reaches the terminal and each log file, and outputs their file.
    assert "[version] sees nothing of the client and filed" in result.stdout
    assert "[each/b] b at 1.2.3" in result.stdout
    assert "[greet] hi 1.2.3" in result.stdout
    logs = tmp_path / ".forkjoin" / "logs" / summary["job"]  # type: ignore[index]
    assert (logs / "each" / "2.log").read_text() == "c at 1.2.3\n"
    assert (logs / "version.outputs").read_text() == "value=1.2.3\n"


def test_the_file_names_the_cluster_and_a_failure_is_reported_as_locally(
    tmp_path: Path, dask_address: str
) -> None:
    write(
        tmp_path,
        f"""
        executor: dask
        address: {dask_address}
        steps:
          breaks: {{run: "echo about to break; exit 3"}}
          after: {{needs: [breaks], run: echo never}}
        """,
    )
    result, summary = run(tmp_path, timeout=120)
    assert result.returncode == 1
    assert statuses(summary) == {"breaks": "failed", "after": "skipped"}
    node = nodes_of(summary)["breaks"]
    assert node["exit_code"] == 3
    assert "about to break" in result.stdout
    assert Path(tmp_path / node["log_file"]).read_text() == "about to break\n"


def test_a_timeout_stops_the_step_on_its_worker(tmp_path: Path, dask_address: str) -> None:
    write(
        tmp_path,
        """
        steps:
          slow: {run: "echo $$ > slow.pid; sleep 30 & wait", timeout: 1s}
        """,
    )
    began = time.monotonic()
    result, summary = run(
        tmp_path, "--executor", "dask", "--address", dask_address, "--grace", "1", timeout=120
    )
    assert result.returncode == 1
    assert time.monotonic() - began < 25
    assert "timed out" in nodes_of(summary)["slow"]["error"]
    group = int((tmp_path / "slow.pid").read_text())
    assert not _alive_in_group(group)


def test_ctrl_c_stops_the_steps_on_the_workers(tmp_path: Path, dask_address: str) -> None:
    """calm ends on SIGINT; stubborn ignores it and is killed after the grace."""
    write(
        tmp_path,
        """
        max_concurrency: 2
        steps:
          calm: {run: "echo $$ > calm.pid; sleep 30 & wait"}
          stubborn: {run: "trap '' INT; echo $$ > stubborn.pid; sleep 30 & wait; sleep 30"}
        """,
    )
    summary_path = tmp_path / "summary.json"
    process = subprocess.Popen(
        [
            *COMMAND,
            "--executor",
            "dask",
            "--address",
            dask_address,
            "--grace",
            "1",
            "--summary-json",
            str(summary_path),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    groups = [int(_wait_for(tmp_path / f"{name}.pid")) for name in ("calm", "stubborn")]
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    deadline = time.monotonic() + 5
    while any(map(_alive_in_group, groups)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive_in_group, groups))
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "interrupted"
    assert statuses(summary) == {"calm": "cancelled", "stubborn": "cancelled"}


def test_a_worker_lost_under_a_step_fails_only_that_attempt(
    tmp_path: Path, dask_address: str
) -> None:
    """The first attempt kills its own worker; the retry, on a worker, succeeds."""
    write(
        tmp_path,
        """
        steps:
          unlucky:
            retries: 1
            run: |
              if [ -e tried ]; then echo second try; exit 0; fi
              touch tried
              kill -9 $PPID
              sleep 5
        """,
    )
    try:
        result, summary = run(
            tmp_path, "--executor", "dask", "--address", dask_address, timeout=120
        )
    finally:
        _wait_for_both_workers(dask_address)
    assert result.returncode == 0, result.stderr
    node = nodes_of(summary)["unlucky"]
    assert (node["status"], node["attempts"]) == ("succeeded", 2)
    assert "second try" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--address", "tcp://127.0.0.1:9"), "add `--executor dask`"),
        (("--executor", "dask", "--address", "tcp://127.0.0.1:9"), "forkjoin: "),
    ],
)
def test_a_cluster_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    write(tmp_path, "steps: {a: {run: echo never}}")
    result, summary = run(
        tmp_path,
        *arguments,
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert summary is None


def test_an_address_for_a_local_run_is_a_file_error(tmp_path: Path) -> None:
    write(tmp_path, "address: tcp://127.0.0.1:8786\nsteps: {a: {run: echo never}}")
    result, _ = run(tmp_path)
    assert result.returncode == 2
    assert "forkjoin.yaml:1:10: `address` is for a cluster" in result.stderr


def test_without_an_address_a_local_cluster_runs_the_steps_and_goes(tmp_path: Path) -> None:
    write(tmp_path, "steps: {here: {run: 'echo $PPID > worker.pid'}}")
    process = subprocess.Popen(
        [*COMMAND, "--executor", "dask"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    worker = int((tmp_path / "worker.pid").read_text())
    assert worker != process.pid  # the step's shell is a child of a worker process
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{worker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{worker}")  # the cluster ended with the run


def test_ctrl_c_on_a_local_cluster_stops_the_steps_and_leaves_its_workers_be(
    tmp_path: Path,
) -> None:
    """The local cluster's processes are children of the run, not orphans of a step:
    an interrupt ends the steps, and the cluster closes as it would at a normal end."""
    write(tmp_path, "steps: {wait: {run: 'echo $$ > wait.pid; sleep 30 & wait'}}")
    process = subprocess.Popen(
        [*COMMAND, "--executor", "dask", "--grace", "1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    group = int(_wait_for(tmp_path / "wait.pid"))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "died" not in stderr, stderr
    deadline = time.monotonic() + 5
    while _alive_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive_in_group(group)


def test_a_step_that_prints_much_loses_no_line(tmp_path: Path, dask_address: str) -> None:
    write(tmp_path, "steps: {loud: {run: 'seq 1 200000'}}")
    result, summary = run(tmp_path, "--executor", "dask", "--address", dask_address, timeout=120)
    assert result.returncode == 0, result.stderr
    log = tmp_path / nodes_of(summary)["loud"]["log_file"]
    assert log.read_text() == "".join(f"{n}\n" for n in range(1, 200001))
    assert result.stdout.count("\n") == 200000
    assert os.path.getsize(log) > 1 << 20  # more than one message's worth


def test_on_ray_steps_run_as_tasks_and_everything_comes_back(tmp_path: Path) -> None:
    """version -> each (2 items), version -> breaks; on a local Ray of 2 CPUs."""
    pytest.importorskip("ray")
    write(
        tmp_path,
        """
        executor: ray
        max_concurrency: 2
        failure_mode: keep_going
        steps:
          version: {run: 'echo "value=2.0" >> "$FORKJOIN_OUTPUT"; echo $PPID > worker.pid'}
          each:
            needs: [version]
            for_each: [a, b]
            run: echo "${{ item }} at ${{ steps.version.outputs.value }}"
          breaks: {needs: [version], run: "echo about to break; exit 4"}
        """,
    )
    result, summary = run(tmp_path, timeout=150)
    assert result.returncode == 1, result.stderr
    assert statuses(summary) == {"version": "succeeded", "each": "succeeded", "breaks": "failed"}
    assert "[each/b] b at 2.0" in result.stdout
    assert "[breaks] about to break" in result.stdout
    assert nodes_of(summary)["breaks"]["exit_code"] == 4
    worker = int((tmp_path / "worker.pid").read_text())
    deadline = time.monotonic() + 15
    while os.path.exists(f"/proc/{worker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{worker}")  # Ray went with the run


def test_on_ray_ctrl_c_stops_the_steps(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    write(tmp_path, "steps: {calm: {run: 'echo $$ > calm.pid; sleep 60 & wait'}}")
    process = subprocess.Popen(
        [*COMMAND, "--executor", "ray", "--grace", "1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    group = int(_wait_for(tmp_path / "calm.pid", seconds=90))
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    deadline = time.monotonic() + 5
    while _alive_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive_in_group(group)
