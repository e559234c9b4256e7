"""The archive: each child's current file and timeline, for GET /children/{id}.

The timeline holds the child's own events and the events of incidents about the child.
"""

import json
from typing import Any

from domain.child import Child
from domain.incident import Incident
from domain.personal import scrub
from projections import case_file
from projections.view import Cursor, in_clause, to_json


def _marked(row: dict[str, Any], child_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(row["entry"])
    if row["child_id"] != child_id:
        entry["from_child_id"] = row["child_id"]
    return entry


class ArchiveView:
    """Tables archive_files (current file), archive_timeline, archive_incidents (which child)."""

    name = "archive"

    def __init__(self, table: Any) -> None:
        self.files = table("archive_files")
        self.timeline = table("archive_timeline")
        self.incidents = table("archive_incidents")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.files} (child_id TEXT PRIMARY KEY, "
                    "file TEXT NOT NULL, version INTEGER NOT NULL)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.timeline} (child_id TEXT NOT NULL, "
                    "position BIGINT NOT NULL, entry TEXT NOT NULL, "
                    "PRIMARY KEY (child_id, position))")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.incidents} (incident_id TEXT PRIMARY "
                    "KEY, child_id TEXT NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS archive_incidents_child ON {self.incidents} "
                    "(child_id)")

    def reset(self, cur: Cursor) -> None:
        for table in (self.files, self.timeline, self.incidents):
            cur.execute(f"DELETE FROM {table}")

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        self.apply_batch(cur, [(position, event)])

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """Fold the batch in memory: one read and a few writes per batch, not per event."""
        mine = [(pos, ev) for pos, ev in events if isinstance(ev, (Child.Event, Incident.Event))]
        if not mine:
            return
        files = self._load_files(cur, mine)
        owners = self._incident_owners(cur, mine)
        versions: dict[str, int] = {}
        timeline = []
        for pos, event in mine:
            if isinstance(event, Incident.Event):
                child_id = owners.get(str(event.originator_id))
            else:
                child_id = str(event.originator_id)
                folded = case_file.fold(files.get(child_id), event)
                if folded is not None:
                    files[child_id], versions[child_id] = folded, event.originator_version
            if child_id is not None:
                timeline.append((child_id, pos, to_json(case_file.timeline_entry(pos, event))))
        cur.executemany(f"INSERT INTO {self.files} VALUES (?,?,?) ON CONFLICT (child_id) DO "
                        "UPDATE SET file=excluded.file, version=excluded.version",
                        [(cid, to_json(files[cid]), v) for cid, v in versions.items()])
        cur.executemany(f"INSERT INTO {self.timeline} VALUES (?,?,?)", timeline)

    def _load_files(self, cur: Cursor, events: list[tuple[int, Any]]) -> dict[str, Any]:
        ids = sorted({str(ev.originator_id) for _, ev in events if isinstance(ev, Child.Event)})
        if not ids:
            return {}
        rows = cur.execute(f"SELECT child_id, file FROM {self.files} WHERE child_id IN "
                           f"{in_clause(len(ids))}", ids).fetchall()
        return {r["child_id"]: json.loads(r["file"]) for r in rows}

    def _incident_owners(self, cur: Cursor, events: list[tuple[int, Any]]) -> dict[str, str]:
        """Which child each incident is about; new reports are recorded as they come."""
        reported = {str(ev.originator_id): ev.child_id for _, ev in events
                    if isinstance(ev, Incident.Reported)}
        cur.executemany(f"INSERT INTO {self.incidents} VALUES (?,?)", list(reported.items()))
        later = sorted({str(ev.originator_id) for _, ev in events
                        if isinstance(ev, Incident.Event)} - set(reported))
        if later:
            rows = cur.execute(f"SELECT incident_id, child_id FROM {self.incidents} WHERE "
                               f"incident_id IN {in_clause(len(later))}", later).fetchall()
            reported.update({r["incident_id"]: r["child_id"] for r in rows})
        return reported

    def erase(self, cur: Cursor, child_id: str) -> None:
        """Crypto-shredding (issue 3): the file is scrubbed by its Erased event; the
        timeline lines, written before the keys were destroyed, are scrubbed here."""
        rows = cur.execute(f"SELECT position, entry FROM {self.timeline} WHERE child_id=?",
                           (child_id,)).fetchall()
        cur.executemany(f"UPDATE {self.timeline} SET entry=? WHERE child_id=? AND position=?",
                        [(to_json(scrub(json.loads(r["entry"]))), child_id, r["position"])
                         for r in rows])

    # --- reads --------------------------------------------------------------------------

    def get(self, cur: Cursor, child_id: str) -> dict[str, Any] | None:
        """The file and its timeline, newest first; None when the child is unknown."""
        row = cur.execute(f"SELECT file FROM {self.files} WHERE child_id=?",
                          (child_id,)).fetchone()
        if row is None:
            return None
        file = json.loads(row["file"])
        # A surviving file shows the histories of the files merged into it, each line
        # marked with the file it was recorded in.
        ids = [child_id, *file.get("absorbed", [])]
        rows = cur.execute(f"SELECT child_id, entry FROM {self.timeline} WHERE child_id IN "
                           f"{in_clause(len(ids))} ORDER BY position DESC", ids).fetchall()
        return {"file": file, "timeline": [_marked(r, child_id) for r in rows]}

    def incident_ids(self, cur: Cursor, child_id: str) -> list[str]:
        rows = cur.execute(f"SELECT incident_id FROM {self.incidents} WHERE child_id=?",
                           (child_id,)).fetchall()
        return [r["incident_id"] for r in rows]
