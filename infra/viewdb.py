"""Where projections keep their views: the event store's own database, through its pool.

Views are written with `?` placeholders and plain SQL that SQLite and PostgreSQL share;
tracking uses the library's tracking recorder, in the view's own transaction.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore

from services.application import Qianshou


@lru_cache(maxsize=512)
def _to_pg(sql: str) -> str:
    return sql.replace("?", "%s")


class ViewCursor:
    """A cursor that speaks `?` on both stores and returns rows addressable by name."""

    def __init__(self, raw: Any, is_pg: bool) -> None:
        self.raw = raw
        self.is_pg = is_pg

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "ViewCursor":
        self.raw.execute(_to_pg(sql) if self.is_pg else sql, params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(_to_pg(sql) if self.is_pg else sql, rows)

    def fetchall(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.raw.fetchall()]

    def fetchone(self) -> dict[str, Any] | None:
        row = self.raw.fetchone()
        return dict(row) if row is not None else None


class ViewDB:
    """Transactions and tracking positions for the views of one application."""

    def __init__(self, app: Qianshou) -> None:
        self.datastore = app.factory.datastore  # type: ignore[attr-defined]
        self.is_pg = isinstance(self.datastore, PostgresDatastore)
        self.tracking = app.factory.tracking_recorder()
        self.tracking_table = (self.table(self.tracking.tracking_table_name) if self.is_pg
                               else "tracking")

    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}".{name}' if self.is_pg else name

    @contextmanager
    def transaction(self) -> Iterator[ViewCursor]:
        with self.datastore.transaction(commit=True) as raw:
            yield ViewCursor(raw, self.is_pg)

    @contextmanager
    def view_batch(self) -> Iterator[ViewCursor]:
        """A transaction of derived rows and their tracking position, committed without
        waiting for the WAL flush on PostgreSQL: a server crash can lose only whole recent
        batches (rows and position together), which the runner applies again from the
        store; other sessions see the commit at once, as with a flushed one."""
        with self.datastore.transaction(commit=True) as raw:
            cur = ViewCursor(raw, self.is_pg)
            if self.is_pg:
                cur.execute("SET LOCAL synchronous_commit TO OFF")
            yield cur

    @contextmanager
    def reading(self) -> Iterator[ViewCursor]:
        with self.datastore.transaction(commit=False) as raw:
            yield ViewCursor(raw, self.is_pg)

    def position(self, view_name: str) -> int:
        return self.tracking.max_tracking_id(view_name) or 0

    def positions(self, view_names: Sequence[str]) -> dict[str, int]:
        """Every view's committed position, in one read (0 for a view never run)."""
        with self.reading() as cur:
            return self._select_positions(cur, view_names, lock="")

    def lock_positions(self, cur: ViewCursor, view_names: Sequence[str]) -> dict[str, int]:
        """lock_position for many views in one statement (rows locked in name order)."""
        return self._select_positions(cur, sorted(view_names),
                                      lock=" ORDER BY application_name FOR UPDATE"
                                      if self.is_pg else "")

    def _select_positions(self, cur: ViewCursor, view_names: Sequence[str],
                          lock: str) -> dict[str, int]:
        if not view_names:
            return {}
        marks = ",".join("?" * len(view_names))
        rows = cur.execute(f"SELECT application_name, notification_id FROM "
                           f"{self.tracking_table} WHERE application_name IN ({marks}){lock}",
                           list(view_names)).fetchall()
        found = {r["application_name"]: int(r["notification_id"] or 0) for r in rows}
        return {name: found.get(name, 0) for name in view_names}

    def record_positions(self, cur: ViewCursor, moves: dict[str, tuple[int, int]]) -> None:
        """Move many views' positions (name: (locked, new)) in one executemany, without the
        library's answer per row (a round trip per view). Each row moves only from the
        position locked (and locked since, on PostgreSQL); the count of rows confirms it."""
        if not moves:
            return
        cur.executemany(f"UPDATE {self.tracking_table} SET notification_id=? "
                        "WHERE application_name=? AND notification_id=?",
                        [(new, name, locked) for name, (locked, new) in moves.items()])
        raw = cur.raw if self.is_pg else cur.raw.sqlite_cursor  # the library wraps sqlite3's
        if raw.rowcount != len(moves):
            raise RuntimeError(f"tracking moved by another runner: {sorted(moves)}")

    def record_position(self, cur: ViewCursor, view_name: str, position: int) -> None:
        self.tracking._insert_tracking(cur.raw, Tracking(view_name, position))

    def forget_position(self, cur: ViewCursor, view_name: str) -> None:
        cur.execute(f"UPDATE {self.tracking_table} SET notification_id=0 "
                    "WHERE application_name=?", (view_name,))

    def seed_position(self, cur: ViewCursor, view_name: str) -> None:
        """A row from the start, so a batch can lock it even before its first commit."""
        cur.execute(f"INSERT INTO {self.tracking_table} VALUES (?, 0) "
                    "ON CONFLICT (application_name) DO NOTHING", (view_name,))

    def lock_position(self, cur: ViewCursor, view_name: str) -> int:
        """The view's committed position, locked until this transaction ends.

        Two runners whose batches overlap but end at different positions would otherwise
        both pass the library's "only forwards" check. PostgreSQL locks the row; SQLite
        refuses the later writer whose snapshot is stale.
        """
        lock = " FOR UPDATE" if self.is_pg else ""
        row = cur.execute(f"SELECT notification_id FROM {self.tracking_table} "
                          f"WHERE application_name=?{lock}", (view_name,)).fetchone()
        return int(row["notification_id"]) if row else 0
