"""Crypto-shredding: a child's personal fields are sealed with keys that erasure destroys.

Each aggregate that holds a child's personal data (the child's file, an incident, a grant)
gets its own AES-256-GCM key, recorded in `seal_keys` with the child it belongs to. The
mapper seals every string of the fields domain/personal.py names before the event is
transcoded, so the store only ever holds ciphertext for them; the aggregate's id is the
associated data, so a sealed value copied into another aggregate does not open. Erasing a
child sets its keys to NULL: from then on those values decode as ERASED, in the API, in a
rebuild and in every backup taken afterwards, while the stored bytes, and so the ledger's
hash chain, stay exactly as they were.

A new aggregate's key is written by the application recorder in the transaction of the
aggregate's first events (infra/idempotent_recorders.py): no extra round trip, and no key
without its events or events without their key. Keys are cached for KEY_TTL_SECONDS (at most
CACHE_SIZE of them), so another process may still open an erased child's values for that long
after the erasure; the views are scrubbed by the Erased event. An entry past its time leaves
the cache when the next key comes in: kept, it would never be used again, and a soak's memory
grew with them until the bound.
"""

import base64
import os
import re
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from datetime import UTC, datetime
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import get_topic, resolve_topic

from domain.child import Child
from domain.errors import ConflictingState
from domain.personal import ERASED, PERSONAL_FIELDS, SNAPSHOT_FIELDS
from infra.viewdb import ViewCursor

PREFIX = "sealed:v1:"
SEALED = re.compile(r"sealed:v1:([0-9a-f-]{36}):([A-Za-z0-9+/=]+)")
KEY_TTL_SECONDS = 10.0
CACHE_SIZE = 20_000
# AESGCM objects kept. Each holds 2.4 KB of OpenSSL memory and takes 0.7 µs to make (a
# decryption takes 0.4 µs), so only the few in use right now are kept: with 1,024 a soak's
# RSS rose 2.8 MiB in its first two minutes while they filled.
CIPHERS = 64
PREFETCH_CHUNK = 500  # keys per read: well under SQLite's 32,766 parameters


@lru_cache(maxsize=CIPHERS)
def _cipher(secret: bytes) -> AESGCM:
    """The cipher of a secret: made in under a microsecond, kept while in use."""
    return AESGCM(secret)


class ErasedSubject(ConflictingState):
    """409: the child's personal data was erased; nothing more is sealed with its keys."""

    def __init__(self) -> None:
        super().__init__("this child's personal data was erased; nothing more may be recorded")


class KeyStore:
    """The seal_keys table beside the events, with a short-lived cache of open keys."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.is_pg = isinstance(datastore, PostgresDatastore)
        self.table = f'"{datastore.schema}".seal_keys' if self.is_pg else "seal_keys"
        # Secrets, not AESGCM objects: each of those holds about 2.4 KB of OpenSSL memory,
        # which tracemalloc does not see (47 MiB for 20,000); a soak's RSS grew with them.
        self._cache: OrderedDict[str, tuple[bytes | None, float]] = OrderedDict()
        self._created = False
        self._lock = threading.Lock()
        # New keys of the save being encoded in this thread, until the recorder writes them.
        self._local = threading.local()
        self.with_events = False  # set when the application recorder writes new keys

    def _remember(self, key_id: str, key: bytes | None) -> None:
        now = time.monotonic()
        with self._lock:
            self._cache[key_id] = (key, now)
            self._cache.move_to_end(key_id)  # so the cache is in the order of its times
            while self._cache and (len(self._cache) > CACHE_SIZE
                                   or now - next(iter(self._cache.values()))[1]
                                   >= KEY_TTL_SECONDS):
                self._cache.popitem(last=False)  # expired or over the bound: read again

    def _pending(self) -> dict[str, tuple[str | None, bytes]]:
        if not hasattr(self._local, "pending"):
            self._local.pending = {}
        return self._local.pending  # type: ignore[no-any-return]

    def pending_rows(self) -> tuple[str, list[tuple[str, str | None, bytes]]]:
        """For the recorder, inside the events' transaction: the insert of this thread's new
        keys. Left pending, not taken: a retried transaction must write them again, or its
        events would commit without their key (the child's name unreadable for ever)."""
        marks = "%s,%s,%s" if self.is_pg else "?,?,?"
        return (f"INSERT INTO {self.table} (key_id, child_id, secret) VALUES ({marks}) "
                "ON CONFLICT (key_id) DO NOTHING",
                [(key_id, child_id, secret)
                 for key_id, (child_id, secret) in self._pending().items()])

    def committed(self) -> None:
        """The save's transaction committed: its new keys go to the cache (no read on the
        next load) and stop being pending."""
        pending, self._local.pending = self._pending(), {}
        for key_id, (_, secret) in pending.items():
            self._remember(key_id, secret)

    def abandoned(self) -> None:
        """The save failed for good: its keys were never committed and must not be written
        with the next save of this thread."""
        self._local.pending = {}

    def _tx(self, commit: bool) -> Any:
        return self.datastore.transaction(commit=commit)

    def create_table(self) -> None:
        blob = "BYTEA" if self.is_pg else "BLOB"
        with self._tx(True) as raw:
            cur = ViewCursor(raw, self.is_pg)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (key_id TEXT PRIMARY KEY, "
                        f"child_id TEXT, secret {blob}, erased_at TEXT)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS seal_keys_child ON {self.table} "
                        "(child_id)")
        self._created = True

    def _ensure_table(self) -> None:
        if not self._created:
            with self._lock:
                if not self._created:
                    self.create_table()

    def _fetch(self, key_id: str) -> tuple[bool, bytes | None]:
        """(whether a row exists, its key or None once erased). No DDL here: build_services
        made the table, and a reader beside a live SQLite service must not write."""
        with self._tx(False) as raw:
            row = ViewCursor(raw, self.is_pg).execute(
                f"SELECT secret FROM {self.table} WHERE key_id=?", (key_id,)).fetchone()
        if row is None:
            return False, None
        key = bytes(row["secret"]) if row["secret"] is not None else None
        self._remember(key_id, key)
        return True, key

    def _cached(self, key_id: str) -> tuple[bool, bytes | None]:
        hit = self._cache.get(key_id)
        if self._is_fresh(hit, time.monotonic()):
            return True, hit[0]  # type: ignore[index]  # an erased key never comes back
        return self._fetch(key_id)

    def for_reading(self, key_id: str) -> AESGCM | None:
        secret = self._cached(key_id)[1]
        return _cipher(secret) if secret is not None else None

    def prefetch(self, key_ids: set[str]) -> None:
        """Open the keys of many aggregates in one read per PREFETCH_CHUNK: a batch of the
        runner names hundreds, and one read each was a third of a rebuild's time."""
        now = time.monotonic()
        wanted = [k for k in key_ids if not self._is_fresh(self._cache.get(k), now)]
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start:start + PREFETCH_CHUNK]
            with self._tx(False) as raw:
                rows = ViewCursor(raw, self.is_pg).execute(
                    f"SELECT key_id, secret FROM {self.table} WHERE key_id IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall()
            for row in rows:
                secret = row["secret"]
                self._remember(row["key_id"], bytes(secret) if secret is not None else None)

    @staticmethod
    def _is_fresh(hit: tuple[bytes | None, float] | None, now: float) -> bool:
        return hit is not None and (hit[0] is None or now - hit[1] < KEY_TTL_SECONDS)

    def for_writing(self, key_id: str, child_id: str | None, is_new: bool) -> AESGCM:
        """The aggregate's key, made on its first sealed event; refused once erased.
        `is_new`: the event creates the aggregate, so no key can exist yet."""
        pending = self._pending().get(key_id)
        if pending is not None:
            return _cipher(pending[1])
        exists, key = (False, None) if is_new and self.with_events else self._cached(key_id)
        if exists and key is None:
            raise ErasedSubject()
        if key is not None:
            return _cipher(key)
        if self.with_events:
            secret = AESGCM.generate_key(256)
            self._pending()[key_id] = (child_id, secret)
            return _cipher(secret)
        with self._tx(True) as raw:  # no recorder to write it with the events: on its own
            ViewCursor(raw, self.is_pg).execute(
                f"INSERT INTO {self.table} (key_id, child_id, secret) VALUES (?,?,?) "
                "ON CONFLICT (key_id) DO NOTHING", (key_id, child_id, AESGCM.generate_key(256)))
        exists, key = self._fetch(key_id)  # a racing writer's key, if it won
        if key is None:
            raise ErasedSubject()
        return _cipher(key)

    def shred(self, cur: ViewCursor, child_id: str, at: str) -> int:
        """Destroy every key of the child, in the caller's transaction; answers how many."""
        self._ensure_table()
        rows = cur.execute(f"SELECT key_id FROM {self.table} WHERE child_id=? AND secret IS "
                           "NOT NULL", (child_id,)).fetchall()
        cur.execute(f"UPDATE {self.table} SET secret=NULL, erased_at=? WHERE child_id=? AND "
                    "secret IS NOT NULL", (at, child_id))
        for row in rows:
            self._remember(row["key_id"], None)
        return len(rows)

    def shred_now(self, child_id: str) -> int:
        with self._tx(True) as raw:
            return self.shred(ViewCursor(raw, self.is_pg), child_id, _now())

    def export_keys(self) -> list[dict[str, Any]]:
        """Every row, for a backup: a restore without the keys could open nothing."""
        self._ensure_table()
        with self._tx(False) as raw:
            rows = ViewCursor(raw, self.is_pg).execute(
                f"SELECT key_id, child_id, secret, erased_at FROM {self.table} "
                "ORDER BY key_id").fetchall()
        return [{**r, "secret": base64.b64encode(bytes(r["secret"])).decode()
                 if r["secret"] is not None else None} for r in rows]

    def import_keys(self, cur: ViewCursor, rows: list[dict[str, Any]]) -> None:
        self._ensure_table()
        cur.executemany(f"INSERT INTO {self.table} (key_id, child_id, secret, erased_at) "
                        "VALUES (?,?,?,?) ON CONFLICT (key_id) DO NOTHING",
                        [(r["key_id"], r["child_id"],
                          base64.b64decode(r["secret"]) if r["secret"] else None,
                          r["erased_at"]) for r in rows])
        self._cache.clear()


# --- sealing one event's state ------------------------------------------------------------

def _paths_for(cls: type, state: dict[str, Any]) -> tuple[str, ...]:
    if issubclass(cls, Snapshot):
        return SNAPSHOT_FIELDS.get(resolve_topic(state["topic"]), ())
    return PERSONAL_FIELDS.get(cls, ())


def _map_strings(value: Any, change: Any) -> Any:
    """A copy with change() applied to every string; containers are copied, not mutated."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(v, change) for v in value]
    return value


def _at_path(state: dict[str, Any], path: str, change: Any) -> None:
    """Replace state[path] by change(value), copying each dict on the way down."""
    head, _, rest = path.partition(".")
    if head not in state or state[head] is None:
        return
    if rest:
        if isinstance(state[head], dict):
            state[head] = dict(state[head])
            _at_path(state[head], rest, change)
        return
    state[head] = _map_strings(state[head], change)


class SealingMapper(Mapper[UUID]):
    """The library's mapper, sealing personal fields before transcoding, opening after."""

    def __init__(self, transcoder: Transcoder, keys: KeyStore) -> None:
        super().__init__(transcoder)
        self.keys = keys
        self._sealed_topics: dict[str, bool] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        paths = _paths_for(type(domain_event), state)
        if paths:
            self._seal(state, paths, str(originator_id), type(domain_event),
                       originator_version)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=get_topic(type(domain_event)),
                           state=self.transcoder.encode(state))

    def _seal(self, state: dict[str, Any], paths: tuple[str, ...], key_id: str,
              cls: type, version: int) -> None:
        child_id = state.get("child_id") or (key_id if _is_childs(cls, state) else None)
        key = self.keys.for_writing(key_id, child_id, is_new=version == 1)
        aad = key_id.encode()

        def seal(text: str) -> str:
            nonce = os.urandom(12)
            sealed = base64.b64encode(nonce + key.encrypt(nonce, text.encode(), aad)).decode()
            return f"{PREFIX}{key_id}:{sealed}"

        for path in paths:
            _at_path(state, path, seal)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        state = vars(event)
        paths = _paths_for(type(event), state)
        owner = str(stored_event.originator_id)
        for path in paths:
            _at_path(state, path, lambda text: self._open(text, owner))
        return event

    def prefetch_keys(self, stored_events: Iterable[StoredEvent]) -> None:
        """Before decoding a batch: the keys of every sealed aggregate in it, in one read."""
        self.keys.prefetch({str(e.originator_id) for e in stored_events
                            if self._may_be_sealed(e.topic)})

    def _may_be_sealed(self, topic: str) -> bool:
        known = self._sealed_topics.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._sealed_topics[topic] = (
                issubclass(cls, Snapshot) or bool(PERSONAL_FIELDS.get(cls)))
        return known

    def _open(self, text: str, owner: str) -> str:
        match = SEALED.fullmatch(text)
        if match is None:
            return text  # written before sealing existed
        key_id, sealed = match.groups()
        if key_id != owner:
            return ERASED  # sealed for another aggregate: copied here, never shown
        key = self.keys.for_reading(key_id)
        if key is None:
            return ERASED
        raw = base64.b64decode(sealed)
        try:
            return key.decrypt(raw[:12], raw[12:], key_id.encode()).decode()
        except InvalidTag:
            return ERASED  # not this aggregate's value, or altered: never shown as text


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _is_childs(cls: type, state: dict[str, Any]) -> bool:
    if issubclass(cls, Snapshot):
        return resolve_topic(state["topic"]) is Child
    return issubclass(cls, Child.Event)
