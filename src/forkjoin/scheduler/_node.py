"""The node the scheduler runs: one slotted object per task, its options and states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forkjoin.scheduler._engine import Engine
    from forkjoin.scheduler._plan import Pool

__all__ = [
    "DEFAULT_OPTIONS",
    "CANCELLED",
    "FAILED",
    "PENDING",
    "READY",
    "RUNNING",
    "SKIPPED",
    "STATE_NAMES",
    "SUCCEEDED",
    "Node",
    "Options",
    "RemoteValue",
]

# States are plain ints, not an Enum: the engine compares them on every transition,
# and a module constant is the cheapest thing Python can compare. Every state from
# SUCCEEDED on is final, so `state >= SUCCEEDED` means "done".
PENDING = 0  # waiting for what it needs, or backing off before a retry
READY = 1  # in the ready queue
RUNNING = 2  # holds a slot and runs on the executor
SUCCEEDED = 3
FAILED = 4
SKIPPED = 5  # did not run: something it needed failed, or the run stopped
CANCELLED = 6
STATE_NAMES = ("pending", "ready", "running", "succeeded", "failed", "skipped", "cancelled")


@dataclass(frozen=True, slots=True)
class Options:
    """How one task runs. Shared by every task spawned under the same options.

    `retries` is how many times a failed attempt is tried again; the k-th retry waits
    `backoff * 2**(k-1)` seconds first. `timeout` bounds each attempt, in seconds.
    A higher `priority` starts first among ready tasks.
    """

    name: str | None = None
    retries: int = 0
    timeout: float | None = None
    priority: int = 0
    backoff: float = 0.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout}")
        if self.backoff < 0:
            raise ValueError(f"backoff must be 0 or more seconds, not {self.backoff}")

    def merged(self, **overrides: Any) -> Options:
        """These options with every override that is not None applied."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(self, **given) if given else self

    def inherited(self) -> Options:
        """What a task passes on to the tasks it spawns: everything but its name."""
        return self if self.name is None else replace(self, name=None)


DEFAULT_OPTIONS = Options()


class Node:
    """One unit of work in the graph, and its future.

    The engine owns every field; front ends read them (`state`, `value`, `error`)
    once the node is done, and subclass it with `__slots__ = ()` to add methods.
    """

    __slots__ = (
        "_value",
        "args",
        "attempts",
        "callbacks",
        "cause",
        "dependents",
        "engine",
        "error",
        "fn",
        "future",
        "kwargs",
        "needs_resolving",
        "options",
        "pool",
        "rank",
        "reported",
        "sequence",
        "state",
        "timer",
        "waiting",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        options: Options = DEFAULT_OPTIONS,
        *,
        needs_resolving: bool = False,
        rank: float = 1.0,
        pool: Pool | None = None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.options = options
        # True when args hold other nodes whose values replace them at start.
        self.needs_resolving = needs_resolving
        # Expected seconds from this node's start to the end of the graph.
        self.rank = rank
        self.pool = pool
        self.state = PENDING
        self.waiting = 0
        self.dependents: list[Node] | None = None
        self.callbacks: list[Callable[[Node], object]] | None = None
        # A RemoteValue when the value stays on a cluster (see `value`).
        self._value: Any = None
        self.error: BaseException | None = None
        self.cause: Node | None = None
        # True once this node's failure reached a caller, who then owns it.
        self.reported = False
        self.attempts = 0
        self.sequence = 0
        self.future: Any = None
        self.timer: Any = None
        self.engine: Engine | None = None

    @property
    def value(self) -> Any:
        """The node's value once it succeeded; one kept on a cluster is fetched here
        on the first read, and only then."""
        value = self._value
        if type(value) is RemoteValue:
            return value.fetch()
        return value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = value

    @property
    def name(self) -> str:
        """The task's name: its `name` option, else its function's name."""
        name = self.options.name
        if name is not None:
            return name
        fn = self.fn
        return getattr(fn, "__name__", None) or type(fn).__name__

    @property
    def label(self) -> str:
        """The name with the node's sequence number, unique within its engine."""
        return f"{self.name}#{self.sequence}"

    @property
    def status(self) -> str:
        return STATE_NAMES[self.state]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} {self.status}>"


class RemoteValue:
    """A node's value that stays where it was made, on a cluster, until it is read.

    It holds the future of the call that made it: the engine passes the future's
    `handle` to calls on the same executor, and `fetch()` brings the value here,
    once, for anything else.
    """

    __slots__ = ("_fetched", "_value", "future")

    def __init__(self, future: Any) -> None:
        self.future = future
        self._fetched = False
        self._value: Any = None

    @property
    def handle(self) -> Any:
        return self.future.handle

    @property
    def fetched(self) -> bool:
        return self._fetched

    def fetch(self) -> Any:
        """The value, brought here on the first call (which may raise, if the
        cluster lost it for good)."""
        if not self._fetched:
            # Two threads may both fetch the first time; both get the same value.
            self.settle(self.future.result())
        return self._value

    def settle(self, value: Any) -> None:
        """Keep `value`, brought here by a batch, as the fetched value."""
        self._value = value
        self._fetched = True
