"""Commands through Handlers beside bare eventsourcing and raw INSERTs, at 1, 4 and 16 threads.

python -m bench.commands --store sqlite,postgres --children 48 --visits 4 --threads 1,4,16
"""

import argparse
from collections.abc import Callable, Sequence

from bench.bare import BareWorkload
from bench.measure import Phase, Workload, drive
from bench.project import ProjectWorkload
from bench.raw import RawWorkload
from bench.stores import fresh_url

VARIANTS: dict[str, Callable[[str], Workload]] = {
    "project": ProjectWorkload, "bare": BareWorkload, "raw": RawWorkload}
WARMUP_CHILDREN = 2


def run_phase(store: str, variant: str, children: int, visits: int, threads: int) -> Phase:
    """A fresh store, a short untimed warm-up, then the timed run."""
    with fresh_url(store) as url:
        work = VARIANTS[variant](url)
        try:
            drive(work, store, WARMUP_CHILDREN, visits, 1, first=10**6)
            return drive(work, store, children, visits, threads)
        finally:
            work.close()


def run(stores: Sequence[str], children: int, visits: int, thread_counts: Sequence[int],
        repeat: int = 1) -> list[Phase]:
    """Variants interleaved per thread count, so a burst of outside load hits all three."""
    phases = []
    for store in stores:
        for threads in thread_counts:
            for _ in range(repeat):
                for variant in VARIANTS:
                    phase = run_phase(store, variant, children, visits, threads)
                    print(f"  {store:8} {variant:7} x{threads:<2} {phase.rate:8.0f} cmd/s "
                          f"p50 {phase.p50_ms:6.2f} ms  p99 {phase.p99_ms:7.2f} ms", flush=True)
                    phases.append(phase)
    return phases


def medians(phases: Sequence[Phase]) -> list[Phase]:
    """Of repeated runs, the one with the median throughput for each cell."""
    cells: dict[tuple[str, str, int], list[Phase]] = {}
    for p in phases:
        cells.setdefault((p.store, p.variant, p.threads), []).append(p)
    return [sorted(runs, key=lambda p: p.rate)[len(runs) // 2] for runs in cells.values()]


def table(phases: Sequence[Phase]) -> str:
    """A markdown table: one row per store and concurrency, ratios from the same run."""
    by = {(p.store, p.variant, p.threads): p for p in phases}
    lines = ["| store | threads | project cmd/s (p50/p99 ms) | bare cmd/s (p50/p99 ms) "
             "| raw cmd/s (p50/p99 ms) | project/bare | project/raw |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for store, threads in dict.fromkeys((p.store, p.threads) for p in phases):
        cells = [by[(store, v, threads)] for v in VARIANTS]
        shown = [f"{p.rate:.0f} ({p.p50_ms:.1f}/{p.p99_ms:.1f})" for p in cells]
        project, bare, raw = cells
        lines.append(f"| {store} | {threads} | {' | '.join(shown)} "
                     f"| {project.rate / bare.rate:.2f} | {project.rate / raw.rate:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--children", type=int, default=48)
    parser.add_argument("--visits", type=int, default=4, help="visits per child")
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; median shown")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    print(f"commands: {args.children} children x (1 registration + {args.visits} visits)")
    phases = run(args.store.split(","), args.children, args.visits, threads, args.repeat)
    if args.repeat > 1:
        print(f"median of {args.repeat} runs per cell:")
    print(table(medians(phases)), flush=True)


if __name__ == "__main__":
    main()
