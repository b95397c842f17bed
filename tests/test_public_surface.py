"""The public surface is small, declared once, and every name in it exists."""

from __future__ import annotations

import importlib
import subprocess
import sys

import forkjoin

EXPECTED = {
    "Cancelled",
    "CycleError",
    "ForkjoinError",
    "Lazy",
    "Outcome",
    "Session",
    "Task",
    "TaskTimeout",
    "as_completed",
    "compute",
    "delayed",
    "fetch",
    "item_span",
    "map",
    "options",
    "parallel",
    "spawn",
    "split",
    "task",
    "wait",
}


def test_all_is_exactly_the_declared_surface() -> None:
    assert set(forkjoin.__all__) == EXPECTED
    assert len(forkjoin.__all__) == len(EXPECTED)


def test_every_public_name_resolves() -> None:
    for name in forkjoin.__all__:
        assert getattr(forkjoin, name) is not None


def test_every_module_declares_all_that_exists() -> None:
    for module_name in (
        "forkjoin.errors",
        "forkjoin.graph",
        "forkjoin.scheduler",
        "forkjoin.executors",
        "forkjoin.tasks",
        "forkjoin.report",
        "forkjoin.telemetry",
    ):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.__all__ names {name}, which is missing"


def test_errors_subclass_the_builtins_they_mean() -> None:
    import concurrent.futures

    assert issubclass(forkjoin.TaskTimeout, TimeoutError)
    assert issubclass(forkjoin.Cancelled, concurrent.futures.CancelledError)
    assert issubclass(forkjoin.CycleError, ValueError)
    error = forkjoin.CycleError(["a", "b", "a"])
    assert str(error) == "dependency cycle: a -> b -> a"
    assert error.path == ["a", "b", "a"]


def loaded_after(statement: str, modules: tuple[str, ...]) -> list[str]:
    code = f"import sys; {statement}; print(sorted(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return eval(out.stdout)  # type: ignore[no-any-return]


def test_importing_forkjoin_stays_light() -> None:
    """Heavy libraries load only when asked for: the CLI must start fast."""
    heavy = ("cloudpickle", "multiprocessing", "dask", "click", "forkjoin.scheduler")
    assert loaded_after("import forkjoin", heavy) == []
    assert loaded_after("import forkjoin; forkjoin.spawn", heavy) == ["forkjoin.scheduler"]


def test_the_cli_does_not_load_the_engine_to_show_its_help() -> None:
    modules = (
        "forkjoin.scheduler",
        "forkjoin.tasks",
        "cloudpickle",
        "yaml",
        "forkjoin.workflow",
        "forkjoin.report",
    )
    assert loaded_after("import forkjoin.cli", modules) == []


def test_an_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'spwan'"):
        forkjoin.spwan  # noqa: B018
    assert "spawn" in dir(forkjoin)
