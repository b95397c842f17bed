"""Workflows: a forkjoin.yaml of steps, loaded, checked and run on the engine."""
