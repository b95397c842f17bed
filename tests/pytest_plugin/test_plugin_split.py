"""`--fj-splits N --fj-group I`: disjoint, complete, the same on every node, balanced.

three nodes, one suite:   groups 1, 2 and 3 together = the suite; no test in two groups
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forkjoin.pytest_plugin._clusters import plan_split
from forkjoin.pytest_plugin._split import split_set_id
from forkjoin.telemetry import Recorder, open_history

Run = Callable[..., pytest.RunResult]

SUITE = {
    "test_alpha.py": """
        import pytest
        @pytest.mark.parametrize("n", range(7))
        def test_p(n): pass
        def test_slow(): pass
        class TestGroup:
            def test_one(self): pass
            def test_two(self): pass
    """,
    "test_beta.py": """
        def test_b1(): pass
        def test_b2(): pass
        def test_b3(): pass
        def test_selected_by_k(): pass
    """,
}


def _collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and " " not in line]


def _write_suite(pytester: pytest.Pytester) -> None:
    for name, source in SUITE.items():
        pytester.makepyfile(**{name.removesuffix(".py"): source})


@given(
    durations=st.dictionaries(
        st.text("abcdef:/[]", min_size=1, max_size=8), st.floats(0, 100), max_size=40
    ),
    unknown=st.lists(st.text("abcdef:/[]", min_size=1, max_size=8), max_size=10),
    k=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
@settings(max_examples=150, deadline=None)
def test_groups_are_disjoint_complete_and_independent_of_order(
    durations: dict[str, float], unknown: list[str], k: int, seed: int
) -> None:
    ids = sorted(set(durations) | set(unknown))
    shuffled = ids[:]
    random.Random(seed).shuffle(shuffled)
    plan = plan_split(ids, k, durations=durations)
    assert len(plan.groups) == k
    members = [test for group in plan.groups for test in group]
    assert sorted(members) == ids  # complete, and no test in two groups
    assert plan_split(shuffled, k, durations=durations) == plan


@given(
    tests=st.lists(st.tuples(st.sampled_from("abcd"), st.floats(0.01, 5)), min_size=1, max_size=30),
    fixture_seconds=st.floats(0, 10),
    k=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
@settings(max_examples=100, deadline=None)
def test_keeping_fixture_users_together_is_deterministic_and_never_worse(
    tests: list[tuple[str, float]], fixture_seconds: float, k: int, seed: int
) -> None:
    ids = [f"tests/test_{module}.py::test_{number}" for number, (module, _) in enumerate(tests)]
    durations = {test: seconds for test, (_, seconds) in zip(ids, tests, strict=True)}
    shared = {test: [(test.split("::")[0], f"fixture:{test.split('::')[0]}::db")] for test in ids}
    keys = {key for pairs in shared.values() for _, key in pairs}
    costs = dict.fromkeys(keys, fixture_seconds)
    plan = plan_split(ids, k, durations=durations, shared=shared, fixture_seconds=costs)
    shuffled = ids[:]
    random.Random(seed).shuffle(shuffled)
    assert (
        plan_split(shuffled, k, durations=durations, shared=shared, fixture_seconds=costs) == plan
    )
    assert sorted(test for group in plan.groups for test in group) == sorted(ids)
    apart = plan_split(ids, k, durations=durations)

    def heaviest(groups: tuple[tuple[str, ...], ...]) -> float:
        return max(
            sum(durations[test] for test in group)
            + fixture_seconds * len({test.split("::")[0] for test in group})
            for group in groups
        )

    # Counting one fixture setup per module a group holds, the plan is never worse
    # than ignoring the fixtures (up to the microsecond rounding of costs).
    assert heaviest(plan.groups) <= heaviest(apart.groups) + 1e-3


def test_a_costly_fixture_keeps_its_users_in_one_group() -> None:
    """db.py: 4 x 1 s + db setup 6 s ; other.py: 10 x 1 s    (2 groups: db.py stays whole)"""
    ids = [f"db.py::t{n}" for n in range(4)] + [f"other.py::t{n}" for n in range(10)]
    durations = dict.fromkeys(ids, 1.0)
    shared = {test: [("db.py", "fixture:db.py::db")] for test in ids if test.startswith("db")}
    plan = plan_split(
        ids, 2, durations=durations, shared=shared, fixture_seconds={"fixture:db.py::db": 6.0}
    )
    assert plan.kept_together
    holding = [group for group in plan.groups if any(t.startswith("db.py") for t in group)]
    assert len(holding) == 1
    assert sorted(plan.expected_seconds) == [10.0, 10.0]


def test_a_fixture_block_too_big_for_a_fair_share_is_split() -> None:
    """big.py: 20 x 1 s sharing a 0.5 s fixture, 2 groups: the block (20.5 s) > fair share"""
    ids = [f"big.py::t{n:02d}" for n in range(20)]
    shared = {test: [("big.py", "fixture:big.py::db")] for test in ids}
    plan = plan_split(
        ids,
        2,
        durations=dict.fromkeys(ids, 1.0),
        shared=shared,
        fixture_seconds={"fixture:big.py::db": 0.5},
    )
    assert [len(group) for group in plan.groups] == [10, 10]
    assert plan.expected_seconds == (10.5, 10.5)


def test_the_groups_of_a_suite_are_disjoint_and_complete(
    pytester: pytest.Pytester, inprocess: Run
) -> None:
    _write_suite(pytester)
    everything = _collected(inprocess("--collect-only", "-q"))
    groups = [
        _collected(inprocess("--collect-only", "-q", "--fj-splits", "3", "--fj-group", str(group)))
        for group in (1, 2, 3)
    ]
    assert all(groups)
    assert sorted(test for group in groups for test in group) == sorted(everything)


def test_a_split_divides_what_k_selected(pytester: pytest.Pytester, inprocess: Run) -> None:
    _write_suite(pytester)
    selected = _collected(inprocess("--collect-only", "-q", "-k", "p or b1 or two"))
    groups = [
        _collected(
            inprocess(
                "--collect-only",
                "-q",
                "-k",
                "p or b1 or two",
                "--fj-splits",
                "2",
                "--fj-group",
                str(group),
            )
        )
        for group in (1, 2)
    ]
    assert sorted(groups[0] + groups[1]) == sorted(selected)
    assert not set(groups[0]) & set(groups[1])


def test_each_group_runs_its_share_and_says_so(pytester: pytest.Pytester, inprocess: Run) -> None:
    _write_suite(pytester)
    result = inprocess("--fj-splits", "2", "--fj-group", "2")
    result.stdout.fnmatch_lines(
        ["forkjoin: group 2 of 2: 7 of 14 tests, expected * s (by history)"]
    )
    result.assert_outcomes(passed=7, deselected=7)


def _alone_in_a_group(groups: list[list[str]], test: str) -> bool:
    return any(group == [test] for group in groups)


@pytest.mark.parametrize("format", ["pytest-split", "junit"])
def test_durations_file_balances_the_split(
    pytester: pytest.Pytester, inprocess: Run, format: str
) -> None:
    """test_slow takes 15 s, the 13 others 1 s each: alone in one group of 2"""
    _write_suite(pytester)
    ids = _collected(inprocess("--collect-only", "-q"))
    durations = {test: (15.0 if test.endswith("test_slow") else 1.0) for test in ids}
    if format == "pytest-split":
        path = pytester.path / ".test_durations"
        path.write_text(json.dumps(durations))
    else:
        path = pytester.path / "report.xml"
        cases = "".join(
            f'<testcase classname="{".".join([test.split("::")[0][:-3], *test.split("::")[1:-1]])}"'
            f' name="{test.split("::")[-1]}" file="{test.split("::")[0]}" time="{seconds}"/>'
            for test, seconds in durations.items()
        )
        path.write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>')
    groups = [
        _collected(
            inprocess(
                "--collect-only",
                "-q",
                "--fj-splits",
                "2",
                "--fj-group",
                str(group),
                "--fj-durations",
                path.name,
            )
        )
        for group in (1, 2)
    ]
    assert _alone_in_a_group(groups, "test_alpha.py::test_slow")


def test_a_bad_durations_file_is_a_usage_error(pytester: pytest.Pytester, inprocess: Run) -> None:
    _write_suite(pytester)
    (pytester.path / "bad.json").write_text("{not json")
    result = inprocess("--fj-splits", "2", "--fj-group", "1", "--fj-durations", "bad.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fj-durations: *bad.json:1: is not valid JSON*"])


def test_the_history_balances_the_split(pytester: pytest.Pytester, inprocess: Run) -> None:
    """the history says test_slow took 15 s and the others 1 s: it is alone in its group"""
    _write_suite(pytester)
    ids = _collected(inprocess("--collect-only", "-q"))
    _record_durations(
        pytester.path / ".forkjoin" / "history.db",
        {test: (15.0 if test.endswith("test_slow") else 1.0) for test in ids},
    )
    groups = [
        _collected(inprocess("--collect-only", "-q", "--fj-splits", "2", "--fj-group", str(group)))
        for group in (1, 2)
    ]
    assert _alone_in_a_group(groups, "test_alpha.py::test_slow")


def test_the_history_keeps_a_costly_module_fixture_together(
    pytester: pytest.Pytester, inprocess: Run
) -> None:
    """test_db.py: 4 tests on a module fixture of 5 s; test_other.py: 9 tests: 2 groups"""
    pytester.makepyfile(
        test_db="""
            import pytest
            @pytest.fixture(scope="module")
            def db():
                return 1
            @pytest.mark.parametrize("n", range(4))
            def test_db(db, n): pass
        """,
        test_other="""
            import pytest
            @pytest.mark.parametrize("n", range(9))
            def test_other(n): pass
        """,
    )
    ids = _collected(inprocess("--collect-only", "-q"))
    durations = dict.fromkeys(ids, 1.0)
    durations["fixture:test_db.py::db"] = 5.0
    _record_durations(pytester.path / ".forkjoin" / "history.db", durations)
    groups = [
        _collected(inprocess("--collect-only", "-q", "--fj-splits", "2", "--fj-group", str(group)))
        for group in (1, 2)
    ]
    holding = [group for group in groups if any(test.startswith("test_db.py") for test in group)]
    assert len(holding) == 1
    assert sorted(len(group) for group in groups) == [4, 9]


def _record_durations(path: Path, durations: dict[str, float]) -> None:
    store = open_history(path)
    recorder = Recorder(store, store.start_job("tests", "pytest", {}))
    for key, seconds in durations.items():
        kind = "fixture" if key.startswith("fixture:") else "test"
        recorder.record(key, kind=kind, status="succeeded", start=1000.0, end=1000.0 + seconds)
    recorder.finish("succeeded")
    store.close()


def _run_tests(result: pytest.RunResult) -> list[str]:
    return sorted(line.split(" ")[0] for line in result.outlines if " PASSED" in line)


def test_groups_run_one_after_another_on_one_history_cut_one_partition(
    pytester: pytest.Pytester, inprocess: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """the history says test_slow takes 15 s, the 13 others 1 s; 2 groups, one split set:

    group A (test_slow alone) runs first and records test_slow at ~0 s, so that
    the history now says 7.5 s (the median): cut again from it, test_slow would
    share a group with 3 others, run twice, and 3 tests by no group. Group B must
    be cut from the history as it was before group A recorded.
    """
    _write_suite(pytester)
    ids = _collected(inprocess("--collect-only", "-q"))
    _record_durations(
        pytester.path / ".forkjoin" / "history.db",
        {test: (15.0 if test.endswith("test_slow") else 1.0) for test in ids},
    )
    planned = {
        group: _collected(
            inprocess("--collect-only", "-q", "--fj-splits", "2", "--fj-group", str(group))
        )
        for group in (1, 2)
    }
    first = next(group for group, tests in planned.items() if "test_alpha.py::test_slow" in tests)
    second = 3 - first
    monkeypatch.setenv("FORKJOIN_SPLIT_ID", "ci-run-42")
    ran = {
        group: _run_tests(inprocess("-v", "--fj-splits", "2", "--fj-group", str(group)))
        for group in (first, second)
    }
    assert ran[first] == sorted(planned[first]) == ["test_alpha.py::test_slow"]
    assert ran[second] == sorted(planned[second])
    store = open_history(pytester.path / ".forkjoin" / "history.db")
    jobs = [job for job in store.recent_jobs() if job.attributes.get("split_set") == "ci-run-42"]
    store.close()
    assert sorted(job.attributes["group"] for job in jobs) == [1, 2]


def test_the_split_set_comes_from_the_ci_run() -> None:
    assert split_set_id({"GITHUB_RUN_ID": "917", "GITHUB_RUN_ATTEMPT": "2"}) == "917"
    assert split_set_id({"CI_PIPELINE_ID": "55", "FORKJOIN_SPLIT_ID": " mine "}) == "mine"
    assert split_set_id({"FORKJOIN_SPLIT_ID": "", "CI_PIPELINE_ID": "55"}) == "55"
    assert split_set_id({}) is None
