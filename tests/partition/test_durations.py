"""Reading durations files: pytest-split JSON and JUnit XML, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from forkjoin.errors import DurationsError, ForkjoinError
from forkjoin.partition import junit_test_id, read_durations

PYTEST_JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" tests="5">
    <testcase classname="tests.test_a.TestX" name="test_b[1]" file="tests/test_a.py" time="1.5"/>
    <testcase classname="tests.test_a" name="test_c" file="tests/test_a.py" time="0.25"/>
    <testcase classname="tests.test_a.TestX.TestInner" name="test_d" file="tests/test_a.py"
              time="2"/>
    <testcase classname="tests.test_a" name="test_no_time" file="tests/test_a.py"/>
    <testcase classname="tests.test_a" name="test_bad_time" file="tests/test_a.py" time="x"/>
  </testsuite>
</testsuites>
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def test_a_pytest_split_file_maps_ids_to_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, ".test_durations", '{"t.py::a": 1.25, "t.py::b": 0, "t.py::c": 3}')
    assert read_durations(path) == {"t.py::a": 1.25, "t.py::b": 0.0, "t.py::c": 3.0}


def test_the_older_list_of_pairs_is_read_too(tmp_path: Path) -> None:
    path = write(tmp_path, ".test_durations", '[["t.py::a", 1.25], ["t.py::b", 2]]')
    assert read_durations(path) == {"t.py::a": 1.25, "t.py::b": 2.0}


def test_junit_with_a_file_attribute_gives_pytest_node_ids(tmp_path: Path) -> None:
    assert read_durations(write(tmp_path, "report.xml", PYTEST_JUNIT)) == {
        "tests/test_a.py::TestX::test_b[1]": 1.5,
        "tests/test_a.py::test_c": 0.25,
        "tests/test_a.py::TestX::TestInner::test_d": 2.0,
    }


def test_junit_without_a_file_of_another_runner_gives_classname_colons_name(
    tmp_path: Path,
) -> None:
    report = """<testsuite name="go">
      <testcase classname="pkg/parse" name="TestEmpty" time="0.5"></testcase>
      <testcase classname="" name="TestLoose" time="1"></testcase>
      <testcase classname="pkg/parse" name="TestEmpty" time="0.75"/>
    </testsuite>"""
    # A repeated test case (a rerun) keeps its last time.
    assert read_durations(write(tmp_path, "go.xml", report)) == {
        "pkg/parse::TestEmpty": 0.75,
        "TestLoose": 1.0,
    }


def test_junit_of_another_runner_keeps_its_class_name_whole(tmp_path: Path) -> None:
    report = (
        '<testsuites><testsuite><testcase classname="Parser handles empty input" '
        'name="returns null" file="src/parser.test.js" time="0.1"/></testsuite></testsuites>'
    )
    assert read_durations(write(tmp_path, "jest.xml", report)) == {
        "src/parser.test.js::Parser handles empty input::returns null": 0.1
    }


def test_the_format_is_told_by_the_content_not_the_name(tmp_path: Path) -> None:
    junit = write(
        tmp_path, "durations.json", '\n  <testsuite><testcase name="a" time="1"/></testsuite>'
    )
    assert read_durations(junit) == {"a": 1.0}
    assert read_durations(write(tmp_path, "report.xml", '{"a": 2}')) == {"a": 2.0}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"t.py::a": 1.25, "t.py::b": ', ":1: is not valid JSON"),  # truncated
        ("", ":1: is not valid JSON"),
        ('{\n"a": 1,\n"b": 2,,\n}', ":3: is not valid JSON"),
        ("[1, 2]", "entry 1 is not an [id, seconds] pair"),
        ('"just a string"', "holds a JSON str"),
        ('{"a": "fast"}', "the duration of 'a' is 'fast'"),
        ('{"a": -1}', "the duration of 'a' is -1"),
        ('{"a": NaN}', "the duration of 'a' is nan"),
        ('{"a": true}', "the duration of 'a' is True"),
        (b'{"a": 1, "\xff": 2}', "is not UTF-8"),
    ],
)
def test_a_malformed_json_file_is_a_durations_error_naming_the_file(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    path = write(tmp_path, ".test_durations", content)
    with pytest.raises(DurationsError) as caught:
        read_durations(path)
    assert str(caught.value).startswith(str(path))
    assert reason in str(caught.value)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("content", "reason", "line"),
    [
        # Truncated mid-element, on its last line.
        (PYTEST_JUNIT[:300], "is not well-formed XML", PYTEST_JUNIT[:300].count("\n") + 1),
        ("<testsuite>\n<testcase name='a' time='1'>\n</testsuite>", "mismatched tag", 3),
        ("<html><body>not a report</body></html>", "has a <html> root", None),
    ],
)
def test_a_malformed_junit_file_is_a_durations_error_with_its_line(
    tmp_path: Path, content: str, reason: str, line: int | None
) -> None:
    path = write(tmp_path, "report.xml", content)
    with pytest.raises(DurationsError, match=reason) as caught:
        read_durations(path)
    assert caught.value.line == line
    where = str(path) if line is None else f"{path}:{line}"
    assert str(caught.value).startswith(f"{where}: ")


def test_durations_error_is_a_forkjoin_error_and_a_value_error() -> None:
    error = DurationsError("d.json", "is empty", line=2)
    assert isinstance(error, ForkjoinError)
    assert isinstance(error, ValueError)
    assert str(error) == "d.json:2: is empty"
    assert (error.path, error.reason, error.line) == ("d.json", "is empty", 2)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_durations(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("classname", "name", "node_id"),
    [
        ("tests.test_a.TestX", "test_b[1]", "tests/test_a.py::TestX::test_b[1]"),
        ("tests.test_a", "test_c", "tests/test_a.py::test_c"),
        ("test_a.TestX.TestInner", "test_d", "test_a.py::TestX::TestInner::test_d"),
        ("pkg.api_test", "test_e", "pkg/api_test.py::test_e"),
        ("test_pkg.test_a.TestX", "test_f", "test_pkg/test_a.py::TestX::test_f"),
        ("com.example.CartTest", "addsItem", "com.example.CartTest::addsItem"),
    ],
)
def test_junit_without_a_file_gives_pytests_node_id_when_it_can_be_told(
    classname: str, name: str, node_id: str
) -> None:
    """pytest's default (xunit2) writes no `file`: the module is the dotted path up
    to the last part named as pytest finds test files."""
    assert junit_test_id(classname, name) == node_id
