"""The process of a `call:` step: import the function, call it, write its outputs.

`forkjoin run` starts `python -m forkjoin._call_step` for a `call:` step, as it
starts `sh -c` for a `run:` step, so a Python step has what a shell step has: its own
output pipe and log file, a process group that Ctrl-C and timeouts reach, retries.
It sits outside `forkjoin.workflow` so that its start imports nothing else of
forkjoin. The parent passes, in the environment:

- FORKJOIN_CALL: `package.module:function`;
- FORKJOIN_CALL_WITH: the keyword arguments, as a JSON object;
- FORKJOIN_CALL_PATH: the workflow's folder, searched first for the module;
- FORKJOIN_OUTPUT: where outputs go, one `key=value` line each.

A mapping returned becomes the step's outputs (a value that is not text as JSON);
any other value but None becomes the output `value`. Exit codes: 0 when the function
returns, 1 when it raises (its traceback is the step's output, as pytest shows a
test's), 2 when the function cannot be found.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["main", "output_lines"]


def output_lines(returned: object) -> str:
    """The `key=value` lines of what the function returned."""
    if returned is None:
        return ""
    pairs = returned.items() if isinstance(returned, Mapping) else [("value", returned)]
    return "".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value)}\n" for key, value in pairs
    )


def _function(target: str) -> Callable[..., Any]:
    """The function `package.module:function` names; SystemExit(2) with one line if none."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        print(
            f"forkjoin: cannot import `{module_name}` for `call: {target}`: {error}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        what = "nothing" if function is None else type(function).__name__
        print(
            f"forkjoin: `{module_name}` has no function `{attribute}` ({what} by that name)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return function  # type: ignore[no-any-return]


def main() -> int:
    target = os.environ["FORKJOIN_CALL"]
    keywords = json.loads(os.environ.get("FORKJOIN_CALL_WITH") or "{}")
    sys.path.insert(0, os.environ.get("FORKJOIN_CALL_PATH") or os.getcwd())
    function = _function(target)
    try:
        returned = function(**keywords)
    except Exception:
        traceback.print_exc()
        return 1
    lines = output_lines(returned)
    if lines:
        with open(os.environ["FORKJOIN_OUTPUT"], "a", encoding="utf-8") as outputs:
            outputs.write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
