"""Memory of the API process under a steady load: its RSS sampled every few seconds.

python -m bench.soak --store postgres --minutes 10 --every 10

`qianshou serve` (1 worker, views inline) takes a steady mix over HTTP: registrations and
visits (writes) and registry pages, archive reads and emergency lookups (reads). The resident
set size of the server process and its children (uvicorn's workers, if any) is read from
/proc every interval (psutil is not a dependency), and printed as a series with its first,
last and largest value, so that growth is visible.
"""

import argparse
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import payload
from bench.server import HttpWorkload, child_body, serve
from bench.stores import fresh_url

WRITE_THREADS, READ_THREADS = 2, 1


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mib: float
    requests: int


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _own_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass  # a process gone between the listing and the read
    return 0


def rss_mib(pid: int) -> float:
    """VmRSS of the process and all its descendants (uvicorn's workers), in MiB."""
    return sum(_own_rss_kib(p) for p in [pid, *_descendants(pid)]) / 1024


def paced(rate: float, stop: threading.Event, step: Callable[[int], None],
          failures: list[BaseException]) -> None:
    """step(k) `rate` times a second until stop; a late call does not make up for lost time."""
    period, k, next_at = 1 / rate, 0, time.perf_counter()
    while not stop.is_set():
        try:
            step(k)
        except Exception as error:  # noqa: BLE001 - reported by soak() after the run
            failures.append(error)
            stop.set()
        k += 1
        next_at = max(next_at + period, time.perf_counter())
        stop.wait(max(0.0, next_at - time.perf_counter()))


class MixedLoad:
    """Per write thread: register a child, then 4 visits to it; reads of what exists."""

    def __init__(self, work: HttpWorkload) -> None:
        self.work = work
        self.registered: list[tuple[int, int]] = []  # child number, position of its answer
        self.requests = 0
        self._lock = threading.Lock()

    def write(self, thread: int, k: int) -> None:
        n = thread * 10**6 + k // 5
        if k % 5 == 0:
            answer = self.work.post("/children", child_body(n))
            with self._lock:
                self.registered.append((n, int(answer["position"])))
        else:
            self.work.visit(n, k % 5)
        self._count()

    def read(self, k: int) -> None:
        client = self.work.client()
        if not self.registered:
            return
        n, position = self.registered[k % len(self.registered)]
        # min_position: read-your-writes, as a client that just registered the child would.
        path, params = [("/children", {"limit": 50}),
                        (f"/children/{payload.child_id(n)}", {"min_position": position}),
                        ("/emergency/lookup", {"q": "zxm"})][k % 3]
        client.get(path, params=params).raise_for_status()
        self._count()

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


def soak(store: str, seconds: float, every: float, write_rate: float,
         read_rate: float) -> list[Sample]:
    with fresh_url(store) as url, serve(url, 1) as server:
        load, stop = MixedLoad(HttpWorkload(server.base_url)), threading.Event()
        failures: list[BaseException] = []
        threads = [threading.Thread(target=paced, daemon=True, args=(
            write_rate / WRITE_THREADS, stop, lambda k, t=t: load.write(t + 1, k), failures))
            for t in range(WRITE_THREADS)]
        threads += [threading.Thread(target=paced, daemon=True,
                                     args=(read_rate / READ_THREADS, stop, load.read, failures))
                    for _ in range(READ_THREADS)]
        started = time.perf_counter()
        samples = [Sample(0.0, rss_mib(server.pid), 0)]
        for thread in threads:
            thread.start()
        try:
            while time.perf_counter() - started < seconds - 1e-3 and not stop.is_set():
                time.sleep(max(0.0, started + len(samples) * every - time.perf_counter()))
                samples.append(Sample(time.perf_counter() - started, rss_mib(server.pid),
                                      load.requests))
                print(f"  {store} t={samples[-1].seconds:5.0f} s  RSS {samples[-1].rss_mib:7.1f}"
                      f" MiB  {samples[-1].requests} requests", flush=True)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            load.work.close()
    if failures:
        raise RuntimeError(f"the load failed: {failures[0]!r}") from failures[0]
    return samples


def summary(store: str, samples: Sequence[Sample]) -> str:
    first, last = samples[0], samples[-1]
    biggest = max(s.rss_mib for s in samples)
    after_warmup = samples[1] if len(samples) > 2 else first
    rate = last.requests / last.seconds if last.seconds else 0.0
    series = " ".join(f"{s.rss_mib:.0f}" for s in samples)
    return (f"| {store} | {last.seconds:.0f} | {last.requests} ({rate:.0f}/s) "
            f"| {first.rss_mib:.1f} | {after_warmup.rss_mib:.1f} | {last.rss_mib:.1f} "
            f"| {biggest:.1f} | {last.rss_mib - after_warmup.rss_mib:+.1f} | {series} |")


def table(rows: Sequence[str]) -> str:
    return "\n".join(["| store | seconds | requests | RSS first MiB | after 1st interval "
                      "| last | max | last - after 1st | series (MiB) |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---|", *rows])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="postgres")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--writes", type=float, default=40, help="writes per second")
    parser.add_argument("--reads", type=float, default=20, help="reads per second")
    args = parser.parse_args(argv)
    print(f"soak: {args.minutes:g} min of {args.writes:g} writes/s + {args.reads:g} reads/s; "
          f"RSS of `qianshou serve` (pid and children) every {args.every:g} s "
          f"(pid {os.getpid()} is the load)", flush=True)
    rows = [summary(store, soak(store, args.minutes * 60, args.every, args.writes, args.reads))
            for store in args.store.split(",")]
    print(table(rows), flush=True)


if __name__ == "__main__":
    main()
