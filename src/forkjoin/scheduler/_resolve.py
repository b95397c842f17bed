"""Nodes inside a call's arguments: finding them at spawn, replacing them at start.

Only the built-in containers are searched (list, tuple, dict, and their nesting):
they are what people pass, and their exact types can be rebuilt without guessing a
subclass's constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forkjoin.scheduler._node import Node

__all__ = ["find_nodes", "resolve"]

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
