"""The tamper-evident ledger: a SHA-256 hash chain over every stored event, in store order.

link(n) = SHA-256(link(n-1) + bytes of stored event n), where an event's bytes are its
originator_id, originator_version, topic and state exactly as stored, each length-prefixed
so no two different events give the same bytes. The chain is hashed from the stored
records, not from decoded events: the runner hands each batch's stored records to the
view through the optional `see_stored` hook, before applying the batch.
"""

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from projections.view import Cursor

GENESIS = bytes(32)
BATCH = 1000


def event_bytes(stored: Any) -> bytes:
    """The stored record's fields, each with an 8-byte length so the encoding is unambiguous."""
    parts = (str(stored.originator_id).encode(), str(stored.originator_version).encode(),
             stored.topic.encode(), bytes(stored.state))
    return b"".join(len(p).to_bytes(8, "big") + p for p in parts)


def next_link(previous: bytes, stored: Any) -> bytes:
    return hashlib.sha256(previous + event_bytes(stored)).digest()


class LedgerView:
    """Table ledger_links: one link per stored event, by position."""

    name = "ledger"
    # The links are the evidence: a rebuild must not recompute them from today's store.
    kept_on_rebuild = True

    def __init__(self, table: Any) -> None:
        self.links = table("ledger_links")
        self._stored: dict[int, Any] = {}

    def see_stored(self, notifications: Sequence[Any]) -> None:
        """Called by the runner with the stored records of the batch it is about to apply."""
        self._stored = {n.id: n for n in notifications}

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.links} (position BIGINT PRIMARY KEY, "
                    "link TEXT NOT NULL)")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.links}")

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        self.apply_batch(cur, [(position, event)])

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """Chain the batch from the stored head: one read and one executemany per batch."""
        head = self.head(cur)
        previous = bytes.fromhex(head["head_hash"]) if head["head_hash"] else GENESIS
        rows = []
        for position, _event in events:
            # A KeyError fails the batch; the runner retries it with fresh stored records.
            previous = next_link(previous, self._stored[position])
            rows.append((position, previous.hex()))
        cur.executemany(f"INSERT INTO {self.links} VALUES (?,?)", rows)

    # --- reads --------------------------------------------------------------------------

    def head(self, cur: Cursor) -> dict[str, Any]:
        """The last link: {position, head_hash}; position 0 and no hash for an empty store."""
        row = cur.execute(f"SELECT position, link FROM {self.links} "
                          "ORDER BY position DESC LIMIT 1").fetchone()
        if row is None:
            return {"position": 0, "head_hash": None}
        return {"position": int(row["position"]), "head_hash": row["link"]}

    def verify(self, cur: Cursor, recorder: Any) -> dict[str, Any]:
        """Recompute the chain from the stored events; the first position that differs."""
        head = self.head(cur)
        previous = GENESIS
        for position, stored, link in self._pairs(cur, recorder, head["position"]):
            if stored is None or link is None:
                return {**head, "ok": False, "first_bad_position": position}
            previous = next_link(previous, stored)
            if previous.hex() != link:
                return {**head, "ok": False, "first_bad_position": position}
        return {**head, "ok": True, "first_bad_position": None}

    def _pairs(self, cur: Cursor, recorder: Any,
               last: int) -> Iterator[tuple[int, Any | None, str | None]]:
        """Stored events and stored links side by side, by position; a gap on one side shows."""
        start = 1
        while start <= last:
            notes: Sequence[Any] = recorder.select_notifications(start, BATCH, stop=last)
            end = notes[-1].id if len(notes) == BATCH else last
            links = {int(r["position"]): r["link"] for r in cur.execute(
                f"SELECT position, link FROM {self.links} WHERE position >= ? AND position <= ?",
                (start, end)).fetchall()}
            stored = {n.id: n for n in notes}
            for position in sorted(set(links) | set(stored)):
                yield position, stored.get(position), links.get(position)
            start = end + 1
