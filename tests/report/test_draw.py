"""Tests of forkjoin.report.draw: a graph as text, Mermaid, DOT and JSON.

Graphs are drawn as in tests/test_graph.py, with commas for siblings:
`lint, unit -> package` means package needs lint and unit; chains are separated by
`;`, and nodes are inserted in the order the drawing names them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from itertools import pairwise

import pytest

from forkjoin.errors import CycleError
from forkjoin.graph import Graph
from forkjoin.report import FORMATS, draw


def graph_of(picture: str) -> Graph[str]:
    """The graph of a drawing such as ``lint, unit -> package ; docs``."""
    needs: dict[str, list[str]] = {}
    for chain in picture.split(";"):
        steps = [[name.strip() for name in step.split(",")] for step in chain.split("->")]
        for step in steps:
            for name in step:
                needs.setdefault(name, [])
        for before, after in pairwise(steps):
            for name in after:
                needs[name].extend(before)
    return Graph(needs)


RELEASE = graph_of("version, lint, unit -> package -> deploy")
DEPLOY_3 = "deploy \N{MULTIPLICATION SIGN}3"  # the label of a step with three items


def odd_graph() -> Graph[str]:
    """a-b, a_b, x/y -> he said "hi" -> ends\\ -> two\\nlines ; end ; #35; ; <b>`md`</b>"""
    return Graph(
        {
            "a-b": [],
            "a_b": [],
            "x/y": [],
            'he said "hi"': ["a-b", "a_b", "x/y"],
            "ends\\": ['he said "hi"'],
            "two\nlines": ["ends\\"],
            "end": [],
            "#35;": [],
            "<b>`md`</b>": [],
        }
    )


# text


def test_text_lists_the_plan_in_order_and_the_critical_path() -> None:
    """version, lint, unit -> package -> deploy"""
    assert draw(RELEASE, "text", labels={"deploy": DEPLOY_3}) == (
        "  1. version\n"
        "  2. lint\n"
        "  3. unit\n"
        "  4. package     <- version, lint, unit\n"
        f"  5. {DEPLOY_3}   <- package\n"
        "critical path: version -> package -> deploy\n"
    )


def test_text_follows_the_needs_not_the_insertion_order() -> None:
    """lint -> package -> deploy, inserted backwards; 10 nodes pad the numbers"""
    graph = Graph({"deploy": ["package"], "package": ["lint"], "lint": []})
    assert draw(graph, "text") == (
        "  1. lint\n"
        "  2. package   <- lint\n"
        "  3. deploy    <- package\n"
        "critical path: lint -> package -> deploy\n"
    )
    ten = draw(graph_of(" -> ".join(f"s{i}" for i in range(10))), "text").splitlines()
    assert ten[0] == "   1. s0"
    assert ten[9] == "  10. s9   <- s8"


def test_text_of_an_empty_graph() -> None:
    assert draw(Graph({}), "text") == "no nodes\ncritical path: none\n"


# Mermaid


def test_mermaid_draws_a_flowchart_left_to_right() -> None:
    """version, lint, unit -> package -> deploy"""
    assert draw(RELEASE, "mermaid", labels={"deploy": DEPLOY_3}) == (
        "flowchart LR\n"
        '    version["version"]\n'
        '    lint["lint"]\n'
        '    unit["unit"]\n'
        '    package["package"]\n'
        f'    deploy["{DEPLOY_3}"]\n'
        "    version --> package\n"
        "    lint --> package\n"
        "    unit --> package\n"
        "    package --> deploy\n"
    )


MERMAID_NODE = re.compile(r' *([A-Za-z0-9_]+)\["([^"]*)"\]')
MERMAID_EDGE = re.compile(r" *([A-Za-z0-9_]+) --> ([A-Za-z0-9_]+)")


def read_mermaid(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The node labels and the edges, as labels, of a flowchart `draw` wrote.

    Every line must be the header, a node `id["label"]` or an edge `a --> b`, each id
    declared once and made of letters, digits and underscores; entity codes are decoded.
    """
    header, *lines = text.splitlines()
    assert header == "flowchart LR"
    labels: dict[str, str] = {}
    edges = []
    for line in lines:
        if node := MERMAID_NODE.fullmatch(line):
            assert node[1] not in labels, f"id {node[1]} declared twice"
            labels[node[1]] = re.sub(r"#(\d+);", lambda code: chr(int(code[1])), node[2])
        elif edge := MERMAID_EDGE.fullmatch(line):
            edges.append((labels[edge[1]], labels[edge[2]]))
        else:
            raise AssertionError(f"not a node or an edge: {line!r}")
    return list(labels.values()), edges


def test_mermaid_makes_odd_ids_safe_and_shows_the_real_ones() -> None:
    """a-b, a_b, x/y -> he said "hi" -> ends\\ -> two\\nlines ; end ; #35; ; <b>`md`</b>"""
    graph = odd_graph()
    text = draw(graph, "mermaid")
    labels, edges = read_mermaid(text)
    assert labels == graph.topological_order()
    assert edges == [(needed, node) for node in labels for needed in graph.needs(node)]
    ids = [line.split("[")[0].strip() for line in text.splitlines()[1 : len(graph) + 1]]
    assert ids[:3] == ["a_b", "a_b_2", "x_y"]  # readable, and distinct after the change
    assert "end" not in ids  # Mermaid would read it as the end of a subgraph
    assert "#quot;" not in text and '"hi"' not in text  # quotes as codes, never raw
    assert "<b>" not in text and "`" not in text


# DOT


def test_dot_draws_a_digraph_left_to_right() -> None:
    """version, lint, unit -> package -> deploy"""
    assert draw(RELEASE, "dot", labels={"deploy": DEPLOY_3}) == (
        "digraph forkjoin {\n"
        "    rankdir=LR;\n"
        '    "version" [label="version"];\n'
        '    "lint" [label="lint"];\n'
        '    "unit" [label="unit"];\n'
        '    "package" [label="package"];\n'
        f'    "deploy" [label="{DEPLOY_3}"];\n'
        '    "version" -> "package";\n'
        '    "lint" -> "package";\n'
        '    "unit" -> "package";\n'
        '    "package" -> "deploy";\n'
        "}\n"
    )


DOT_STRING = r'"((?:[^"\\\n]|\\.)*)"'
DOT_NODE = re.compile(rf" *{DOT_STRING} \[label={DOT_STRING}\];")
DOT_EDGE = re.compile(rf" *{DOT_STRING} -> {DOT_STRING};")
DOT_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\r": "\r"}


def unquote_dot(quoted: str) -> str:
    return re.sub(r"\\.", lambda pair: DOT_UNESCAPE[pair[0]], quoted)


def read_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The labels by node and the edges of a digraph `draw` wrote, unescaped.

    A quoted string is read as Graphviz reads it: it ends at the first quote not
    preceded by an odd run of backslashes, and never spans a line.
    """
    lines = text.splitlines()
    assert lines[:2] == ["digraph forkjoin {", "    rankdir=LR;"]
    assert lines[-1] == "}"
    labels: dict[str, str] = {}
    edges = []
    for line in lines[2:-1]:
        if node := DOT_NODE.fullmatch(line):
            labels[unquote_dot(node[1])] = unquote_dot(node[2])
        elif edge := DOT_EDGE.fullmatch(line):
            edges.append((unquote_dot(edge[1]), unquote_dot(edge[2])))
        else:
            raise AssertionError(f"not a node or an edge: {line!r}")
    return labels, edges


def test_dot_quotes_odd_ids_and_labels() -> None:
    """a-b, a_b, x/y -> he said "hi" -> ends\\ -> two\\nlines ; end ; #35; ; <b>`md`</b>"""
    graph = odd_graph()
    text = draw(graph, "dot", labels={"ends\\": 'label "\\N"'})
    labels, edges = read_dot(text)
    assert list(labels) == graph.topological_order()
    assert labels["ends\\"] == 'label "\\N"'  # shown as written, not as the node's name
    assert labels["a-b"] == "a-b"
    assert edges == [(needed, node) for node in labels for needed in graph.needs(node)]
    assert '"ends\\\\" -> "two\\nlines";' in text


# JSON


def test_json_lists_nodes_in_order_and_edges_from_the_need() -> None:
    """version, lint, unit -> package -> deploy"""
    text = draw(RELEASE, "json", labels={"deploy": DEPLOY_3})
    assert json.loads(text) == {
        "nodes": [
            {"id": "version", "needs": [], "label": "version"},
            {"id": "lint", "needs": [], "label": "lint"},
            {"id": "unit", "needs": [], "label": "unit"},
            {"id": "package", "needs": ["version", "lint", "unit"], "label": "package"},
            {"id": "deploy", "needs": ["package"], "label": DEPLOY_3},
        ],
        "edges": [
            ["version", "package"],
            ["lint", "package"],
            ["unit", "package"],
            ["package", "deploy"],
        ],
    }
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_json_round_trips_odd_ids() -> None:
    """a-b, a_b, x/y -> he said "hi" -> ends\\ -> two\\nlines ; end ; #35; ; <b>`md`</b>"""
    graph = odd_graph()
    drawn = json.loads(draw(graph, "json"))
    assert [node["id"] for node in drawn["nodes"]] == graph.topological_order()
    rebuilt = Graph({node["id"]: node["needs"] for node in drawn["nodes"]})
    assert sorted(rebuilt.edges()) == sorted(graph.edges())
    assert sorted(map(tuple, drawn["edges"])) == sorted(graph.edges())


# groups


def test_groups_become_clusters() -> None:
    """version, lint, unit -> package -> deploy   (lint in group 2; unit, deploy in 1)"""
    groups = {"lint": 2, "unit": 1, "deploy": 1, "not a node": 3}
    mermaid = draw(RELEASE, "mermaid", groups=groups).splitlines()
    assert mermaid[3:10] == [
        '    subgraph group_1["group 1"]',
        '        unit["unit"]',
        '        deploy["deploy"]',
        "    end",
        '    subgraph group_2["group 2"]',
        '        lint["lint"]',
        "    end",
    ]
    dot = draw(RELEASE, "dot", groups=groups).splitlines()
    assert dot[4:9] == [
        '    subgraph "cluster_1" {',
        '        label="group 1";',
        '        "unit" [label="unit"];',
        '        "deploy" [label="deploy"];',
        "    }",
    ]
    nodes = json.loads(draw(RELEASE, "json", groups=groups))["nodes"]
    assert [node["group"] for node in nodes] == [None, 2, 1, None, 1]
    assert "group" not in json.loads(draw(RELEASE, "json"))["nodes"][0]
    assert "  2. lint      [group 2]" in draw(RELEASE, "text", groups=groups).splitlines()


def test_a_group_id_never_takes_a_node_id() -> None:
    """group_1 -> b   (b in group 1)"""
    text = draw(graph_of("group_1 -> b"), "mermaid", groups={"b": 1})
    assert '    group_1["group_1"]' in text.splitlines()
    assert '    subgraph group_1_2["group 1"]' in text.splitlines()


# every format


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_is_clean_text(format: str) -> None:
    """a-b, a_b, x/y -> he said "hi" -> ends\\ -> two\\nlines ; ...   (and groups)"""
    for groups in (None, {"x/y": 1, "end": 2}):
        text = draw(odd_graph(), format, groups=groups)
        assert text.endswith("\n") and not text.endswith("\n\n")
        for line in text.splitlines():
            assert line == line.rstrip(), f"trailing space in {line!r}"
        assert draw(odd_graph(), format, groups=groups) == text


def test_the_text_is_the_same_under_any_hash_seed() -> None:
    code = (
        "from forkjoin.graph import Graph; from forkjoin.report import draw; "
        "g = Graph({'d': ['c', 'b'], 'c': ['a'], 'b': ['a'], 'e': []}); "
        "print(''.join(draw(g, f, groups={'b': 1, 'e': 2}) for f in ('text', 'mermaid', 'dot')))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outputs) == 1


def test_an_unknown_format_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown format 'svg'; choose one of: text, mermaid"):
        draw(RELEASE, "svg")


def test_a_cycle_has_no_order_to_draw() -> None:
    """a -> b -> a"""
    with pytest.raises(CycleError, match="dependency cycle: a -> b -> a"):
        draw(Graph({"a": ["b"], "b": ["a"]}), "mermaid")


def test_report_imports_no_engine_and_no_front_end() -> None:
    modules = ("forkjoin.scheduler", "forkjoin.tasks", "forkjoin.workflow", "yaml", "click")
    code = f"import sys, forkjoin.report; print([m for m in {modules!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
