"""The graph `forkjoin demo` runs: fetch, parse and summarise some fake reports."""

from __future__ import annotations

import time

import click

import forkjoin as fj

REGIONS = ("eu-west", "us-east", "ap-south", "sa-east", "af-south", "me-central")


def download(region: str) -> str:
    time.sleep(0.2)  # stands in for I/O: threads overlap it
    return f"{region}: " + ",".join(str(len(region) * i) for i in range(1, 6))


def parse(report: str) -> list[int]:
    return [int(value) for value in report.split(": ")[1].split(",")]


def summarise(*tables: list[int]) -> dict[str, int]:
    values = [value for table in tables for value in table]
    return {"reports": len(tables), "values": len(values), "total": sum(values)}


def run_demo(executor: str, workers: int | None) -> None:
    """Six downloads of 0.2 s, parsed as they arrive, then one summary."""
    began = time.perf_counter()
    with fj.Session(executor, workers=workers) as session:
        parsed = [fj.spawn(parse, fj.spawn(download, region)) for region in REGIONS]
        summary = fj.fetch(fj.spawn(summarise, *parsed))
        slots = session.engine.max_concurrency
    elapsed = time.perf_counter() - began
    serial = 0.2 * len(REGIONS)
    click.echo(f"{len(REGIONS) * 2 + 1} tasks on {executor} ({slots} at once): {summary}")
    click.echo(f"took {elapsed:.2f} s; one after another the downloads alone take {serial:.1f} s")
