"""Drive a workload from N threads and summarise throughput and latency."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol


class Workload(Protocol):
    name: str

    def register(self, n: int) -> None: ...

    def visit(self, n: int, k: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Phase:
    """One variant on one store at one concurrency."""

    store: str
    variant: str
    threads: int
    commands: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.commands / self.seconds


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def timed(call: Callable[[], object], into: list[float]) -> None:
    """Append how long call() took, in seconds."""
    start = time.perf_counter()
    call()
    into.append(time.perf_counter() - start)


def drive(work: Workload, store: str, children: int, visits: int, threads: int,
          first: int = 0) -> Phase:
    """Each thread takes every threads-th child: register it, then record its visits."""
    samples: list[list[float]] = [[] for _ in range(threads)]

    def worker(t: int) -> None:
        for n in range(first + t, first + children, threads):
            timed(lambda: work.register(n), samples[t])
            for k in range(visits):
                timed(lambda: work.visit(n, k), samples[t])

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    seconds = time.perf_counter() - start
    flat = sorted(s for per in samples for s in per)
    return Phase(store, work.name, threads, len(flat), seconds,
                 percentile(flat, 0.50) * 1000, percentile(flat, 0.99) * 1000)
