"""The Python step of examples/forkjoin.yaml: `call: release:announce`."""

from __future__ import annotations


def announce(app: str, version: str, regions: list[str]) -> dict[str, str]:
    """Print the news; what it returns becomes the step's outputs."""
    print(f"{app} {version} is live in {len(regions)} regions: {', '.join(regions)}")
    return {"announced": version}
