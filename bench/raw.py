"""Raw SQL: the same stored rows inserted by sqlite3 or psycopg, one transaction a command."""

import sqlite3
import threading
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
from eventsourcing.application import Application

from bench import payload
from bench.bare import BareChild
from bench.stores import PG_URL
from infra.settings import sqlite_path


def stored_rows() -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    """Topic and state bytes of a registration and of a visit, as the library encodes them."""
    mapper = Application().mapper
    child = BareChild.register(payload.child_id(0), 0)
    child.record_visit(payload.visit_body(0))
    reg, visit = (mapper.to_stored_event(e) for e in child.collect_events())
    return (reg.topic, reg.state), (visit.topic, visit.state)


class RawWorkload:
    """Rows shaped like the library's table, with no lock, no read and no mapper."""

    name = "raw"

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.connections: list[Any] = []
        self.lock = threading.Lock()
        # SQLite admits one writer: queue them here, as the library's connection pool does,
        # rather than in sqlite3's busy handler, whose sleeps grow to 100 ms.
        self.writer = threading.Lock()
        (self.reg_topic, self.reg_state), (self.visit_topic, self.visit_state) = stored_rows()
        self.is_pg = url.startswith("postgresql://")
        if self.is_pg:
            self.schema = parse_qs(urlparse(url).query)["schema"][0]
            self.insert = (f'INSERT INTO "{self.schema}".events (originator_id, '
                           "originator_version, topic, state) VALUES (%s, %s, %s, %s)")
        else:
            self.insert = "INSERT INTO events VALUES (?, ?, ?, ?)"
        self._create_table()

    def _create_table(self) -> None:
        if self.is_pg:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                conn.execute(f'CREATE TABLE "{self.schema}".events (notification_id bigserial, '
                             "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
                             "topic text NOT NULL, state bytea, "
                             "PRIMARY KEY (originator_id, originator_version))")
                conn.execute(f'CREATE UNIQUE INDEX ON "{self.schema}".events (notification_id)')
            return
        conn = self._connection()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE events (originator_id TEXT, originator_version INTEGER, "
                     "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")

    def _connection(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.is_pg:
                conn = psycopg.connect(PG_URL, autocommit=True)
            else:
                conn = sqlite3.connect(sqlite_path(self.url), timeout=10,
                                       check_same_thread=False)
            self.local.conn = conn
            with self.lock:
                self.connections.append(conn)
        return conn

    def _write(self, n: int, version: int, topic: str, state: bytes) -> None:
        conn = self._connection()
        oid = payload.child_id(n) if self.is_pg else str(payload.child_id(n))
        if self.is_pg:
            with conn.transaction():
                conn.execute(self.insert, (oid, version, topic, state))
        else:
            with self.writer, conn:  # sqlite3: one implicit transaction, committed here
                conn.execute(self.insert, (oid, version, topic, state))

    def register(self, n: int) -> None:
        self._write(n, 1, self.reg_topic, self.reg_state)

    def visit(self, n: int, k: int) -> None:
        self._write(n, k + 2, self.visit_topic, self.visit_state)

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
