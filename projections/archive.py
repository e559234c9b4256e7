"""The archive: each child's current file and timeline, for GET /children/{id}."""

import json
from typing import Any

from domain.child import Child
from projections import case_file
from projections.view import Cursor, in_clause


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class ArchiveView:
    """Tables archive_files (current file) and archive_timeline (one row per event)."""

    name = "archive"

    def __init__(self, table: Any) -> None:
        self.files = table("archive_files")
        self.timeline = table("archive_timeline")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.files} (child_id TEXT PRIMARY KEY, "
                    "file TEXT NOT NULL, version INTEGER NOT NULL)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.timeline} (child_id TEXT NOT NULL, "
                    "version INTEGER NOT NULL, position BIGINT NOT NULL, entry TEXT NOT NULL, "
                    "PRIMARY KEY (child_id, version))")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.files}")
        cur.execute(f"DELETE FROM {self.timeline}")

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if not isinstance(event, Child.Event):
            return
        child_id = str(event.originator_id)
        current = None
        if not isinstance(event, Child.Registered):
            row = cur.execute(f"SELECT file FROM {self.files} WHERE child_id=?",
                              (child_id,)).fetchone()
            current = json.loads(row["file"]) if row else None
        file = case_file.fold(current, event)
        if file is not None:
            cur.execute(f"INSERT INTO {self.files} VALUES (?,?,?) ON CONFLICT (child_id) DO "
                        "UPDATE SET file=excluded.file, version=excluded.version",
                        (child_id, _dumps(file), event.originator_version))
        cur.execute(f"INSERT INTO {self.timeline} VALUES (?,?,?,?)",
                    (child_id, event.originator_version, position,
                     _dumps(case_file.timeline_entry(position, event))))

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The same as apply for each event, with one read and two writes for the batch."""
        mine = [(pos, ev) for pos, ev in events if isinstance(ev, Child.Event)]
        if not mine:
            return
        ids = sorted({str(ev.originator_id) for _, ev in mine})
        rows = cur.execute(f"SELECT child_id, file FROM {self.files} WHERE child_id IN "
                           f"{in_clause(len(ids))}", ids).fetchall()
        files: dict[str, Any] = {r["child_id"]: json.loads(r["file"]) for r in rows}
        versions: dict[str, int] = {}
        timeline = []
        for pos, event in mine:
            child_id = str(event.originator_id)
            folded = case_file.fold(files.get(child_id), event)
            if folded is not None:
                files[child_id], versions[child_id] = folded, event.originator_version
            timeline.append((child_id, event.originator_version, pos,
                             _dumps(case_file.timeline_entry(pos, event))))
        cur.executemany(f"INSERT INTO {self.files} VALUES (?,?,?) ON CONFLICT (child_id) DO "
                        "UPDATE SET file=excluded.file, version=excluded.version",
                        [(cid, _dumps(files[cid]), v) for cid, v in versions.items()])
        cur.executemany(f"INSERT INTO {self.timeline} VALUES (?,?,?,?)", timeline)

    # --- reads --------------------------------------------------------------------------

    def get(self, cur: Cursor, child_id: str) -> dict[str, Any] | None:
        """The file and its timeline, newest first; None when the child is unknown."""
        row = cur.execute(f"SELECT file FROM {self.files} WHERE child_id=?",
                          (child_id,)).fetchone()
        if row is None:
            return None
        rows = cur.execute(f"SELECT entry FROM {self.timeline} WHERE child_id=? "
                           "ORDER BY version DESC", (child_id,)).fetchall()
        return {"file": json.loads(row["file"]),
                "timeline": [json.loads(r["entry"]) for r in rows]}
