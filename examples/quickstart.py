"""forkjoin in one page: run it with `python examples/quickstart.py`.

Eager tasks (spawn/fetch), an ordered parallel map, and a lazy graph (delayed/compute).
"""

from __future__ import annotations

import time

import forkjoin as fj


def download(url: str) -> str:
    time.sleep(0.1)  # stands in for the network
    return f"<html>{url}</html>"


def word_count(page: str) -> int:
    return len(page)


def total(*counts: int) -> int:
    return sum(counts)


def flaky_upload(count: int, attempts: list[int]) -> str:
    attempts.append(count)
    if len(attempts) < 2:
        raise ConnectionError("the upload failed once")
    return f"uploaded {count}"


def main() -> None:
    urls = [f"https://example.com/{page}" for page in range(8)]
    with fj.Session("threads", workers=8):
        began = time.perf_counter()

        # Eager: tasks start at once; a task passed as an argument is waited for.
        counts = [fj.spawn(word_count, fj.spawn(download, url)) for url in urls]
        grand_total = fj.spawn(total, *counts)
        print(f"spawn/fetch: {fj.fetch(grand_total)} characters in 8 pages")

        # map: results in item order, at most 4 at a time.
        pages = fj.map(download, urls, parallelism=4)
        print(f"map: {len(pages)} pages, first {pages[0]!r}")

        # Options: retries, timeouts and priorities, for every spawn in the block.
        attempts: list[int] = []
        with fj.options(retries=2, timeout=5):
            print(
                f"retries: {fj.fetch(fj.spawn(flaky_upload, 42, attempts))} "
                f"after {len(attempts)} attempts"
            )

        # Lazy: build a graph, run it when asked.
        lazy_counts = [fj.delayed(word_count)(fj.delayed(download)(url)) for url in urls]
        print(f"delayed/compute: {fj.delayed(total)(*lazy_counts).compute()} characters")

        print(
            f"all of it in {time.perf_counter() - began:.2f} s "
            f"(the downloads alone take {0.1 * 8 * 3:.1f} s one after another)"
        )


if __name__ == "__main__":
    main()
