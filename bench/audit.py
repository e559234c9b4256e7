"""What the read audit costs a read (issue 3): `python -m bench.audit [--store] [--reads N]`.

The same `GET /children/{id}` (through the ASGI app, in process: the HTTP stack without
sockets) with the read audit on, and with its `record` replaced by a no-op, interleaved in
rounds so the machine's load falls on both alike; beside them the same child read by bare
eventsourcing (`repository.get` of the aggregate) and by a raw indexed SELECT of the
archive's row with sqlite3 / psycopg. The audit queues in memory and a thread writes the
queue every 0.2 s, so its cost on the read path should be the queueing alone.
"""

import argparse
import random
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from fastapi.testclient import TestClient

from bench.measure import percentile, timed
from bench.stores import STORES, fresh_url, settings_for
from domain.actor import SYSTEM
from infra.web.app import create_app
from services import commands as c

PASSWORD = "read-audit-cost-1"


def _children(services: Any, count: int) -> list[str]:
    ids = []
    for n in range(count):
        cmd = c.RegisterChild(
            name=f"张{'小晓'[n % 2]}明", sex="male", birth_date="2014-03-05",
            id_number=f"5226012014{n:06d}28", school="白沙关小学", grade="六年级",
            class_name="六(2)班", township="白沙关镇", village="白沙关村",
            left_behind_type="both_parents_away",
            guardian=c.Guardian(name="张奶奶", relation="祖母", phone=f"138{n:08d}"))
        ids.append(services.handlers.register_child(cmd, SYSTEM, None).body["id"])
    return ids


def _raw_reader(url: str, table: str) -> tuple[Callable[[str], Any], Callable[[], None]]:
    """A SELECT of the archive row by primary key, on a connection of its own."""
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
        sql = f"SELECT file FROM {table} WHERE child_id=?"
    else:
        base, schema = url.split("?schema=")
        conn = psycopg.connect(base, autocommit=True)
        sql = f'SELECT file FROM "{schema}".{table} WHERE child_id=%s'
    return (lambda cid: conn.execute(sql, (cid,)).fetchone()), conn.close


def run(store: str, children: int, reads: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {k: [] for k in ("audited", "unaudited", "bare", "raw")}
    with fresh_url(store) as url, TestClient(create_app(settings_for(url))) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        services.handlers.create_user(c.CreateUser(username="bench", password=PASSWORD,
                                                   agency="township", role="admin"),
                                      SYSTEM, None)
        ids = _children(services, children)
        services.runner.catch_up()
        token = client.post("/auth/token", data={"username": "bench", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        raw, close = _raw_reader(url, services.archive.files.split(".")[-1])
        record = services.access.record
        rnd = random.Random(7)

        def get(cid: str) -> None:
            assert client.get(f"/children/{cid}", headers=headers).status_code == 200

        try:
            for _ in range(reads // 10):  # rounds of 10 reads per variant, interleaved
                batch = [rnd.choice(ids) for _ in range(10)]
                services.access.record = record
                for cid in batch:
                    timed(lambda: get(cid), samples["audited"])
                services.access.record = lambda *a, **k: None
                for cid in batch:
                    timed(lambda: get(cid), samples["unaudited"])
                for cid in batch:
                    timed(lambda: services.app.repository.get(UUID(cid)), samples["bare"])
                    timed(lambda: raw(cid), samples["raw"])
        finally:
            services.access.record = record
            close()
        services.access.flush()
    return samples


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default=",".join(STORES))
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args(argv)
    print(f"\nread audit: GET /children/{{id}} x {args.reads} per variant, "
          f"{args.children} children")
    print("| store | audited p50/p99 ms | unaudited p50/p99 ms | bare es p50/p99 ms | "
          "raw p50/p99 ms | audited/unaudited (p50) | audited/raw (p50) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for store in args.store.split(","):
        s = {k: sorted(v) for k, v in run(store, args.children, args.reads).items()}
        p = {k: (percentile(v, 0.5) * 1000, percentile(v, 0.99) * 1000) for k, v in s.items()}
        cells = " | ".join(f"{p[k][0]:.2f}/{p[k][1]:.2f}"
                           for k in ("audited", "unaudited", "bare", "raw"))
        print(f"| {store} | {cells} | {p['audited'][0] / p['unaudited'][0]:.2f} | "
              f"{p['audited'][0] / p['raw'][0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
