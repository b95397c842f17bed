"""The estimator: medians of the last runs, a family for a key never seen, 1 s for none."""

from __future__ import annotations

import pytest

from forkjoin.telemetry import HistoryEstimator, Recorder, SqliteStore, families


def test_an_empty_history_weighs_every_key_one_second(store: SqliteStore) -> None:
    estimator = HistoryEstimator.from_store(store)
    assert estimator.estimate("build") == 1.0
    assert estimator.estimate("t.py::test[x]") == 1.0
    assert estimator.known_keys == 0


def test_a_key_weighs_the_median_of_its_last_ten_successes(store: SqliteStore) -> None:
    recorder = Recorder(store, store.start_job("workflow", "x"))
    # 13 runs: the 3 oldest took 50 s, a change since made it 2 s; one of the last 10
    # ran 100x slow, and a failed run is not a duration.
    seconds = [50, 50, 50, 2, 2, 2, 2, 200, 2, 2, 2, 2, 2]
    for n, took in enumerate(seconds):
        recorder.record(
            "build", kind="step", status="succeeded", start=1000 * n, end=1000 * n + took
        )
    recorder.record("build", kind="step", status="failed", start=99_000, end=99_500)
    recorder.finish("succeeded")
    estimator = HistoryEstimator.from_store(store)
    assert estimator.estimate("build") == 2.0
    # the mean of those ten would be 21.8: the outlier would dominate
    assert HistoryEstimator({"k": [1.0, 3.0]}).estimate("k") == 2.0


KNOWN = {
    "tests/test_api.py::TestLogin::test_ok[admin]": [4.0],
    "tests/test_api.py::TestLogin::test_ok[guest]": [6.0],
    "tests/test_api.py::TestLogin::test_logout": [20.0],
    "tests/test_api.py::test_health": [30.0],
    "tests/test_db.py::test_migrate": [100.0],
    "deploy[eu-west-1]": [10.0],
    "deploy[us-east-1]": [12.0],
    "deploy": [40.0],
    "package": [50.0],
    "test-unit": [8.0],
    "test-integration": [16.0],
    "build/linux/x86": [3.0],
}


@pytest.mark.parametrize(
    ("key", "expected", "because"),
    [
        ("tests/test_api.py::TestLogin::test_ok[root]", 5.0, "its parametrized siblings"),
        ("tests/test_api.py::TestLogin::test_new", 6.0, "the tests of its class"),
        ("tests/test_api.py::test_new", 13.0, "the tests of its file"),
        ("tests/test_other.py::test_x", 20.0, "the tests of its folder"),
        ("deploy[ap-south-1]", 11.0, "the other items of its step"),
        ("package[arm]", 50.0, "its step, run without items"),
        ("test-e2e", 12.0, "the steps named test-"),
        ("build/linux/arm", 3.0, "the keys under build/linux/"),
        ("lint", 14.0, "the median of every key's estimate"),
    ],
)
def test_a_key_never_seen_takes_its_familys_estimate(
    key: str, expected: float, because: str
) -> None:
    estimator = HistoryEstimator(KNOWN)
    assert estimator.estimate(key) == expected, because
    assert estimator.estimate(key) == expected  # remembered, the same


def test_an_estimate_made_up_for_an_unseen_key_is_nobodys_sibling() -> None:
    estimator = HistoryEstimator({"deploy[a]": [10.0]})
    assert estimator.estimate("deploy[b]") == 10.0
    assert estimator.known_keys == 1


def test_families_run_from_the_closest_to_the_widest() -> None:
    assert list(families("f.py::C::t[a-b/c]")) == [
        ("f.py::C::t[", True),
        ("f.py::C::t", False),
        ("f.py::C::", True),
        ("f.py::", True),
    ]
    assert list(families("test-unit")) == [("test-", True)]
    assert list(families("lint")) == []


def test_estimates_from_the_store_are_read_in_one_query(store: SqliteStore) -> None:
    recorder = Recorder(store, store.start_job("workflow", "x"))
    recorder.record("a", kind="step", status="succeeded", start=0, end=3)
    recorder.finish("succeeded")
    estimator = HistoryEstimator.from_store(store)
    store.close()  # nothing more is read: estimates are lookups
    assert estimator.estimate("a") == 3.0
    assert estimator.estimate("b") == 3.0
