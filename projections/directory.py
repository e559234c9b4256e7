"""The helper directory: every helper, and which children each is paired with."""

import json
from typing import Any

from domain.child import Child
from domain.helper import Helper
from projections.batching import apply_in_runs
from projections.view import Cursor


class DirectoryView:
    """Tables directory_helpers and directory_pairings."""

    name = "directory"

    def __init__(self, table: Any) -> None:
        self.helpers = table("directory_helpers")
        self.pairings = table("directory_pairings")
        self.registry = table("registry_children")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.helpers} (helper_id TEXT PRIMARY KEY, "
                    "details TEXT NOT NULL)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.pairings} (child_id TEXT NOT NULL, "
                    "helper_id TEXT NOT NULL, since TEXT NOT NULL, until TEXT, "
                    "PRIMARY KEY (child_id, helper_id, since))")
        cur.execute(f"CREATE INDEX IF NOT EXISTS directory_pairings_helper ON {self.pairings} "
                    "(helper_id)")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.helpers}")
        cur.execute(f"DELETE FROM {self.pairings}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py)."""
        apply_in_runs(self.apply, cur, events)

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, Helper.Registered):
            cur.execute(f"INSERT INTO {self.helpers} VALUES (?,?)",
                        (str(event.originator_id), json.dumps(event.details, ensure_ascii=False)))
        elif isinstance(event, Helper.DetailsChanged):
            row = cur.execute(f"SELECT details FROM {self.helpers} WHERE helper_id=?",
                              (str(event.originator_id),)).fetchone()
            details = {**json.loads(row["details"]), **event.details} if row else event.details
            cur.execute(f"UPDATE {self.helpers} SET details=? WHERE helper_id=?",
                        (json.dumps(details, ensure_ascii=False), str(event.originator_id)))
        elif isinstance(event, Child.HelperPaired):
            cur.execute(f"INSERT INTO {self.pairings} VALUES (?,?,?,NULL)",
                        (str(event.originator_id), event.helper_id, event.since))
        elif isinstance(event, Child.HelperUnpaired):
            cur.execute(f"UPDATE {self.pairings} SET until=? WHERE child_id=? AND helper_id=? "
                        "AND until IS NULL", (event.until, str(event.originator_id),
                                              event.helper_id))

    def get(self, cur: Cursor, helper_id: str) -> dict[str, Any] | None:
        row = cur.execute(f"SELECT details FROM {self.helpers} WHERE helper_id=?",
                          (helper_id,)).fetchone()
        if row is None:
            return None
        children = cur.execute(
            f"SELECT p.child_id, p.since, r.name FROM {self.pairings} p LEFT JOIN "
            f"{self.registry} r ON r.child_id = p.child_id WHERE p.helper_id=? AND p.until IS "
            "NULL ORDER BY p.since", (helper_id,)).fetchall()
        return {"id": helper_id, **json.loads(row["details"]), "children": children}
