"""Set-based writes for a view's batch: the per-event SQL of `apply`, sent in runs.

Each statement a view's `apply` writes is queued instead of sent; a statement joins the
last run of the same SQL when no run queued after that one touches its tables, so a batch
of 1,000 events costs one executemany per distinct statement (psycopg pipelines those)
instead of a round trip per event. A read (SELECT, RETURNING) first sends everything
queued, so it sees exactly what it would have seen event by event; the order of the
statements that touch a table is never changed, so the result is the same as `apply`'s.
"""

import re
from collections.abc import Callable, Sequence
from typing import Any

from projections.view import Cursor

# The tables a write names: after INTO, UPDATE, FROM or JOIN, with an optional
# "schema". prefix (PostgreSQL). Every write of the views is written this way.
_TABLE = re.compile(r'\b(?:INTO|UPDATE|FROM|JOIN)\s+(?:"[^"]+"\.)?(?!SET\b)(\w+)', re.IGNORECASE)


def tables_of(sql: str) -> frozenset[str] | None:
    """The tables a statement touches; None (touches anything) when none is recognised."""
    found = frozenset(_TABLE.findall(sql))
    return found or None


def _is_read(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head in ("SELECT", "WITH") or "RETURNING" in sql.upper()


def _idempotent(sql: str) -> bool:
    """INSERT ... VALUES ... ON CONFLICT DO NOTHING: the same row twice in a run is a no-op
    (nothing between them touches the table), so a run keeps it once."""
    upper = sql.upper()
    return upper.lstrip().startswith("INSERT") and "DO NOTHING" in upper and "SELECT" not in upper


class _Run:
    __slots__ = ("sql", "tables", "rows", "seen")

    def __init__(self, sql: str, tables: frozenset[str] | None) -> None:
        self.sql = sql
        self.tables = tables
        self.rows: list[Sequence[Any]] = []
        self.seen: set[tuple[Any, ...]] | None = set() if _idempotent(sql) else None

    def add(self, params: Sequence[Any]) -> None:
        if self.seen is not None:
            key = tuple(params)
            try:
                if key in self.seen:
                    return
                self.seen.add(key)
            except TypeError:  # an unhashable value (a list): keep the row, as apply would
                pass
        self.rows.append(params)

    def conflicts(self, tables: frozenset[str] | None) -> bool:
        return self.tables is None or tables is None or bool(self.tables & tables)


class WriteBatch:
    """A cursor for one view's batch: writes queue up in runs, reads flush them first."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.runs: list[_Run] = []
        self._tables: dict[str, frozenset[str] | None] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)  # is_pg and the like, as the real cursor has them

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if _is_read(sql):
            self.flush()
            return self.cur.execute(sql, params)
        self._queue(sql, params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for params in rows:
            self._queue(sql, params)

    def fetchone(self) -> dict[str, Any] | None:
        return self.cur.fetchone()  # type: ignore[no-any-return]

    def fetchall(self) -> list[dict[str, Any]]:
        return self.cur.fetchall()  # type: ignore[no-any-return]

    def flush(self) -> None:
        """Send every queued run, in order."""
        for run in self.runs:
            self.cur.executemany(run.sql, run.rows)
        self.runs.clear()

    def _queue(self, sql: str, params: Sequence[Any]) -> None:
        if sql not in self._tables:
            self._tables[sql] = tables_of(sql)
        tables = self._tables[sql]
        for run in reversed(self.runs):
            if run.sql == sql:
                run.add(params)
                return
            if run.conflicts(tables):
                break  # a later statement touches these tables: keep the order
        run = _Run(sql, tables)
        run.add(params)
        self.runs.append(run)


def apply_in_runs(apply: Callable[[Any, int, Any], None], cur: Cursor,
                  events: list[tuple[int, Any]]) -> None:
    """A view's apply_batch from its per-event apply: same statements, sent in runs."""
    batch = WriteBatch(cur)
    for position, event in events:
        apply(batch, position, event)
    batch.flush()
