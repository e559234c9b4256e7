"""Reads at scale over HTTP, beside the same reads as raw indexed queries, on a generated store.

python -m bench.reads --store sqlite,postgres --children 100000 [--years 1] [--url URL]

Per store: `qianshou demo`'s generator writes the county (infra/generator.py), one child's
file grows to about 500 events, the views are built from the whole history (timed: the
rebuild rate), then `qianshou serve` answers emergency lookups of five kinds, archive reads
of the long file and registry pages to one keep-alive client (bench/keepalive.py), one
request at a time; the server's own time is read from its Server-Timing header.
In the same run, sqlite3 / psycopg run the index queries behind each read on the same view
tables; HTTP/raw is the ratio of their latencies. `--url` reuses a store generated before
(the generator skips what is already there).
"""

import argparse
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
from pypinyin import Style, lazy_pinyin

from bench.keepalive import Answer, KeepAlive
from bench.measure import percentile
from bench.server import ADMIN, PASSWORD, serve, token
from bench.stores import fresh_url, settings_for
from domain.actor import SYSTEM
from domain.child import Child
from domain.user import user_id_for
from infra.generator import FINDINGS, SUMMARIES, acting, generate, generated_id
from infra.services import Services, build_services
from projections.registry import COLUMNS
from services import commands as c

SEED = 7
LONG_FILE_EVENTS = 500
KINDS = ("name part", "full pinyin", "initials", "phone last 4", "school+class")
PAGE = 50


@dataclass(frozen=True)
class Latency:
    """One read, over HTTP and raw, in milliseconds."""

    read: str
    http: list[float]
    raw: list[float]
    server: list[float]  # the server's own time to the answer (its Server-Timing header)

    def p(self, which: str, q: float) -> float:
        return percentile(sorted(getattr(self, which)), q)


@dataclass(frozen=True)
class Scale:
    """What one store was measured on, and how long building it took."""

    store: str
    children: int
    events: int
    load_seconds: float
    views_seconds: float
    reads: list[Latency]


def add_long_file(s: Services, child_id: UUID, events: int) -> None:
    """Grow one generated file to `events` events, through the domain (visits and feedback
    over the past years), saved in one go."""
    child = s.app.load(child_id, Child, "child")
    now, todo = child.modified_on, max(0, events - child.version)
    born = datetime.combine(child.birth_date, datetime.min.time(), UTC) + timedelta(days=1)
    first = max(born, now - timedelta(days=7 * todo))
    step = (now - first) / max(todo, 1)
    with acting(SYSTEM):
        for k in range(todo):
            when = first + step * k
            if k % 2:
                child.record_parent_feedback(when, "wechat", SUMMARIES[k % len(SUMMARIES)])
            else:
                child.record_visit(when, "home", FINDINGS[k % len(FINDINGS)], False, [], True)
    s.app.save(child)


def queries(s: Services, children: int, per_kind: int) -> list[tuple[str, str, str]]:
    """(kind, q, township) from generated children picked at random: what a caller would
    type, and the township of the child sought."""
    rnd = random.Random(SEED)
    picked = [s.app.load(generated_id(SEED, "child", n), Child, "child")
              for n in rnd.sample(range(children), min(children, per_kind))]
    found = []
    for child in picked:
        name, profile = child.profile["name"], child.profile
        found += [(kind, q, profile["township"]) for kind, q in (
            ("name part", name[1:] if len(name) > 2 else name),
            ("full pinyin", "".join(lazy_pinyin(name))),
            ("initials", "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))),
            ("phone last 4", child.guardian["phone"][-4:]),
            ("school+class", f"{profile['school']} {profile['class_name']}"))]
    rnd.shuffle(found)
    return found


def prepare(s: Services, children: int, years: int) -> tuple[int, float, float]:
    """Generate (skipped if there), add the long file, build the views; the timings."""
    began = time.perf_counter()
    generate(s, children, years, SEED)
    long_id = generated_id(SEED, "child", 0)
    if s.app.load(long_id, Child, "child").version < LONG_FILE_EVENTS:
        add_long_file(s, long_id, LONG_FILE_EVENTS)
    loaded = time.perf_counter()
    s.runner.catch_up()
    built = time.perf_counter()
    if s.db.is_pg:
        # What autovacuum does after a load (this machine's server runs with it off): without
        # statistics the planner's choices, and without the visibility map the index-only
        # scans of the lookup (8 ms against 2 ms for 389 keys), are not production's.
        # A connection of its own, outside a transaction (VACUUM refuses one) and without
        # the pool's statement timeout (30 s), which the events' table at 3.6 million rows
        # outlasts: the timeout ended the first run of this bench at that size.
        schema = s.app.factory.datastore.schema  # type: ignore[attr-defined]
        with psycopg.connect(s.settings.database_url.split("?")[0], autocommit=True,
                             options="-c statement_timeout=0") as conn:
            for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE "
                                         "schemaname=%s", (schema,)).fetchall():
                conn.execute(f'VACUUM (ANALYZE) "{schema}".{table}')
    if not s.app.exists(user_id_for(ADMIN)):
        s.handlers.create_user(c.CreateUser(username=ADMIN, password=PASSWORD,
                                            agency="township", role="admin"), SYSTEM, None)
    return s.app.max_position(), loaded - began, built - loaded


def timed(call: Callable[[], Any], into: list[float]) -> Any:
    start = time.perf_counter()
    result = call()
    into.append((time.perf_counter() - start) * 1000)
    return result


class Raw:
    """The index queries behind each read, on the same view tables, with sqlite3/psycopg."""

    def __init__(self, url: str, s: Services) -> None:
        self.is_pg = s.db.is_pg
        self.conn: Any = (psycopg.connect(url.split("?")[0], autocommit=True) if self.is_pg
                          else sqlite3.connect(url.removeprefix("sqlite:///")))
        chain, archive = s.views["contact_chain"], s.views["archive"]
        self.chain = chain  # its lookup_statement: the API's own query
        self.keys, self.chain_children = chain.keys, chain.children
        self.files, self.timeline = archive.files, archive.timeline
        self.registry = s.views["registry"].children

    def warm(self, helpers: str) -> float:
        """Read the tables and indexes the reads use into memory; seconds it took. This VM
        pages out memory left idle (DAMON's pageout scheme, kdamond), page cache included:
        after half an hour idle this took 13 s on the SQLite county, 2 s right after; a
        PostgreSQL run without it, on a store idle as long, measured lookups at 6.0 / 13.8
        ms p50 / p99 against 3.9 / 8.8 ms warm. A service in use keeps its pages warm."""
        began = time.perf_counter()
        names = (self.keys, self.chain_children, self.registry, helpers, self.files)
        if self.is_pg:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            for table in names:
                schema, _, name = table.partition(".")
                for (index,) in self.conn.execute(
                        "SELECT indexname FROM pg_indexes WHERE schemaname=%s AND tablename=%s",
                        (schema.strip('"'), name)).fetchall():
                    self.conn.execute("SELECT pg_prewarm(%s)", (f"{schema}.{index}",))
                self.conn.execute("SELECT pg_prewarm(%s)", (table,))
        else:
            for table in names:
                for (index,) in self.conn.execute(
                        "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?",
                        (table,)).fetchall():
                    self.conn.execute(f"SELECT count(*) FROM {table} INDEXED BY {index}"
                                      ).fetchall()
                self.conn.execute(f"SELECT * FROM {table}").fetchall()
        return time.perf_counter() - began

    def run(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self.is_pg:
            sql = sql.replace("?", "%s")
        return self.conn.execute(sql, params).fetchall()  # type: ignore[no-any-return]

    def lookup(self, q: str, township: str | None, limit: int = 10) -> list[Any]:
        """The API's key query (exact and prefix keys by index, ranked, the best 10 ids in
        the township: a township supervisor's search; anywhere for None), then their chain
        rows: the database work of the API's lookup, but for the helpers' rows."""
        within = ("township = ?", [township]) if township else None
        ids = [r[0] for r in self.run(*self.chain.lookup_statement(q, limit, within))]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self.run(f"SELECT child_id, file, confirmed FROM {self.chain_children} "
                        f"WHERE child_id IN ({marks})", ids)

    def archive(self, child_id: str) -> list[Any]:
        self.run(f"SELECT file FROM {self.files} WHERE child_id=?", (child_id,))
        return self.run(f"SELECT entry FROM {self.timeline} WHERE child_id=? "
                        "ORDER BY position DESC", (child_id,))

    def registry_page(self, after: int) -> list[Any]:
        return self.run(f"SELECT position, {', '.join(COLUMNS)} FROM {self.registry} "
                        "WHERE position > ? ORDER BY position LIMIT ?", (after, PAGE))

    def close(self) -> None:
        self.conn.close()


def supervisors(base_url: str, admin_token: str, townships: set[str]) -> dict[str, str]:
    """A township supervisor per township, signed in: lookups are made by the supervisor of
    the sought child's township, so each one takes the API's jurisdiction path (candidates
    beyond the limit, those outside the township dropped), as most callers' lookups do."""
    tokens = {}
    for n, township in enumerate(sorted(townships)):
        username = f"bench-supervisor-{n}"
        created = httpx.post(f"{base_url}/users", timeout=30,
                             headers={"Authorization": f"Bearer {admin_token}"},
                             json={"username": username, "password": PASSWORD,
                                   "agency": "township", "role": "township_supervisor",
                                   "township": township})
        if created.status_code not in (200, 201, 409):  # 409: made by an earlier run
            raise RuntimeError(f"POST /users: {created.status_code} {created.text[:200]}")
        tokens[township] = token(base_url, username, PASSWORD)
    return tokens


def measure_reads(base_url: str, raw: Raw, asked: list[tuple[str, str, str]], long_id: str,
                  repeat: int) -> list[Latency]:
    """Each read over HTTP then raw, interleaved so both see the same moment's machine."""
    admin = token(base_url)
    searchers = {township: KeepAlive(base_url, t) for township, t in
                 supervisors(base_url, admin, {t for _, _, t in asked}).items()}
    lat: dict[str, Latency] = {}
    misses: dict[str, int] = {}

    def sample(read: str, get: Callable[[], Answer], raw_call: Callable[[], Any]) -> Any:
        found = lat.setdefault(read, Latency(read, [], [], []))
        response = timed(get, found.http)
        if response.status != 200:
            raise RuntimeError(f"{read}: HTTP {response.status} {response.text[:200]}")
        found.server.append(response.server_ms)
        timed(raw_call, found.raw)
        return response.json()

    http = KeepAlive(base_url, admin)
    try:
        for kind, q, township in asked[:20]:  # warm-up: connections, caches, first imports
            searchers[township].get("/emergency/lookup", {"q": q})
            raw.lookup(q, township)
        for kind, q, township in asked:
            hits = sample(f"lookup: {kind}",
                          lambda q=q, t=township: searchers[t].get("/emergency/lookup",
                                                                   {"q": q}),
                          lambda q=q, t=township: raw.lookup(q, t))["items"]
            if not hits:
                misses[kind] = misses.get(kind, 0) + 1
        # The same queries by the county's admin: no jurisdiction to keep to, ten hits and
        # ten chains an answer where the township's supervisor often gets fewer.
        for kind, q, _ in asked:
            sample("lookup: all kinds, admin", lambda q=q: http.get("/emergency/lookup",
                                                                    {"q": q}),
                   lambda q=q: raw.lookup(q, None))
        lookups = [v for k, v in lat.items() if k.startswith("lookup") and "admin" not in k]
        lat["lookup: all kinds"] = Latency("lookup: all kinds",
                                           [x for v in lookups for x in v.http],
                                           [x for v in lookups for x in v.raw],
                                           [x for v in lookups for x in v.server])
        after = 0
        for _ in range(repeat):
            file = sample("archive (~500 events)", lambda: http.get(f"/children/{long_id}"),
                          lambda: raw.archive(long_id))
            if len(file["timeline"]) < LONG_FILE_EVENTS - 10:
                raise RuntimeError(f"the long file has {len(file['timeline'])} entries")
            page = sample("registry page", lambda a=after: http.get(
                "/children", {"limit": PAGE, "cursor": a}),
                lambda a=after: raw.registry_page(a))
            after = int(page["next_cursor"] or 0)
    finally:
        for client in (http, *searchers.values()):
            client.close()
    if misses:
        print(f"  lookups that found nobody: {misses}")
    return list(lat.values())


def measure(store: str, children: int, years: int, per_kind: int, repeat: int,
            url: str | None = None) -> Scale:
    with (nullcontext(url) if url else fresh_url(store)) as where:
        s = build_services(settings_for(where))
        try:
            events, load_s, views_s = prepare(s, children, years)
            print(f"  {store:8} {children} children, {events} events: loaded in {load_s:.0f} s, "
                  f"views built in {views_s:.0f} s", flush=True)
            asked = queries(s, children, per_kind)
            raw = Raw(where, s)
            warmed = raw.warm(s.views["contact_chain"].helpers)
            print(f"  {store:8} tables of the reads read into memory in {warmed:.0f} s",
                  flush=True)
        finally:
            s.close()
        with closing(raw), serve(where, start_timeout=120) as server:
            reads = measure_reads(server.base_url, raw, asked, str(generated_id(SEED, "child", 0)),
                                  repeat)
        return Scale(store, children, events, load_s, views_s, reads)


def table(results: Sequence[Scale]) -> str:
    lines = ["| store | read | n | HTTP p50 ms | HTTP p99 ms | server p50 ms | server p99 ms "
             "| raw p50 ms | raw p99 ms | HTTP/raw p50 | HTTP/raw p99 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for lat in r.reads:
            h50, h99, r50, r99 = (lat.p("http", 0.5), lat.p("http", 0.99), lat.p("raw", 0.5),
                                  lat.p("raw", 0.99))
            s50, s99 = lat.p("server", 0.5), lat.p("server", 0.99)
            lines.append(f"| {r.store} | {lat.read} | {len(lat.http)} | {h50:.2f} | {h99:.2f} "
                         f"| {s50:.2f} | {s99:.2f} | {r50:.3f} | {r99:.3f} | {h50 / r50:.0f} "
                         f"| {h99 / r99:.0f} |")
    return "\n".join(lines)


def build_table(results: Sequence[Scale]) -> str:
    lines = ["| store | children | events | load s | load events/s | views built s "
             "| views events/s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.store} | {r.children} | {r.events} | {r.load_seconds:.0f} "
                     f"| {r.events / r.load_seconds:.0f} | {r.views_seconds:.0f} "
                     f"| {r.events / r.views_seconds:.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite,postgres")
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--per-kind", type=int, default=200, help="lookups of each kind")
    parser.add_argument("--repeat", type=int, default=200, help="archive reads and pages")
    parser.add_argument("--url", help="a store generated before (one store only)")
    args = parser.parse_args(argv)
    print(f"reads: {args.children} children x {args.years} year(s), generator seed {SEED}")
    results = [measure(store, args.children, args.years, args.per_kind, args.repeat, args.url)
               for store in args.store.split(",")]
    print(build_table(results))
    print(table(results), flush=True)


if __name__ == "__main__":
    main()
