"""Nodes inside a call's arguments: finding them at spawn, replacing them at start.

Only the built-in containers are searched (list, tuple, dict, and their nesting):
they are what people pass, and their exact types can be rebuilt without guessing a
subclass's constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forkjoin.scheduler._node import Node

__all__ = ["find_nodes", "nodes_in_call", "resolve", "resolve_call"]

_CONTAINERS = (list, tuple, dict)


def find_nodes(value: Any, found: dict[int, Any], kind: type = Node) -> None:
    """Add every `kind` object inside `value` to `found`, keyed by id so each counts once."""
    if isinstance(value, kind):
        found[id(value)] = value
        return
    container = type(value)
    if container is list or container is tuple:
        for item in value:
            if isinstance(item, kind) or type(item) in _CONTAINERS:
                find_nodes(item, found, kind)
    elif container is dict:
        for item in value.values():
            if isinstance(item, kind) or type(item) in _CONTAINERS:
                find_nodes(item, found, kind)


def resolve_call(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> tuple[Any, ...]:
    """`resolve` of a call's arguments: (args, kwargs) with every node's value in place.

    The hot path of every task that needs another: a flat tuple of values and
    nodes, walked in one loop rather than one call per argument.
    """
    values = []
    for item in args:
        if isinstance(item, Node):
            values.append(item.value)
        elif type(item) in _CONTAINERS:
            values.append(resolve(item))
        else:
            values.append(item)
    return tuple(values), (resolve(kwargs) if kwargs else kwargs)


def nodes_in_call(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> tuple[Node, ...]:
    """The nodes among a call's arguments, each once: `find_nodes` with a fast way out.

    Most calls pass plain values, and one look at each argument shows it.
    """
    for item in args:
        if isinstance(item, Node) or type(item) in _CONTAINERS:
            break
    else:
        if not kwargs:
            return ()
    found: dict[int, Node] = {}
    find_nodes(args, found)
    if kwargs:
        find_nodes(kwargs, found)
    return tuple(found.values())


def _value_of(node: Node) -> Any:
    return node.value


def resolve(value: Any, replace: Callable[[Any], Any] = _value_of, kind: type = Node) -> Any:
    """A copy of `value` with each `kind` object replaced by `replace(it)`.

    By default, every node by its value: the nodes a call needs have succeeded
    when it starts.
    """
    if isinstance(value, kind):
        return replace(value)
    container = type(value)
    if container is tuple:
        return tuple([resolve(item, replace, kind) for item in value])
    if container is list:
        return [resolve(item, replace, kind) for item in value]
    if container is dict:
        return {key: resolve(item, replace, kind) for key, item in value.items()}
    return value
