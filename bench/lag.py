"""Projection lag under a steady write load: a guardian's new phone, until the chain shows it.

python -m bench.lag --store sqlite,postgres --samples 200 --rate 50

`qianshou serve` (1 worker, views inline) takes a steady stream of visits over HTTP. Meanwhile
one client changes a child's guardian (POST /children/{id}/guardian) and, from the moment the
answer arrives, polls the contact-chain view's row until it holds the new phone, and the views'
tracking table until every view has reached the answer's `position`. The poll reads the view
tables directly (a connection of its own, every 0.5 ms), not the API, so that HTTP round trips
do not blur a lag of a few milliseconds; the last phone is checked once through the API.
"""

import argparse
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from bench import payload
from bench.measure import percentile
from bench.server import HttpWorkload, serve
from bench.stores import PG_URL, fresh_url, settings_for
from infra.services import build_services
from infra.settings import sqlite_path

LOAD_CHILDREN, SAMPLE_CHILDREN = 20, 10
POLL_SECONDS, GIVE_UP_SECONDS = 0.0005, 5.0


@dataclass
class Lag:
    store: str
    load_rate: float  # visits/s actually achieved during the samples
    command_ms: list[float]  # the guardian change's own latency
    phone_ms: list[float]  # answer received -> new phone in the contact-chain view
    views_ms: list[float]  # answer received -> every view's tracking position >= position
    timeouts: int


class ViewPoller:
    """One connection of its own, reading the chain row and the lowest tracking position."""

    def __init__(self, url: str) -> None:
        services = build_services(settings_for(url))  # the runner is not started here
        try:
            chain = services.views["contact_chain"].children
            tracking, views = services.db.tracking_table, [v.name for v in services.runner.views]
        finally:
            services.close()
        if url.startswith("sqlite:///"):
            self.conn: Any = sqlite3.connect(sqlite_path(url), isolation_level=None,
                                             check_same_thread=False)
            mark = "?"
        else:
            self.conn = psycopg.connect(PG_URL, autocommit=True)
            mark = "%s"
        self.chain_sql = f"SELECT file FROM {chain} WHERE child_id={mark}"
        # Only the views' rows: the table also holds the library's migration marker.
        names = ", ".join(f"'{name}'" for name in views)
        self.tracking_sql = (f"SELECT min(notification_id) FROM {tracking} "
                             f"WHERE application_name IN ({names})")

    def phone_shown(self, child_id: str, phone: str) -> bool:
        row = self.conn.execute(self.chain_sql, (child_id,)).fetchone()
        return row is not None and phone in row[0]

    def views_at(self) -> int:
        return int(self.conn.execute(self.tracking_sql).fetchone()[0] or 0)

    def close(self) -> None:
        self.conn.close()


def steady_load(work: HttpWorkload, rate: float, stop: threading.Event,
                done: list[int], threads: int = 2) -> list[threading.Thread]:
    """Visits at `rate` per second in all, paced on a clock (a late one does not catch up)."""

    def run(t: int) -> None:
        period, k = threads / rate, 0
        next_at = time.perf_counter() + t * period / threads
        while not stop.is_set():
            work.visit(10**6 + 100 + (k * threads + t) % LOAD_CHILDREN, k % 40)
            done[t] += 1
            k += 1
            next_at = max(next_at + period, time.perf_counter())
            stop.wait(max(0.0, next_at - time.perf_counter()))

    started = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for thread in started:
        thread.start()
    return started


def _until(check: Callable[[], bool], since: float) -> float | None:
    """Milliseconds from `since` until check() holds; None after GIVE_UP_SECONDS."""
    while True:
        if check():
            return (time.perf_counter() - since) * 1000
        if time.perf_counter() - since > GIVE_UP_SECONDS:
            return None
        time.sleep(POLL_SECONDS)


def guardian(phone: str) -> dict[str, Any]:
    return {**payload.child_body(0)["guardian"], "phone": phone}


def sample(work: HttpWorkload, poller: ViewPoller, k: int, into: Lag) -> None:
    n = 10**6 + 200 + k % SAMPLE_CHILDREN
    child_id, phone = str(payload.child_id(n)), f"139{k:08d}"
    sent = time.perf_counter()
    position = int(work.post(f"/children/{child_id}/guardian", guardian(phone))["position"])
    answered = time.perf_counter()
    into.command_ms.append((answered - sent) * 1000)
    shown = _until(lambda: poller.phone_shown(child_id, phone), answered)
    caught_up = _until(lambda: poller.views_at() >= position, answered)
    if shown is None or caught_up is None:
        into.timeouts += 1
        return
    into.phone_ms.append(shown)
    into.views_ms.append(caught_up)


def check_visible(work: HttpWorkload, child_id: str, phone: str) -> None:
    """The API shows what the poller saw: the chain's guardian has the last phone."""
    response = work.client().get(f"/children/{child_id}/contact-chain")
    response.raise_for_status()
    phones = [entry.get("phone") for entry in response.json()["chain"]]
    if phone not in phones:
        raise RuntimeError("the API's contact chain does not show the last guardian phone")


def measure(store: str, samples: int, rate: float) -> Lag:
    with fresh_url(store) as url:
        poller = ViewPoller(url)  # builds the tables, so before the server starts
        with serve(url, 1) as server:
            return _measure(store, server.base_url, poller, samples, rate)


def _measure(store: str, base_url: str, poller: ViewPoller, samples: int, rate: float) -> Lag:
    work = HttpWorkload(base_url)
    for n in range(LOAD_CHILDREN):
        work.register(10**6 + 100 + n)
    for n in range(SAMPLE_CHILDREN):
        work.register(10**6 + 200 + n)
    stop, done = threading.Event(), [0, 0]
    loaders = steady_load(work, rate, stop, done)
    result = Lag(store, 0.0, [], [], [], 0)
    try:
        time.sleep(0.5)  # the load reaches its pace
        before, started = sum(done), time.perf_counter()
        for k in range(samples):
            sample(work, poller, k, result)
            time.sleep(random.uniform(0.01, 0.04))  # not in step with the runner's poll
        result.load_rate = (sum(done) - before) / (time.perf_counter() - started)
    finally:
        stop.set()
        for thread in loaders:
            thread.join()
        poller.close()
    last = samples - 1
    check_visible(work, str(payload.child_id(10**6 + 200 + last % SAMPLE_CHILDREN)),
                  f"139{last:08d}")
    work.close()
    return result


def _pcts(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return (f"{percentile(ordered, 0.5):.1f} / {percentile(ordered, 0.99):.1f} / "
            f"{ordered[-1]:.1f}")


def table(results: Sequence[Lag]) -> str:
    lines = ["| store | load visits/s | samples | guardian change p50/p99/max ms "
             "| phone in chain p50/p99/max ms | all views p50/p99/max ms | timeouts |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.store} | {r.load_rate:.0f} | {len(r.phone_ms)} "
                     f"| {_pcts(r.command_ms)} | {_pcts(r.phone_ms)} | {_pcts(r.views_ms)} "
                     f"| {r.timeouts} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50, help="steady visits per second")
    args = parser.parse_args(argv)
    print(f"lag: {args.samples} guardian changes under {args.rate:.0f} visits/s "
          "(times from the answer of the change)", flush=True)
    results = []
    for store in args.store.split(","):
        results.append(measure(store, args.samples, args.rate))
        print(f"  {store}: done", flush=True)
    print(table(results), flush=True)


if __name__ == "__main__":
    main()
