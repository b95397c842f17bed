"""Pictures of graphs and runs: Mermaid, DOT, JSON and text."""

from __future__ import annotations

from forkjoin.report._draw import FORMATS, draw

__all__ = ["FORMATS", "draw"]
