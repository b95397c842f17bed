"""Running a workflow: each step a node on one engine, each command a process group.

    run = Run(workflow, max_concurrency=2)
    run.start(history)                # the history records it, and ranks its steps
    run.wait(interrupt_requested)     # a threading.Event a signal handler sets
    run.finish(kill_requested)        # every process of ours is gone after it
    run.summary(), run.exit_code

A step with items (`for_each`, `matrix`) is a node that, when it runs, adds one node
per item to the engine, gives back its slot while they run, and fails if one did.
The run is the engine's observer: a node that ends cancelled, or timed out, while
its command runs gets its process group SIGTERM, then SIGKILL after `grace`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from forkjoin.errors import StepFailed, TaskTimeout
from forkjoin.executors import ThreadExecutor
from forkjoin.scheduler import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    CancelAfterFailure,
    Engine,
    Node,
    Options,
    Pool,
)
from forkjoin.telemetry import HistoryStore
from forkjoin.workflow._history import RunHistory
from forkjoin.workflow._inputs import Inputs
from forkjoin.workflow._launch import Launcher, LocalLauncher
from forkjoin.workflow._nodes import item_labels, item_pool, step_options
from forkjoin.workflow._processes import Processes
from forkjoin.workflow._shell import Terminal, kill_group_later, read_lines
from forkjoin.workflow._spec import FailureMode, Workflow
from forkjoin.workflow._status import Status
from forkjoin.workflow._summary import Record, error_text, skipped_because, status_of, summarise

__all__ = ["Run", "StepFailed", "choose_concurrency", "new_job_id"]

_ENVIRONMENT_CONCURRENCY = "FORKJOIN_MAX_CONCURRENCY"


def choose_concurrency(
    flag: int | None, workflow: Workflow, environ: Mapping[str, str] = os.environ
) -> int:
    """How many steps may run at once: `-j` > $FORKJOIN_MAX_CONCURRENCY > the file > 1.

    Raises ValueError for a variable that is not a whole number of 1 or more.
    """
    if flag is not None:
        return flag
    text = environ.get(_ENVIRONMENT_CONCURRENCY, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(
                f"{_ENVIRONMENT_CONCURRENCY}={text!r} is not a whole number of 1 or more "
                "(set it such as 4, or unset it)"
            )
        return int(text)
    return workflow.max_concurrency or 1


def new_job_id() -> str:
    """A job id from the time it starts, such as 20260125T020354-123-4711."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
    return f"{stamp}-{int(now * 1000) % 1000:03d}-{os.getpid()}"


class Run:
    """One run of a workflow on one engine of threads; see the module's docstring."""

    def __init__(
        self,
        workflow: Workflow,
        *,
        max_concurrency: int = 1,
        failure_mode: FailureMode | None = None,
        grace: float = 10.0,
        job: str | None = None,
        terminal: Terminal | None = None,
        output: str | None = None,
        status: Status | None = None,
        launcher: Launcher | None = None,
        adopting: bool = False,
    ) -> None:
        self.workflow = workflow
        # `adopting`: this process adopts its steps' orphans (`adopt_orphans`), and an
        # interrupted run ends those too, whatever group they moved to.
        self.processes = Processes(grace, adopting=adopting)
        self.launcher = launcher or LocalLauncher()
        self.max_concurrency = max_concurrency
        self.grace = grace
        # Both decided at start: a recorded run takes the history's job id.
        self.job = job or ""
        self.directory = Path(workflow.path).resolve().parent
        self.log_directory = self.directory / ".forkjoin" / "logs"  # + the job's id, at start
        self.history: RunHistory | None = None
        if terminal is None:
            mode = output or ("passthrough" if max_concurrency == 1 else "prefixed")
            stream = sys.stdout.buffer if status is None else status.output_stream(sys.stdout)
            terminal = Terminal(stream, mode=mode)
        self.terminal = terminal
        self.status = status
        self.pools = {name: Pool(name, depth) for name, depth in workflow.pools.items()}
        self.engine = Engine(
            ThreadExecutor(max_concurrency),
            max_concurrency=max_concurrency,
            failure_mode=failure_mode or workflow.failure_mode,
            observer=self,
        )
        self.records: dict[str, Record] = {}
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._by_node: dict[Node, Record] = {}
        self.inputs = Inputs(
            workflow,
            self.directory,
            lambda step_id: self.records[step_id].outputs,
            inherit_environment=self.launcher.inherits_environment,
        )
        self._lock = threading.Lock()

    # The run's life: start, wait, interrupt, finish.

    def start(self, history: HistoryStore | None = None) -> None:
        """Add every step to the engine, each after the steps it needs. With a history:
        record the run there as a job, and rank each step by the expected time of
        what follows it."""
        self.started_at = time.time()
        if history is not None:
            self.history = RunHistory(history, self.workflow, self.max_concurrency)
        recording = self.history
        self.job = self.job or (recording and recording.job_id) or new_job_id()
        self.log_directory = _new_folder(self.log_directory, self.job)
        ranks = None if recording is None else recording.ranks(self.workflow)
        additions: list[tuple[Node, tuple[Node, ...]]] = []
        nodes: dict[str, Node] = {}
        for step_id in self.workflow.graph().topological_order():
            step = self.workflow.steps[step_id]
            record = Record(step_id, step, step_id, self.log_directory / f"{step_id}.log")
            options, has_items = step_options(step)
            pool = None if has_items or step.pool is None else self.pools[step.pool]
            node = Node(partial(self._run_node, record), options=options, pool=pool)
            if recording is not None:
                assert ranks is not None
                node.rank = ranks[step_id]
                record.span_id = recording.new_span_id()
            record.node = node
            self.records[step_id] = record
            self._by_node[node] = record
            nodes[step_id] = node
            additions.append((node, tuple(nodes[need] for need in step.needs)))
        # Back in file order, for the summary.
        self.records = {step_id: self.records[step_id] for step_id in self.workflow.steps}
        self.engine.add_all(additions)

    def wait(self, interrupt_requested: threading.Event | None = None) -> None:
        """Block until every node is done; interrupt the run once the event is set."""
        while not self.engine.wait_all(timeout=0.05):
            if interrupt_requested is not None and interrupt_requested.is_set():
                self.interrupt()
                self.engine.wait_all()
                return

    def interrupt(self) -> None:
        """Ctrl-C: start nothing more, cancel every node, SIGINT every running step's
        process group; `finish` sends SIGKILL to what is left after the grace."""
        if self.processes.interrupt():
            self.engine.cancel_all()

    def finish(self, kill_requested: threading.Event | None = None) -> None:
        """Wait for the commands still ending (cancelled, or interrupted) for up to the
        grace, or until `kill_requested` is set (a second Ctrl-C); SIGKILL the process
        groups of what remains, and close the engine."""
        processes = self.processes
        began = processes.interrupted_at if processes.interrupted else time.monotonic()
        processes.wait(began + self.grace, kill_requested)
        processes.kill_all()
        processes.wait(time.monotonic() + 5.0)
        self.finished_at = time.time()
        self.engine.close()
        executor = self.engine.executor
        executor.shutdown(wait=False)
        self.launcher.close()
        if self.history is not None:
            self.history.finish(self.outcome, self.finished_at)
        if self.status is not None:
            assert self.started_at is not None
            seconds = self.finished_at - self.started_at
            self.status.closed(self.outcome, seconds, _relative(self.log_directory))

    @property
    def interrupted(self) -> bool:
        """True once Ctrl-C (or SIGTERM, SIGHUP) reached the run."""
        return self.processes.interrupted

    @property
    def exit_code(self) -> int:
        """0 when every step succeeded, 130 when interrupted, else 1."""
        if self.interrupted:
            return 130
        nodes = [record.node for record in self.records.values()]
        return 0 if all(node is not None and node.state == SUCCEEDED for node in nodes) else 1

    # A node's work: a command, or the items of a step.

    def _run_node(self, record: Record) -> dict[str, str]:
        """Run the command of a step or item; its outputs, or StepFailed."""
        step = record.step
        if record.index is None and (step.for_each is not None or step.matrix is not None):
            return self._run_items(record)
        return self._run_command(record)

    def _run_item_continuing(self, record: Record) -> dict[str, str]:
        """Run an item of `on_failure: continue`, with its own retries and timeout; a
        failure is kept in the record, never raised, so no run stops for it."""
        node = record.node
        assert node is not None
        for _ in range(record.step.retries + 1):
            try:
                return self._run_command(record, timeout=record.step.timeout)
            except StepFailed as error:
                record.failure = str(error)
            if node.state != RUNNING:
                break  # cancelled: no more attempts
        return {}

    def _run_command(self, record: Record, timeout: float | None = None) -> dict[str, str]:
        """Run the command of a step or item once; its outputs, or StepFailed.

        `timeout` is for a command the engine does not time out itself."""
        step = record.step
        node = record.node
        assert node is not None
        attempt = node.attempts
        command, env = self.inputs.command_of(record)
        # Beside the log, so a step's outputs outlive the run; the shell creates it.
        output_path = record.log_file.with_suffix(".outputs")
        with contextlib.suppress(FileNotFoundError):
            output_path.unlink()  # what an earlier attempt wrote
        cwd = self.directory / step.cwd if step.cwd else self.directory
        with open(record.log_file, "ab") as log:
            try:
                process = self.launcher.start(command, cwd=cwd, env=env, output_path=output_path)
            except OSError as error:
                if not cwd.is_dir():  # a folder an earlier step was to make, perhaps
                    raise StepFailed(
                        f"`{record.id}` cannot start: its cwd {cwd} is not a folder"
                    ) from error
                raise StepFailed(f"`{record.id}` cannot start: {error}") from error
            self.processes.add(process, node, attempt)
            alarm = (
                None
                if timeout is None
                else kill_group_later(process, timeout, signal.SIGTERM, then_kill_after=self.grace)
            )
            try:
                code = read_lines(process, log, self.terminal, record.label)
            except BaseException:
                self.terminal.ended(record.label, failed=True)
                raise
            finally:
                if alarm is not None:
                    alarm.cancel()
                self.processes.remove(process)
        outputs = process.outputs()
        timed_out = alarm is not None and alarm.fired
        self.terminal.ended(record.label, failed=code != 0 or timed_out)
        if node.attempts == attempt:  # not the late end of an attempt that timed out
            record.exit_code = code
        if alarm is not None and alarm.fired:
            raise StepFailed(f"`{record.id}` timed out after {timeout:g} s", exit_code=code)
        if code != 0:
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            raise StepFailed(f"`{record.id}` failed: {how}", exit_code=code)
        record.outputs = outputs
        return outputs

    def _run_items(self, record: Record) -> dict[str, str]:
        """Add a node per item, give back this step's slot while they run, and fail
        if one of them did; with on_failure stop, a failure cancels the items after it."""
        step = record.step
        me = record.node
        assert me is not None
        items = self.inputs.items_of(record)
        (self.log_directory / step.id).mkdir(exist_ok=True)
        pool = item_pool(step, self.pools)
        if step.on_failure == "continue":
            options = Options(priority=step.priority)  # it retries and times out itself
        else:
            options = Options(timeout=step.timeout, retries=step.retries, priority=step.priority)
        children: list[Record] = []
        labels = item_labels(step, items)
        for index, (item, label) in enumerate(zip(items, labels, strict=True)):
            child = Record(
                f"{step.id}/{index}",
                step,
                label,
                self.log_directory / step.id / f"{index}.log",
                index=index,
                item=item,
            )
            run = self._run_item_continuing if step.on_failure == "continue" else self._run_node
            child.node = Node(
                partial(run, child),
                options=options.merged(name=child.id),
                pool=pool,
            )
            if self.history is not None:
                child.node.rank = self.history.estimate(child.label)
            children.append(child)
        nodes = [child.node for child in children if child.node is not None]
        if step.on_failure == "stop":
            stopper = CancelAfterFailure(nodes)
            for node in nodes:
                node.callbacks = [stopper]  # before they are added, so none is missed
        with self._lock:
            for child in children:
                assert child.node is not None
                self._by_node[child.node] = child
            record.items = children
        self.engine.add_all((node, ()) for node in nodes)
        self.engine.suspend(me, nodes)
        try:
            for node in nodes:
                self.engine.wait(node)
        finally:
            self.engine.resume(me)
        unsuccessful = [child for child in children if status_of(child) != "succeeded"]
        if not unsuccessful:
            return {}
        failed = [child for child in unsuccessful if status_of(child) == "failed"]
        if not failed:
            # Items left unstarted by a stop (another step failed under fail_fast): this
            # step did not fail, and must not count as a second failure.
            record.stopped = not self.interrupted
            raise StepFailed(f"{len(unsuccessful)} of {len(children)} items did not run")
        first = failed[0]
        raise StepFailed(
            f"{len(failed)} of {len(children)} items failed;"
            f" the first: `{first.label}` ({error_text(first) or 'failed'})"
        )

    # The engine's observer.

    def job_started(self, engine: Engine) -> None:
        pass

    def job_finished(self, engine: Engine) -> None:
        pass

    def node_started(self, node: Node) -> None:
        record = self._by_node.get(node)
        if record is not None and self.history is not None:
            self.history.attempt_started(record)
        if record is not None and record.started_at is None:
            record.started_at = time.time()
            if self.status is not None:
                self.status.started(record)

    def node_retried(self, node: Node, error: BaseException) -> None:
        record = self._by_node.get(node)
        if record is not None and self.history is not None:
            self.history.attempt_failed(record)
        if isinstance(error, TaskTimeout):
            self.processes.stop_those_of(node)

    def node_finished(self, node: Node) -> None:
        record = self._by_node.get(node)
        if record is not None:
            record.finished_at = time.time()
            record.skipped_because = skipped_because(
                record, self._by_node, self.engine.first_failure
            )
            if self.status is not None:
                self.status.finished(record)
            if self.history is not None:
                parent = None if record.index is None else self.records[record.step.id]
                self.history.record(record, parent)
        if node.state in (CANCELLED, FAILED):  # FAILED with a process left: timed out
            self.processes.stop_those_of(node)
        if node.state == CANCELLED and record is not None and record.items:
            self.engine.cancel(child.node for child in record.items if child.node is not None)

    @property
    def outcome(self) -> str:
        """`succeeded`, `failed` or `interrupted`."""
        if self.interrupted:
            return "interrupted"
        return "succeeded" if self.exit_code == 0 else "failed"

    def summary(self) -> dict[str, Any]:
        """The JSON summary of the run: the job, its status and times, and each node."""
        return summarise(
            self.job,
            self.outcome,
            self.started_at,
            self.finished_at,
            list(self.records.values()),
        )


def _new_folder(parent: Path, name: str) -> Path:
    """A folder `name` made new under `parent`, or `name-2`, `name-3`... when it exists:
    a job's short id is unique only within its history, and another history (or one
    set aside, or deleted) numbers its jobs anew, so the logs of two runs never mix."""
    parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        folder = parent / (name if number == 1 else f"{name}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")


def _relative(path: Path) -> str:
    """`path` from the current directory when it is below it, else whole."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
