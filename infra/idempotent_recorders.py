"""Application recorders that write an Idempotency-Key row in the events' own transaction.

A crash between the events and the key is then impossible: both commit or neither does,
and the key's primary key refuses a second writer of the same key. New seal keys
(infra/sealing.py) are written in the same transaction too, for the same reason.
"""

from typing import Any, Sequence

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from services.idempotency import IdempotencyRecord, StoredAnswer


class SealKeysWithEvents:
    """Writes the seal keys the mapper made for this save, inside the events' transaction
    (every attempt of it, retries included), and hands them to the key store's cache once
    the transaction has committed."""

    seal_keys: Any = None  # infra.sealing.KeyStore, attached by the application

    def _insert_seal_keys(self, cursor: Any) -> None:
        if self.seal_keys is not None:
            sql, rows = self.seal_keys.pending_rows()
            if rows:
                cursor.executemany(sql, rows)

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        try:
            ids = self._insert_events_in_one_transaction(stored_events, **kwargs)
        except BaseException:
            if self.seal_keys is not None:
                self.seal_keys.abandoned()
            raise
        if self.seal_keys is not None:
            self.seal_keys.committed()
        return ids

    def _insert_events_in_one_transaction(self, stored_events: Sequence[StoredEvent],
                                          **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (its transaction, its retries); the PostgreSQL recorder of
        infra/pg_persistence.py bounds the retries here, under the seal keys' bookkeeping."""
        return super().insert_events(stored_events, **kwargs)  # type: ignore[misc, no-any-return]


class IdempotentSQLiteRecorder(SealKeysWithEvents, SQLiteApplicationRecorder):
    """SQLite: stored events plus the idempotency_keys row, in one transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                "CREATE TABLE IF NOT EXISTS idempotency_keys (scope_key TEXT PRIMARY KEY, "
                "request_hash TEXT NOT NULL, status_code INTEGER NOT NULL, body TEXT NOT NULL, "
                "position INTEGER NOT NULL)"]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        self._insert_seal_keys(c)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None and ids:
            c.execute("INSERT INTO idempotency_keys VALUES (?,?,?,?,?) "
                      "ON CONFLICT (scope_key) DO NOTHING RETURNING scope_key",
                      (record.scope_key, record.request_hash, record.status_code,
                       record.body, max(ids)))
            if c.fetchone() is None:
                raise IntegrityError(f"idempotency key already used: {record.scope_key}")
        return ids

    def select_answer(self, scope_key: str) -> StoredAnswer | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT request_hash, status_code, body, position FROM idempotency_keys "
                      "WHERE scope_key=?", (scope_key,))
            row = c.fetchone()
        return StoredAnswer(*row) if row else None


class IdempotentPostgresRecorder(SealKeysWithEvents, PostgresApplicationRecorder):
    """PostgreSQL: the key row is inserted after the events, before the commit."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.keys_table = SQL("{0}.{1}").format(Identifier(self.datastore.schema),
                                                Identifier("idempotency_keys"))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {0} (scope_key text PRIMARY KEY, request_hash text "
            "NOT NULL, status_code int NOT NULL, body text NOT NULL, position bigint NOT NULL)"
        ).format(self.keys_table))

    def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow],
                                       stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self._insert_seal_keys(curs)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None and ids:
            # A plain INSERT, so a used key aborts the transaction in the server: the
            # library commits after catching errors here, and an aborted one rolls back.
            curs.execute(SQL("INSERT INTO {0} VALUES (%s,%s,%s,%s,%s) RETURNING scope_key"
                             ).format(self.keys_table),
                         (record.scope_key, record.request_hash, record.status_code,
                          record.body, max(ids)))
            curs.fetchone()
        return ids

    def select_answer(self, scope_key: str) -> StoredAnswer | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT request_hash, status_code, body, position FROM {0} "
                             "WHERE scope_key=%s").format(self.keys_table), (scope_key,))
            row = curs.fetchone()
        if row is None:
            return None
        return StoredAnswer(row["request_hash"], row["status_code"], row["body"], row["position"])
