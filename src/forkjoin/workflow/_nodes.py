"""How a step becomes engine nodes: its options, and the pool and label of its items.

Shared by the run and its prediction, so that `forkjoin plan` plays the very nodes
`forkjoin run` adds.
"""

from __future__ import annotations

from collections.abc import Sequence

from forkjoin.scheduler import Options, Pool
from forkjoin.workflow._inputs import text_of
from forkjoin.workflow._spec import Item, Step

__all__ = ["item_labels", "item_pool", "step_options"]


def step_options(step: Step) -> tuple[Options, bool]:
    """The options of a step's node, and whether it has items. Items time out and
    retry one by one; a step with items only waits for them."""
    has_items = step.for_each is not None or step.matrix is not None
    options = Options(
        name=step.id,
        priority=step.priority,
        timeout=None if has_items else step.timeout,
        retries=0 if has_items else step.retries,
    )
    return options, has_items


def item_pool(step: Step, pools: dict[str, Pool]) -> Pool | None:
    """The pool of a step's items: their own at `parallelism`, else the step's."""
    if step.parallelism is not None:
        return Pool(f"{step.id}:items", step.parallelism)
    return None if step.pool is None else pools[step.pool]


def item_labels(step: Step, items: Sequence[Item | dict[str, Item]]) -> list[str]:
    """The label of each item, in order: `deploy/eu-west-1` for an item,
    `test/os=linux,py=3.11` for a matrix combination.

    Labels key the lines held for `--output grouped`, the progress display and the
    history, so each is one printable line (a newline shows as `\\n`) and each is its
    own: a repeated item is `deploy/eu#2`, then `#3`, never a label another item has.
    """
    wanted = [_printable(_label_of(step, item)) for item in items]
    names = set(wanted)
    numbers: dict[str, int] = {}  # the last number given to each repeated label
    labels: list[str] = []
    for label in wanted:
        if label in numbers:
            number = numbers[label] + 1
            while f"{label}#{number}" in names:  # an item of that name, which keeps it
                number += 1
            numbers[label] = number
            label = f"{label}#{number}"
        else:
            numbers[label] = 1
        labels.append(label)
    return labels


def _label_of(step: Step, item: Item | dict[str, Item]) -> str:
    if isinstance(item, dict):
        return f"{step.id}/" + ",".join(f"{key}={text_of(value)}" for key, value in item.items())
    return f"{step.id}/{text_of(item)}"


def _printable(text: str) -> str:
    """`text` with each character a terminal would act on written as its escape."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
