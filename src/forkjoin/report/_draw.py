"""Drawing a graph as text: a Mermaid flowchart, a DOT digraph, JSON, or a plan to read.

    draw(Graph({"package": ["lint", "unit"]}), "mermaid")

Every format lists the nodes in topological order, and the edges by dependent in
that order, then by need in the order given, so the same graph always gives the
same text. An edge runs from the node needed to the node that needs it, as in
`Graph.edges`. A node shows its `labels` entry, or its id, and `groups` gathers
nodes into numbered clusters (a CI node's share, a pool).

This module imports nothing of forkjoin but `forkjoin.graph`: it draws a graph from any
front end, and knows neither the engine nor the workflow loader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from forkjoin.graph import Graph

__all__ = ["FORMATS", "draw"]

FORMATS = ("text", "mermaid", "dot", "json")
"""The formats `draw` knows, the default first."""


def draw(
    graph: Graph[str],
    format: str,
    *,
    labels: Mapping[str, str] | None = None,
    groups: Mapping[str, int] | None = None,
) -> str:
    """The text of `graph` drawn in `format`, one of `FORMATS`, ending in a newline.

    - ``text``: one numbered line per node with what it waits on, then the critical
      path by node count: ``critical path: version -> package -> deploy``.
    - ``mermaid``: a ``flowchart LR``, each node under an id made safe for Mermaid.
    - ``dot``: a ``digraph forkjoin`` for Graphviz, every id and label quoted.
    - ``json``: ``{"nodes": [{"id", "needs", "label"}], "edges": [[needed, dependent]]}``,
      indented by 2; each node also has a ``"group"`` (a number or null) when
      `groups` is given.

    `labels` maps a node to the text shown for it in place of its id, such as the
    step's name and its number of items; `groups` maps a node to the number of its
    cluster, a Mermaid subgraph or a DOT cluster, a ``[group N]`` tag in text.
    Entries for nodes not in the graph are ignored.

    Raises ValueError naming the formats for an unknown one, and CycleError for a
    cyclic graph, which has no order to draw in.
    """
    drawer = _DRAWERS.get(format)
    if drawer is None:
        raise ValueError(f"unknown format {format!r}; choose one of: {', '.join(FORMATS)}")
    return drawer(_Drawing(graph, graph.topological_order(), labels or {}, groups))


@dataclass(frozen=True, slots=True)
class _Drawing:
    """A graph with the order and the names it is drawn with."""

    graph: Graph[str]
    order: list[str]
    labels: Mapping[str, str]
    groups: Mapping[str, int] | None

    def label(self, node: str) -> str:
        return self.labels.get(node, node)

    def group(self, node: str) -> int | None:
        return None if self.groups is None else self.groups.get(node)

    def edges(self) -> Iterator[tuple[str, str]]:
        for node in self.order:
            for needed in self.graph.needs(node):
                yield needed, node

    def clusters(self) -> tuple[list[str], list[tuple[int, list[str]]]]:
        """The nodes in no group, then each group's nodes by group number, all in order."""
        loose: list[str] = []
        members: dict[int, list[str]] = {}
        for node in self.order:
            group = self.group(node)
            if group is None:
                loose.append(node)
            else:
                members.setdefault(group, []).append(node)
        return loose, sorted(members.items())


def _text(drawing: _Drawing) -> str:
    order = drawing.order
    if not order:
        return "no nodes\ncritical path: none\n"
    digits = len(str(len(order)))
    width = max(len(_plain(drawing.label(node))) for node in order)
    lines = []
    for number, node in enumerate(order, start=1):
        needs = drawing.graph.needs(node)
        group = drawing.group(node)
        line = f"  {number:>{digits}}. {_plain(drawing.label(node)):<{width}}"
        if needs:
            line += "   <- " + ", ".join(map(_plain, needs))
        if group is not None:
            line += f"   [group {group}]"
        lines.append(line.rstrip())
    lines.append("critical path: " + " -> ".join(map(_plain, drawing.graph.critical_path())))
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """`text` with control characters written as Python escapes, so one node is one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], text)


# Mermaid reads these words as syntax wherever a node id could stand.
_MERMAID_WORDS = frozenset(
    {
        "call",
        "class",
        "classdef",
        "click",
        "default",
        "direction",
        "end",
        "flowchart",
        "graph",
        "href",
        "interpolate",
        "linkstyle",
        "style",
        "subgraph",
    }
)


def _mermaid(drawing: _Drawing) -> str:
    ids = _MermaidIds()
    node_ids = {node: ids.make(node) for node in drawing.order}
    loose, clusters = drawing.clusters()
    lines = ["flowchart LR"]
    lines += [f"    {node_ids[node]}[{_mermaid_text(drawing.label(node))}]" for node in loose]
    for group, members in clusters:
        title = _mermaid_text(f"group {group}")
        lines.append(f"    subgraph {ids.make(f'group_{group}')}[{title}]")
        lines += [
            f"        {node_ids[node]}[{_mermaid_text(drawing.label(node))}]" for node in members
        ]
        lines.append("    end")
    lines += [f"    {node_ids[needed]} --> {node_ids[node]}" for needed, node in drawing.edges()]
    return "\n".join(lines) + "\n"


class _MermaidIds:
    """Gives each name a distinct Mermaid id of letters, digits and underscores.

    The id is the name with every other character replaced by `_`, so that the
    source stays readable; a clash with an id given before or with a Mermaid word
    adds `_2`, `_3`... The real name is shown by the label.
    """

    __slots__ = ("_taken",)

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def make(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
        candidate, suffix = base, 1
        while candidate in self._taken or candidate.lower() in _MERMAID_WORDS:
            suffix += 1
            candidate = f"{base}_{suffix}"
        self._taken.add(candidate)
        return candidate


def _mermaid_text(text: str) -> str:
    """`text` in double quotes, its quotes and markup as Mermaid entity codes (``#quot;``)."""

    def entity(match: re.Match[str]) -> str:
        return f"#{ord(match.group())};"

    # A `#` is escaped so that text like `#35;` is not read as an entity, a backtick
    # would start a Markdown string, < > & would be read as HTML, and a line break
    # would end the statement.
    return '"' + re.sub(r'[#"`<>&\x00-\x1f\x7f]', entity, text) + '"'


def _dot(drawing: _Drawing) -> str:
    loose, clusters = drawing.clusters()
    lines = ["digraph forkjoin {", "    rankdir=LR;"]
    lines += [_dot_node(drawing, node, "    ") for node in loose]
    for group, members in clusters:
        lines.append(f"    subgraph {_dot_text(f'cluster_{group}')} {{")
        lines.append(f"        label={_dot_text(f'group {group}')};")
        lines += [_dot_node(drawing, node, "        ") for node in members]
        lines.append("    }")
    lines += [f"    {_dot_text(needed)} -> {_dot_text(node)};" for needed, node in drawing.edges()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(drawing: _Drawing, node: str, indent: str) -> str:
    return f"{indent}{_dot_text(node)} [label={_dot_text(drawing.label(node))}];"


_DOT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


def _dot_text(text: str) -> str:
    """`text` as a DOT quoted string: a backslash, a quote and a line break escaped.

    Escaping the backslash too keeps a name ending in one from escaping the closing
    quote, and makes the escaping reversible, so distinct names stay distinct.
    """
    return '"' + re.sub(r'[\\"\n\r]', lambda match: _DOT_ESCAPES[match.group()], text) + '"'


def _json(drawing: _Drawing) -> str:
    nodes: list[dict[str, object]] = []
    for node in drawing.order:
        entry: dict[str, object] = {
            "id": node,
            "needs": list(drawing.graph.needs(node)),
            "label": drawing.label(node),
        }
        if drawing.groups is not None:
            entry["group"] = drawing.group(node)
        nodes.append(entry)
    edges = [[needed, node] for needed, node in drawing.edges()]
    return json.dumps({"nodes": nodes, "edges": edges}, indent=2, ensure_ascii=False) + "\n"


_DRAWERS: dict[str, Callable[[_Drawing], str]] = {
    "text": _text,
    "mermaid": _mermaid,
    "dot": _dot,
    "json": _json,
}
