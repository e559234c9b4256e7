"""The read audit: who read which child's file, when, which fields, and why.

Every read of a child's data is recorded (docs/DOMAIN.md §9 "Read audit"). Writing
one row inside each read would put a write on the emergency lookup's path, so reads only
append to a queue in memory and a background thread writes the queue in one transaction
every FLUSH_SECONDS. The cost: on a crash, up to FLUSH_SECONDS of read records are lost.
Break-glass reads are the exception: they are written before the read is answered.

Nothing that enters the queue may be unwritable: text that neither store can hold (NUL,
other control characters, lone surrogates, non-characters) is replaced by U+FFFD as it
enters. And should a batch still be refused by the database for what it holds (not because
the database is away), its records are written one by one and a record refused on its own
is written with every text reduced to printable ASCII: one bad record never blocks the
others or the audit page.

The table lives beside the views but is not a view: it is not derived from events, so a
projection rebuild never touches it.
"""

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, fields as dataclass_fields, replace
from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError

from domain.actor import Actor
from domain.values import utcnow
from infra.viewdb import ViewDB
from services import text

FLUSH_SECONDS = 0.2
MAX_PURPOSE = 200
NOT_PRINTABLE_ASCII = re.compile("[^\x20-\x7e]")
STORE_AWAY = (InterfaceError, OperationalError)  # keep the queue and try again later
log = structlog.get_logger()


def storable(purpose: str | None) -> str | None:
    """The text with whatever no store can hold replaced by U+FFFD (services/text.py)."""
    return text.replaced(purpose) if purpose else purpose


@dataclass(frozen=True)
class Access:
    at: str
    username: str
    role: str
    agency: str
    child_id: str
    what: str  # the route read, e.g. "GET /children/{child_id}"
    fields: tuple[str, ...]
    purpose: str | None
    break_glass: bool


class AccessLog:
    """Queue reads, write them in batches; answer who read a child's file."""

    def __init__(self, db: ViewDB) -> None:
        self.db = db
        self.table = db.table("access_log")
        self._queue: deque[Access] = deque()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0

    def create_table(self) -> None:
        serial = "BIGSERIAL" if self.db.is_pg else "INTEGER"
        with self.db.transaction() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id {serial} PRIMARY KEY, "
                        "at TEXT NOT NULL, username TEXT NOT NULL, role TEXT NOT NULL, "
                        "agency TEXT NOT NULL, child_id TEXT NOT NULL, what TEXT NOT NULL, "
                        "fields TEXT NOT NULL, purpose TEXT, break_glass BOOLEAN NOT NULL, "
                        "reviewed_by TEXT)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS access_log_child ON {self.table} "
                        "(child_id, id)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS access_log_glass ON {self.table} "
                        "(break_glass, id)")

    def record(self, actor: Actor, child_ids: list[str], what: str, fields: tuple[str, ...],
               purpose: str | None = None, break_glass: bool = False) -> None:
        if not child_ids:
            return
        at = utcnow().isoformat()
        purpose = storable(purpose[:MAX_PURPOSE]) if purpose else None
        entries = [Access(at, actor.username, actor.role, actor.agency, child_id, what, fields,
                          purpose, break_glass) for child_id in child_ids]
        if break_glass:
            self._write(entries)  # flagged reads are durable before they are answered
        else:
            self._queue.extend(entries)

    def flush(self) -> int:
        """Write what is queued. One flush at a time: a reader's flush (for_child) waits
        for the background thread's batch to commit, instead of finding the queue empty
        while that batch is still being written and reading without it."""
        with self._flushing:
            batch: list[Access] = []
            while self._queue:
                batch.append(self._queue.popleft())
            if batch:
                try:
                    self._write(batch)
                except STORE_AWAY:
                    self._queue.extendleft(reversed(batch))  # kept for the next attempt
                    raise
                except Exception:  # noqa: BLE001 - the database refused what the batch holds
                    self._write_one_by_one(batch)
            return len(batch)

    def _write_one_by_one(self, batch: list[Access]) -> None:
        """After a refused batch: each record alone, and one refused alone in plain ASCII,
        so the read is still recorded and the rest of the batch is not held back."""
        for position, entry in enumerate(batch):
            try:
                try:
                    self._write([entry])
                except STORE_AWAY:
                    raise
                except Exception:  # noqa: BLE001 - this record's text: written in ASCII
                    self._write([_ascii(entry)])
                    log.error("access_log_record_rewritten", what=entry.what)
            except STORE_AWAY:
                self._queue.extendleft(reversed(batch[position:]))
                raise

    def _write(self, entries: list[Access]) -> None:
        with self.db.transaction() as cur:
            cur.executemany(
                f"INSERT INTO {self.table} (at, username, role, agency, child_id, what, fields,"
                " purpose, break_glass) VALUES (?,?,?,?,?,?,?,?,?)",
                [(e.at, e.username, e.role, e.agency, e.child_id, e.what, json.dumps(e.fields),
                  e.purpose, e.break_glass) for e in entries])
        self.written += len(entries)

    # --- the background writer ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the store is away: keep the queue, try again
                time.sleep(FLUSH_SECONDS)

    # --- reads ----------------------------------------------------------------------------

    def for_child(self, child_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        self.flush()  # what was read a moment ago is listed too
        with self.db.reading() as cur:
            rows = cur.execute(f"SELECT * FROM {self.table} WHERE child_id=? AND id>? "
                               "ORDER BY id LIMIT ?", (child_id, after, limit)).fetchall()
        return [_shown(r) for r in rows]

    def break_glass(self, after: int, limit: int, registry_table: str,
                    reach: tuple[str, list[Any]]) -> list[dict[str, Any]]:
        """Flagged reads of children within `reach` (a clause over the registry's place
        columns, services/jurisdiction.reach_clause), oldest first, for review."""
        with self.db.reading() as cur:
            rows = cur.execute(
                f"SELECT a.* FROM {self.table} a JOIN {registry_table} r ON "
                f"r.child_id = a.child_id WHERE a.break_glass AND a.id > ? AND ({reach[0]}) "
                "ORDER BY a.id LIMIT ?", (after, *reach[1], limit)).fetchall()
        return [_shown(r) for r in rows]


def _ascii(entry: Access) -> Access:
    """The record with every text as printable ASCII (non-ASCII as '?'): always writable."""
    texts = {f.name: NOT_PRINTABLE_ASCII.sub("?", getattr(entry, f.name))
             for f in dataclass_fields(entry) if isinstance(getattr(entry, f.name), str)}
    return replace(entry, **texts, fields=tuple(NOT_PRINTABLE_ASCII.sub("?", f)
                                                for f in entry.fields))


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "fields": json.loads(row["fields"]), "break_glass": bool(row["break_glass"])}
