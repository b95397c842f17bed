"""`forkjoin run --output grouped|quiet` and `--dry-run`, with real shells."""

from __future__ import annotations

from pathlib import Path

from test_run import run, write

SLOW_PAIR = """
    max_concurrency: 2
    steps:
      a:
        run: for i in 1 2 3; do echo "a$i"; sleep 0.1; done
      b:
        run: for i in 1 2 3; do echo "b$i"; sleep 0.1; done
      broken:
        needs: [a]
        run: echo "why it broke"; exit 3
"""


def test_grouped_writes_each_steps_lines_as_one_block(tmp_path: Path) -> None:
    """a and b print at once, interleaved in time    (expect two whole blocks)"""
    write(tmp_path, SLOW_PAIR)
    result, _ = run(tmp_path, "--output", "grouped", "a", "b")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for name in ("a", "b"):
        start = lines.index(f"==> {name} <==")
        assert lines[start + 1 : start + 4] == [f"{name}1", f"{name}2", f"{name}3"]


def test_quiet_shows_only_the_failing_steps_output(tmp_path: Path) -> None:
    write(tmp_path, SLOW_PAIR)
    result, summary = run(tmp_path, "--output", "quiet", "--keep-going")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["==> broken (failed) <==", "why it broke"]
    assert summary is not None and summary["status"] == "failed"


def test_prefixed_is_the_default_above_one_and_can_be_asked_for_at_one(tmp_path: Path) -> None:
    write(tmp_path, SLOW_PAIR)
    result, _ = run(tmp_path, "-j", "1", "--output", "prefixed", "a")
    assert result.stdout.splitlines() == ["[a] a1", "[a] a2", "[a] a3"]


def test_dry_run_prints_the_plan_and_starts_nothing(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          build:
            run: touch built
          test:
            needs: [build]
            run: touch tested
        """,
    )
    result, summary = run(tmp_path, "--dry-run")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "dry run: 2 steps, 1 at once; nothing ran",
        "  1. build",
        "  2. test    <- build",
        "critical path: build -> test",
    ]
    assert not (tmp_path / "built").exists() and not (tmp_path / "tested").exists()
    assert summary is None


def test_repeated_and_multiline_items_each_get_a_block_and_a_prefix_of_their_own(
    tmp_path: Path,
) -> None:
    """d: for_each [a, a, a, "x<newline>y"] at 4 slots    (expect 4 blocks, 4 prefixes)"""
    write(
        tmp_path,
        """
        max_concurrency: 4
        steps:
          d:
            for_each: [a, a, a, "x\\ny"]
            run: echo "one ${{ item }}"; sleep 0.2; echo "two ${{ item }}"
        """,
    )
    result, summary = run(tmp_path, "--output", "grouped")
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("==> ")[1:]
    assert sorted(blocks) == sorted(
        [f"{label} <==\none a\ntwo a\n" for label in ("d/a", "d/a#2", "d/a#3")]
        + ["d/x\\ny <==\none x\ny\ntwo x\ny\n"]
    )
    assert summary is not None
    assert [item["item"] for item in summary["nodes"][0]["items"]] == ["a", "a", "a", "x\ny"]
    result, _ = run(tmp_path, "--output", "prefixed")
    assert sorted(result.stdout.splitlines()) == sorted(
        [f"[{label}] {line} a" for label in ("d/a", "d/a#2", "d/a#3") for line in ("one", "two")]
        + ["[d/x\\ny] one x", "[d/x\\ny] y", "[d/x\\ny] two x", "[d/x\\ny] y"]
    )
