"""Projection rebuild beside the store's raw read-and-decode rate, on both stores.

python -m bench.rebuild --store sqlite,postgres --children 2000
"""

import argparse
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench import payload
from bench.stores import fresh_url, settings_for
from domain.child import Child
from infra.services import Services, build_services

SAVE_BATCH = 50  # children per app.save: one transaction of ~750 events


@dataclass(frozen=True)
class Rebuild:
    """Events/s of the whole rebuild and of reading and decoding the same events."""

    store: str
    events: int
    load_seconds: float
    read_seconds: float
    rebuild_seconds: float

    @property
    def read_rate(self) -> float:
        return self.events / self.read_seconds

    @property
    def rebuild_rate(self) -> float:
        return self.events / self.rebuild_seconds


def child_history(n: int) -> Child:
    """15 events through the domain: registration, 8 visits, 4 feedbacks, 2 exam results."""
    profile, guardian, parents = payload.registration_parts(n)
    child = Child.register(profile, guardian, parents, payload.child_id(n))
    start = payload.VISIT_START
    for k in range(8):
        child.record_visit(start + timedelta(days=14 * k), "home", f"第{k + 1}次走访：一切正常。",
                           False, [guardian["phone"]])
        if k % 2:
            child.record_parent_feedback(start + timedelta(days=14 * k + 1), "wechat",
                                         "向父母反馈了孩子近况。")
    child.record_exam_result(2025, 1, 420.5, 1 + n % 40, 40)
    child.record_exam_result(2025, 2, 431.0, 1 + (n * 7) % 40, 40)
    return child


def load_history(s: Services, children: int) -> None:
    """Bulk path: aggregates built by the domain, saved 50 children per transaction."""
    for first in range(0, children, SAVE_BATCH):
        s.app.save(*(child_history(n) for n in range(first, min(first + SAVE_BATCH, children))))


def read_and_decode(app: Any) -> int:
    """The ceiling: every notification read in batches of 1000 and mapped to an event."""
    count, start = 0, 1
    while notifications := app.recorder.select_notifications(start, 1000):
        for n in notifications:
            app.mapper.to_domain_event(n)
        count += len(notifications)
        start = notifications[-1].id + 1
    return count


def measure(store: str, children: int, profile: bool = False) -> Rebuild:
    with fresh_url(store) as url:
        s = build_services(settings_for(url))
        try:
            began = time.perf_counter()
            load_history(s, children)
            loaded = time.perf_counter()
            s.runner.catch_up()  # views full, as before a real rebuild; also warms the cache
            read_started = time.perf_counter()
            events = read_and_decode(s.app)
            read_seconds = time.perf_counter() - read_started
            with profiled(profile, store):
                rebuild_started = time.perf_counter()
                rebuilt = s.runner.rebuild()
                rebuild_seconds = time.perf_counter() - rebuild_started
            assert rebuilt == events, (rebuilt, events)
            return Rebuild(store, events, loaded - began, read_seconds, rebuild_seconds)
        finally:
            s.close()


@contextmanager
def profiled(enabled: bool, store: str) -> Iterator[None]:
    """With --profile, pyinstrument's call tree of the rebuild (where the time goes)."""
    if not enabled:
        yield
        return
    from pyinstrument import Profiler  # a test extra, only needed for --profile

    with Profiler(interval=0.0005) as profiler:
        yield
    print(f"--- profile of the {store} rebuild ---")
    print(profiler.output_text(color=False, show_all=False, short_mode=False))


def table(results: Sequence[Rebuild]) -> str:
    lines = ["| store | events | load events/s | read+decode events/s | rebuild events/s "
             "| rebuild/read |", "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.store} | {r.events} | {r.events / r.load_seconds:.0f} "
                     f"| {r.read_rate:.0f} | {r.rebuild_rate:.0f} "
                     f"| {r.rebuild_rate / r.read_rate:.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="print pyinstrument's profile")
    args = parser.parse_args(argv)
    print(f"rebuild: {args.children} children x 15 events, all views of build_services")
    results = []
    for store in args.store.split(","):
        result = measure(store, args.children, args.profile)
        print(f"  {store:8} {result.events} events: read {result.read_rate:.0f}/s, "
              f"rebuild {result.rebuild_rate:.0f}/s", flush=True)
        results.append(result)
    print(table(results), flush=True)


if __name__ == "__main__":
    main()
