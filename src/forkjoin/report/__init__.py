"""Pictures of graphs and runs: Mermaid, DOT, JSON and text."""
