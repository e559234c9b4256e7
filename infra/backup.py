"""Backup and restore of the event store: JSON lines in store order, with the hash chain head.

The file, one JSON object a line:
  line 1  header   {"format": "qianshou-events", "version": 1, "until_position", "exported_at"}
  then    events   {"position", "originator_id", "originator_version", "topic",
                    "state" (the stored JSON) or "state_b64", "link"}
  last    trailer  {"events", "position", "head_hash"}

Beside it, FILE.keys holds the seal keys (infra/sealing.py) as JSON: without them every
sealed personal field would restore as erased. It is a file of its own so that it can be
kept, and destroyed, apart from the events: an erasure after a backup is completed by
erasing that child's rows from the backup's keys file, while the events file stays whole.

`link` is the ledger's chain link after that event (projections/ledger.next_link over the
stored bytes, the same chain as GET /audit/ledger), so an altered or missing line is found
at its own line, and the trailer's head_hash is the chain head of the whole store. Events
keep their positions on import: the views, the ledger and the answers already given to
clients all name positions.
"""

import base64
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from projections.ledger import GENESIS, next_link

FORMAT, VERSION = "qianshou-events", 1
BATCH = 1000
Progress = Callable[[int], None]  # called with how many positions were passed


class BackupError(Exception):
    """The file is refused: where (line, and the last good position) and why."""

    def __init__(self, line: int, position: int | None, reason: str, *,
                 after: bool = False) -> None:
        # after: the line could not be read, so only the last good position is known.
        where = f"line {line}" + (f" ({'after ' if after else ''}position {position})"
                                  if position is not None else "")
        super().__init__(f"{where}: {reason}")
        self.line, self.position, self.reason = line, position, reason


class StoreNotEmpty(Exception):
    """Events are only imported into an empty store."""


@dataclass(frozen=True)
class Summary:
    events: int
    position: int
    head_hash: str | None


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Header(_Line):
    format: str
    version: int
    until_position: int
    exported_at: str


class EventLine(_Line):
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: dict[str, Any] | None = None
    state_b64: str | None = None
    link: str


class Trailer(_Line):
    events: int
    position: int
    head_hash: str | None


# --- export --------------------------------------------------------------------------------


def _state_fields(state: bytes) -> dict[str, Any]:
    """The stored JSON as an object when it re-encodes to the very same bytes, else base64."""
    try:
        obj = json.loads(state)
        if isinstance(obj, dict) and _canonical(obj) == state:
            return {"state": obj}
    except ValueError:
        pass
    return {"state_b64": base64.b64encode(state).decode()}


def _canonical(obj: dict[str, Any]) -> bytes:
    # The library's JSONTranscoder writes compact, non-ASCII-escaped JSON in insertion order.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def keys_path(path: Path) -> Path:
    return path.with_name(path.name + ".keys")


def export_events(recorder: Any, path: Path, progress: Progress | None = None,
                  keys: Any = None) -> Summary:
    """Write every stored event up to the store's current last position.

    Written to FILE.partial and renamed at the end, so a failed export never leaves a file
    that looks whole; readable by the owner only (it holds children's personal data).
    """
    until = recorder.max_notification_id() or 0
    partial = path.with_name(path.name + ".partial")
    link, count, last = GENESIS, 0, 0
    with open(partial, "w", encoding="utf-8") as out:
        os.chmod(partial, 0o600)
        header = Header(format=FORMAT, version=VERSION, until_position=until,
                        exported_at=datetime.now(UTC).isoformat())
        out.write(header.model_dump_json() + "\n")
        for note in _notifications(recorder, until):
            link = next_link(link, note)
            line = {"position": note.id, "originator_id": str(note.originator_id),
                    "originator_version": note.originator_version, "topic": note.topic,
                    **_state_fields(bytes(note.state)), "link": link.hex()}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
            if progress:
                progress(note.id - last)
            last = note.id
        summary = Summary(count, last, link.hex() if count else None)
        out.write(json.dumps(asdict(summary)) + "\n")
    os.replace(partial, path)
    if keys is not None:
        _write_private(keys_path(path), json.dumps(keys.export_keys(), ensure_ascii=False))
    return summary


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as out:
        os.chmod(partial, 0o600)
        out.write(text)
    os.replace(partial, path)


def _read_keys(path: Path) -> list[dict[str, Any]]:
    try:
        rows = json.loads(keys_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(0, None, f"the keys file {keys_path(path).name} is missing: "
                          "without it every sealed personal field restores as erased") from None
    except ValueError as error:
        raise BackupError(0, None, f"the keys file is unreadable: {error}") from None
    if not isinstance(rows, list) or not all(
            isinstance(r, dict) and {"key_id", "child_id", "secret", "erased_at"} <= r.keys()
            for r in rows):
        raise BackupError(0, None, "the keys file is not a list of seal keys")
    return rows


def ledger_disagrees(cur: Any, links_table: str, summary: Summary) -> str | None:
    """The store's own ledger link at the export's last position, if it differs from the
    head the export computed: stored events changed after the ledger first saw them."""
    row = cur.execute(f"SELECT link FROM {links_table} WHERE position=?",
                      (summary.position,)).fetchone()
    if row is None or row["link"] == summary.head_hash:
        return None  # agrees, or the ledger has not reached that position yet
    return str(row["link"])


def _notifications(recorder: Any, until: int) -> Iterator[Any]:
    start = 1
    while start <= until:
        notes = recorder.select_notifications(start, BATCH, stop=until)
        if not notes:
            return
        yield from notes
        start = notes[-1].id + 1


# --- reading and checking ------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    line: int
    position: int
    stored: StoredEvent


def read_backup(path: Path, mapper: Any, progress: Progress | None = None,
                summary: list[Summary] | None = None) -> Iterator[Record]:
    """Yield each event of the file, checked; raise BackupError at the first fault.

    Checks: the header, JSON and fields of every line, positions rising, the chain link of
    every event, that this version of the code can decode it (topic, state, upcasting), and
    the trailer (count, last position, head). The summary list receives the trailer.
    """
    with open(path, "rb") as lines:
        header = _header(next(lines, b""))
        link, count, last, number = GENESIS, 0, 0, 1
        for number, text in enumerate(lines, start=2):
            obj = _json(text, number, last)
            if "link" not in obj:  # the trailer is the one line without a link
                found = Summary(count, last, link.hex() if count else None)
                _check_trailer(_parse(Trailer, obj, number, last), found, number, last)
                if next(lines, None) is not None:
                    raise BackupError(number + 1, last, "lines after the trailer", after=True)
                if summary is not None:
                    summary.append(found)
                return
            line = _parse(EventLine, obj, number, last)
            record = _record(line, number, last, header)
            link = next_link(link, record.stored)
            if link.hex() != line.link:
                raise BackupError(number, record.position, "the chain link does not match: "
                                  "this event or a line before it was altered or removed")
            _decodable(mapper, record)
            count += 1
            if progress:
                progress(record.position - last)
            last = record.position
            yield record
        raise BackupError(number + 1, last or None,
                          "the file ends without its trailer line: it was cut short", after=True)


def read_header(path: Path) -> Header:
    """The first line: what the file is and the last position it holds."""
    with open(path, "rb") as lines:
        return _header(lines.readline())


def _header(text: bytes) -> Header:
    header: Header = _parse(Header, text, 1, None)
    if (header.format, header.version) != (FORMAT, VERSION):
        raise BackupError(1, None, f"not a {FORMAT} file of version {VERSION}")
    return header


def _json(text: bytes, line: int, last: int | None) -> dict[str, Any]:
    if not text.endswith(b"\n"):
        raise BackupError(line, last, "the line is cut short (no line end): the file is "
                          "truncated", after=True)
    try:
        obj = json.loads(text)  # bytes: UTF-8, and a bad byte is a ValueError too
    except ValueError as error:
        raise BackupError(line, last, f"not JSON: {error}", after=True) from None
    if not isinstance(obj, dict):
        raise BackupError(line, last, "not a JSON object", after=True)
    return obj


def _parse(model: type[Any], data: bytes | dict[str, Any], line: int, last: int | None) -> Any:
    obj = _json(data, line, last) if isinstance(data, bytes) else data
    try:
        return model.model_validate(obj)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(p) for p in problem["loc"]) or "line"
        raise BackupError(line, last, f"{field}: {problem['msg']}", after=True) from None


def _record(line: EventLine, number: int, last: int, header: Header) -> Record:
    if not last < line.position <= header.until_position:
        raise BackupError(number, line.position, f"position must rise, after {last} and "
                          f"at most {header.until_position}")
    if (line.state is None) == (line.state_b64 is None):
        raise BackupError(number, line.position, "exactly one of state and state_b64")
    try:
        state = (_canonical(line.state) if line.state is not None
                 else base64.b64decode(line.state_b64 or "", validate=True))
        originator_id = UUID(line.originator_id)
    except ValueError as error:
        raise BackupError(number, line.position, f"unreadable: {error}") from None
    stored = StoredEvent(originator_id=originator_id, originator_version=line.originator_version,
                         topic=line.topic, state=state)
    return Record(number, line.position, stored)


def _decodable(mapper: Any, record: Record) -> None:
    try:
        mapper.to_domain_event(record.stored)
    except Exception as error:  # noqa: BLE001 - any failure to decode refuses the file
        raise BackupError(record.line, record.position,
                          f"this version cannot read the event ({type(error).__name__})"
                          ) from None


def _check_trailer(trailer: Trailer, found: Summary, line: int, last: int) -> None:
    for field in ("events", "position", "head_hash"):
        if getattr(trailer, field) != getattr(found, field):
            raise BackupError(line, last, f"trailer {field} is {getattr(trailer, field)}, "
                              f"the file holds {getattr(found, field)}", after=True)


def verify_backup(path: Path, mapper: Any, progress: Progress | None = None) -> Summary:
    """Read the whole file and check it; nothing is written."""
    summary: list[Summary] = []
    for _ in read_backup(path, mapper, progress, summary):
        pass
    return summary[0]


# --- restore -------------------------------------------------------------------------------


def import_events(app: Any, db: Any, path: Path, check: Progress | None = None,
                  write: Progress | None = None) -> Summary:
    """Check the whole file, then write it into an empty store in one transaction."""
    if app.max_position():
        raise StoreNotEmpty("the store already holds events: import only into an empty one")
    verify_backup(path, app.mapper, check)
    return restore(app, db, path, write)


def restore(app: Any, db: Any, path: Path, progress: Progress | None = None) -> Summary:
    """Insert every event at its own position, in one transaction.

    The file is checked again as it is written (it could change between two reads); any
    fault raises inside the transaction, which then rolls back: nothing is written.
    """
    table = db.table(app.recorder.events_table_name)
    summary: list[Summary] = []
    keys = _read_keys(path)
    with db.transaction() as cur:
        _lock_and_check_empty(cur, db, table)
        app.keys.import_keys(cur, keys)
        sql, row = _insert(db, table)
        rows: list[tuple[Any, ...]] = []
        for record in read_backup(path, app.mapper, progress, summary):
            rows.append(row(record))
            if len(rows) == BATCH:
                cur.executemany(sql, rows)
                rows.clear()
        if rows:
            cur.executemany(sql, rows)
        if db.is_pg and summary[0].events:
            # The positions were given, not drawn: the next save must draw after the last.
            cur.execute("SELECT setval(pg_get_serial_sequence(?, 'notification_id'), ?)",
                        (table, summary[0].position))
    return summary[0]


def _lock_and_check_empty(cur: Any, db: Any, table: str) -> None:
    if db.is_pg:
        # The writers' own table lock: no save can slip in between the check and the import.
        cur.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    if cur.execute(f"SELECT 1 AS found FROM {table} LIMIT 1").fetchone() is not None:
        raise StoreNotEmpty("the store already holds events: import only into an empty one")


def _insert(db: Any, table: str) -> tuple[str, Callable[[Record], tuple[Any, ...]]]:
    """The insert with an explicit position: rowid on SQLite, notification_id on PostgreSQL."""
    if db.is_pg:
        sql = (f"INSERT INTO {table} (notification_id, originator_id, originator_version, "
               "topic, state) VALUES (?,?,?,?,?)")
        return sql, lambda r: (r.position, r.stored.originator_id, r.stored.originator_version,
                               r.stored.topic, r.stored.state)
    sql = (f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state) "
           "VALUES (?,?,?,?,?)")
    # The library keeps SQLite ids as 32 hex digits (UUID.hex).
    return sql, lambda r: (r.position, r.stored.originator_id.hex, r.stored.originator_version,
                           r.stored.topic, r.stored.state)
