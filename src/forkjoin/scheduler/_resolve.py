"""Nodes inside a call's arguments: finding them at spawn, replacing them at start.

Only the built-in containers are searched (list, tuple, dict, and their nesting):
they are what people pass, and their exact types can be rebuilt without guessing a
subclass's constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from forkjoin.scheduler._node import Node, RemoteValue

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


def resolve_call(
    args: tuple[Any, ...], kwargs: dict[str, Any] | None, keep_on: Any = None
) -> tuple[Any, ...]:
    """`resolve` of a call's arguments: (args, kwargs) with every node's value in place.

    The hot path of every task that needs another: a flat tuple of values and
    nodes, walked in one loop rather than one call per argument. With `keep_on`
    (an executor that keeps results), a node whose value stays on that executor
    is replaced by its remote handle instead, so the value never comes here.
    """
    if keep_on is not None:
        replace = partial(_handle_or_value, keep_on)
        return _replaced(args, replace, Node), (
            _replaced(kwargs, replace, Node) if kwargs else kwargs
        )
    values = []
    for item in args:
        if isinstance(item, Node):
            value = item._value
            values.append(value.fetch() if type(value) is RemoteValue else value)
        elif type(item) in _CONTAINERS:
            values.append(_replaced(item, _value_of, Node))
        else:
            values.append(item)
    return tuple(values), (_replaced(kwargs, _value_of, Node) if kwargs else kwargs)


def _handle_or_value(executor: Any, node: Node) -> Any:
    value = node._value
    if type(value) is RemoteValue and node.engine is not None and node.engine.executor is executor:
        return value.handle
    return node.value


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
    when it starts. Values kept on a cluster are then brought here in one batch
    per executor, not one round trip each.
    """
    if replace is _value_of and kind is Node and type(value) in _CONTAINERS:
        _bring_kept_values(value)
    return _replaced(value, replace, kind)


def _replaced(value: Any, replace: Callable[[Any], Any], kind: type) -> Any:
    if isinstance(value, kind):
        return replace(value)
    container = type(value)
    if container is tuple:
        return tuple([_replaced(item, replace, kind) for item in value])
    if container is list:
        return [_replaced(item, replace, kind) for item in value]
    if container is dict:
        return {key: _replaced(item, replace, kind) for key, item in value.items()}
    return value


def _bring_kept_values(value: Any) -> None:
    """Fetch the values kept on clusters among the nodes in `value`, a batch per
    executor that can `gather`; what it cannot is fetched one by one later, where
    its error, if any, is raised."""
    found: dict[int, Node] = {}
    find_nodes(value, found)
    batches: dict[int, tuple[Any, list[RemoteValue]]] = {}
    for node in found.values():
        kept = node._value
        if type(kept) is RemoteValue and not kept.fetched and node.engine is not None:
            executor = node.engine.executor
            if hasattr(executor, "gather"):
                batches.setdefault(id(executor), (executor, []))[1].append(kept)
    for executor, kept_values in batches.values():
        if len(kept_values) < 2:
            continue
        try:
            values = executor.gather([kept.future for kept in kept_values])
        except Exception:
            continue
        for kept, fetched in zip(kept_values, values, strict=True):
            kept.settle(fetched)
