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

from infra.set_statements import (DELETE_WHERE_ONE, INSERT_OR_NOTHING, UPSERT, Columns,
                                  UpsertPlan, copy_sql, delete_any_sql, normalized,
                                  unnest_sql, upsert_plan)
from services.application import Qianshou


@lru_cache(maxsize=512)
def _to_pg(sql: str) -> str:
    return sql.replace("?", "%s")


SET_MIN_ROWS = 4  # below this, executemany's pipeline is as quick
_column_types: dict[str, Columns] = {}  # table -> (column, type), in order
_unique_index_counts: dict[str, int] = {}  # table -> how many unique indexes it has
_upsert_plans: dict[str, UpsertPlan | None] = {}  # by statement


class ViewCursor:
    """A cursor that speaks `?` on both stores and returns rows addressable by name."""

    def __init__(self, raw: Any, is_pg: bool, pipelined: bool = False) -> None:
        self.raw = raw
        self.is_pg = is_pg
        self.pipelined = pipelined  # PostgreSQL's pipeline mode: no COPY inside it

    def execute(self, sql: str, params: Sequence[Any] = ()) -> "ViewCursor":
        self.raw.execute(_to_pg(sql) if self.is_pg else sql, params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not self.is_pg:
            self.raw.executemany(sql, rows)
        elif len(rows) < SET_MIN_ROWS or not self._as_one_statement(sql, rows):
            self.raw.executemany(_to_pg(sql), rows)

    def _as_one_statement(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        """The run as one statement (infra/set_statements.py); False to send it row by row."""
        return (self._copy(sql, rows) or self._unnest(sql, rows) or self._upsert(sql, rows)
                or self._delete(sql, rows))

    def _copy(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        statement = None if self.pipelined else copy_sql(sql)
        if statement is None:
            return False
        with self.raw.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return True

    def _unnest(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        match = INSERT_OR_NOTHING.fullmatch(sql.strip())
        if match is None:
            return False
        statement = unnest_sql(match, self._columns(match[1]))
        if statement is None:
            return False
        self.raw.execute(statement, [list(column) for column in zip(*rows)])
        return True

    def _upsert(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        if sql not in _upsert_plans:
            match = UPSERT.fullmatch(normalized(sql))
            _upsert_plans[sql] = None if match is None else upsert_plan(
                match, self._columns(match[1]), self._unique_indexes(match[1]))
        plan = _upsert_plans[sql]
        merged = None if plan is None else plan.merge(rows)
        if plan is None or merged is None:
            return False
        self.raw.execute(plan.sql, [list(column) for column in zip(*merged)])
        return True

    def _delete(self, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
        match = DELETE_WHERE_ONE.fullmatch(sql.strip())
        statement = None if match is None else delete_any_sql(match, self._columns(match[1]))
        if statement is None:
            return False
        self.raw.execute(statement, [list(dict.fromkeys(row[0] for row in rows))])
        return True

    def _columns(self, table: str) -> Columns:
        if table not in _column_types:
            self.raw.execute("SELECT attname, format_type(atttypid, atttypmod) AS type FROM "
                             "pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND "
                             "NOT attisdropped ORDER BY attnum", (table,))
            _column_types[table] = [(r["attname"], r["type"]) for r in self.raw.fetchall()]
        return _column_types[table]

    def _unique_indexes(self, table: str) -> int:
        if table not in _unique_index_counts:
            self.raw.execute("SELECT count(*) AS n FROM pg_index WHERE indrelid = %s::regclass "
                             "AND indisunique", (table,))
            _unique_index_counts[table] = int(self.raw.fetchone()["n"])
        return _unique_index_counts[table]

    def fetchall(self) -> list[dict[str, Any]]:
        rows = self.raw.fetchall()
        # psycopg's rows are dicts already (the datastore's dict_row), each new: not copied
        return rows if self.is_pg else [dict(r) for r in rows]  # type: ignore[no-any-return]

    def fetchone(self) -> dict[str, Any] | None:
        row = self.raw.fetchone()
        if row is None or self.is_pg:
            return row  # type: ignore[no-any-return]
        return dict(row)


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
    def view_batch(self, pipelined: bool = False) -> Iterator[ViewCursor]:
        """A transaction of derived rows and their tracking position, committed without
        waiting for the WAL flush on PostgreSQL: a server crash can lose only whole recent
        batches (rows and position together), which the runner applies again from the
        store; other sessions see the commit at once, as with a flushed one.

        `pipelined` (PostgreSQL): writes are sent without waiting for their answers, and
        only a read waits, for everything sent before it. For the few events after a
        command, where a round trip per statement was most of the time; a long batch's
        runs of rows go faster as COPY, which a pipeline cannot carry."""
        if not self.is_pg:
            with self._sqlite_view_batch() as cur:
                yield cur
            return
        with self.datastore.transaction(commit=True) as raw:
            if pipelined:
                with raw.connection.pipeline():
                    yield self._without_wal_wait(ViewCursor(raw, True, pipelined=True))
            else:
                yield self._without_wal_wait(ViewCursor(raw, True))

    @contextmanager
    def _sqlite_view_batch(self) -> Iterator[ViewCursor]:
        """SQLite's counterpart of synchronous_commit off: this connection commits the batch
        without waiting for the disk (synchronous=NORMAL, per connection), and is set back
        before it returns to the pool. WAL keeps the batch whole or absent after a power
        cut, and the events it was built from were synced by their own commits first. The
        sync was a fifth of a server's time under one client's commands (py-spy)."""
        with self.datastore.get_connection(commit=True) as conn:
            pragmas = conn.cursor()
            pragmas.execute("PRAGMA synchronous")
            was = pragmas.fetchone()[0]
            pragmas.execute("PRAGMA synchronous=NORMAL")
            try:
                with conn.transaction(commit=True) as raw:
                    # A write first, which waits for the write lock (SQLite's FOR UPDATE of
                    # the positions): a batch that read first, while another process's
                    # runner committed, could not then write ("database is locked", at once).
                    raw.execute(f"UPDATE {self.tracking_table} SET notification_id = "
                                "notification_id WHERE 0")
                    yield ViewCursor(raw, False)
            finally:
                pragmas.execute(f"PRAGMA synchronous={int(was)}")

    @staticmethod
    def _without_wal_wait(cur: ViewCursor) -> ViewCursor:
        cur.execute("SET LOCAL synchronous_commit TO OFF")
        return cur

    @contextmanager
    def reading(self) -> Iterator[ViewCursor]:
        """Reads. On PostgreSQL without BEGIN and ROLLBACK: under READ COMMITTED a
        transaction gives its statements no common snapshot anyway, and the two round trips
        were a fifth of an emergency lookup. SQLite's read transaction is its snapshot."""
        if self.is_pg:
            with self.datastore.cursor() as raw:
                yield ViewCursor(raw, True)
            return
        with self.datastore.transaction(commit=False) as raw:
            yield ViewCursor(raw, False)

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
        rows = [(name, locked, new) for name, (locked, new) in moves.items()]
        # One statement; the rows it names back confirm the moves (a pipeline has no
        # rowcount until its results are read).
        moved = cur.execute(
            f"UPDATE {self.tracking_table} SET notification_id = m.column3 FROM (VALUES "
            + ",".join("(?,?,?)" for _ in rows) + ") AS m WHERE application_name = m.column1 "
            "AND notification_id = m.column2 RETURNING application_name",
            [v for row in rows for v in row]).fetchall()
        if len(moved) != len(moves):
            raise RuntimeError(f"tracking moved by another runner: {sorted(moves)}")

    def record_position(self, cur: ViewCursor, view_name: str, position: int) -> None:
        self.tracking._insert_tracking(cur.raw, Tracking(view_name, position))

    def create_versions_table(self) -> None:
        """In a transaction of its own, so that view_versions can open its own with a
        write (a CREATE … IF NOT EXISTS of a table that exists only reads)."""
        with self.transaction() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table('view_versions')} "
                        "(name TEXT PRIMARY KEY, version INTEGER)")

    def view_versions(self, cur: ViewCursor, view_names: Sequence[str]) -> dict[str, int]:
        """The version each view's tables were built by (1 for those built before versions
        were recorded), as the first statements of the caller's transaction and under a
        lock, so that processes starting together (uvicorn's workers) rebuild a changed view
        once. On SQLite the first statement is a write: a deferred transaction that read
        first could not take the write lock once another process had written (it fails at
        once, "database is locked", instead of waiting)."""
        table = self.table("view_versions")
        if self.is_pg:
            cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cur.executemany(f"INSERT INTO {table} VALUES (?, NULL) ON CONFLICT (name) DO NOTHING",
                        [(name,) for name in view_names])
        rows = cur.execute(f"SELECT name, version FROM {table}").fetchall()
        return {r["name"]: int(r["version"] or 1) for r in rows}

    def record_version(self, cur: ViewCursor, view_name: str, version: int) -> None:
        cur.execute(f"UPDATE {self.table('view_versions')} SET version=? WHERE name=?",
                    (version, view_name))

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
