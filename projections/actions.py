"""Conference actions: open actions per child and per helper with their due dates, and the
conference lines of each child's review timeline."""

import json
from typing import Any

from domain.child import Child
from domain.conference import Action, CaseConference
from projections import case_file
from projections.batching import apply_in_runs
from projections.view import Cursor, in_clause, iso, to_json

COLUMNS = ("action_id", "conference_id", "description", "agency", "helper_id", "due",
           "assigned_at", "completed_at")


def timeline_entry(position: int | None, event: Any) -> dict[str, Any]:
    """A conference or a completed action as a line of the child's timeline."""
    entry = case_file.timeline_entry(position, event)
    if isinstance(event, CaseConference.Held):
        return {**entry, "type": "CaseConferenceHeld", "conference_id": str(event.originator_id)}
    return {**entry, "type": "ActionCompleted", "action_id": str(event.originator_id)}


def fold_action(action: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The action as a plain row, from its events: what the view stores and as-of reads fold."""
    if isinstance(event, Action.Assigned):
        return {"action_id": str(event.originator_id), "conference_id": event.conference_id,
                "description": event.description, "agency": event.responsible_agency,
                "helper_id": event.helper_id, "due": event.due,
                "assigned_at": iso(event.recorded_at), "completed_at": None}
    if action is not None and isinstance(event, Action.Completed):
        return {**action, "completed_at": iso(event.recorded_at)}
    return action


class ActionsView:
    """Tables actions_actions, actions_children (which children an action concerns),
    actions_conferences (which children a conference was about) and actions_timeline."""

    name = "actions"

    def __init__(self, table: Any) -> None:
        self.actions = table("actions_actions")
        self.children = table("actions_children")
        self.conferences = table("actions_conferences")
        self.timeline = table("actions_timeline")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.actions} (action_id TEXT PRIMARY KEY, "
                    "conference_id TEXT NOT NULL, description TEXT NOT NULL, agency TEXT NOT "
                    "NULL, helper_id TEXT, due TEXT NOT NULL, assigned_at TEXT NOT NULL, "
                    "completed_at TEXT)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS actions_helper ON {self.actions} "
                    "(helper_id, due)")
        for table, key in ((self.children, "action_id"), (self.conferences, "conference_id")):
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (child_id TEXT NOT NULL, "
                        f"{key} TEXT NOT NULL, PRIMARY KEY (child_id, {key}))")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.timeline} (child_id TEXT NOT NULL, "
                    "position BIGINT NOT NULL, entry TEXT NOT NULL, "
                    "PRIMARY KEY (child_id, position))")

    def reset(self, cur: Cursor) -> None:
        for table in (self.actions, self.children, self.conferences, self.timeline):
            cur.execute(f"DELETE FROM {table}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py)."""
        apply_in_runs(self.apply, cur, events)

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, CaseConference.Held):
            cid = str(event.originator_id)
            self._add_lines(cur, event.child_ids, position, event)
            cur.executemany(f"INSERT INTO {self.conferences} VALUES (?,?)",
                            [(child, cid) for child in event.child_ids])
        elif isinstance(event, Action.Assigned):
            row = fold_action(None, event)
            assert row is not None
            cur.execute(f"INSERT INTO {self.actions} VALUES ({','.join('?' * len(COLUMNS))})",
                        [row[c] for c in COLUMNS])
            cur.executemany(f"INSERT INTO {self.children} VALUES (?,?)",
                            [(child, row["action_id"]) for child in event.child_ids])
        elif isinstance(event, Action.Completed):
            action_id = str(event.originator_id)
            cur.execute(f"UPDATE {self.actions} SET completed_at=? WHERE action_id=?",
                        (iso(event.recorded_at), action_id))
            self._add_lines(cur, self._children_of(cur, action_id), position, event)
        elif isinstance(event, Child.Merged):
            self._move(cur, event.absorbed_id, str(event.originator_id))

    def _move(self, cur: Cursor, absorbed: str, survivor: str) -> None:
        """A merge (合并档案): the surviving file takes on the absorbed file's conferences,
        actions and timeline lines; the absorbed file keeps its own."""
        for table, key in ((self.children, "action_id"), (self.conferences, "conference_id")):
            cur.execute(f"INSERT INTO {table} (child_id, {key}) SELECT ?, {key} FROM {table} "
                        "WHERE child_id=? ON CONFLICT DO NOTHING", (survivor, absorbed))
        cur.execute(f"INSERT INTO {self.timeline} (child_id, position, entry) SELECT ?, "
                    f"position, entry FROM {self.timeline} WHERE child_id=? ON CONFLICT DO "
                    "NOTHING", (survivor, absorbed))

    def _add_lines(self, cur: Cursor, child_ids: list[str], position: int, event: Any) -> None:
        entry = to_json(timeline_entry(position, event))
        cur.executemany(f"INSERT INTO {self.timeline} VALUES (?,?,?)",
                        [(child, position, entry) for child in child_ids])

    def _children_of(self, cur: Cursor, action_id: str) -> list[str]:
        rows = cur.execute(f"SELECT child_id FROM {self.children} WHERE action_id=?",
                           (action_id,)).fetchall()
        return [r["child_id"] for r in rows]

    # --- reads --------------------------------------------------------------------------

    def for_child(self, cur: Cursor, child_id: str) -> list[dict[str, Any]]:
        """Every action about the child, open or completed, by due date."""
        rows: list[dict[str, Any]] = cur.execute(
            f"SELECT {', '.join('a.' + c for c in COLUMNS)} FROM {self.actions} a JOIN "
            f"{self.children} c ON c.action_id = a.action_id WHERE c.child_id=? "
            "ORDER BY a.due, a.action_id", (child_id,)).fetchall()
        return rows

    def open_for_helper(self, cur: Cursor, helper_id: str, due_by: str) -> list[dict[str, Any]]:
        """The helper's open actions due on or before `due_by` (an ISO date)."""
        rows: list[dict[str, Any]] = cur.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {self.actions} WHERE helper_id=? AND "
            "completed_at IS NULL AND due <= ? ORDER BY due, action_id",
            (helper_id, due_by)).fetchall()
        return rows

    def children_of(self, cur: Cursor, action_ids: list[str]) -> dict[str, list[str]]:
        """The children each action concerns (a worklist keeps those about children the
        reader reaches)."""
        found: dict[str, list[str]] = {a: [] for a in action_ids}
        if action_ids:
            rows = cur.execute(f"SELECT child_id, action_id FROM {self.children} WHERE "
                               f"action_id IN {in_clause(len(action_ids))} ORDER BY child_id",
                               action_ids).fetchall()
            for row in rows:
                found[row["action_id"]].append(row["child_id"])
        return found

    def ids_for_children(self, cur: Cursor, child_ids: list[str]) -> dict[str, Any]:
        """The conferences and actions about these files: what an as-of review loads."""
        found: dict[str, Any] = {}
        for table, key in (("conferences", "conference_id"), ("actions", "action_id")):
            source = self.conferences if table == "conferences" else self.children
            rows = cur.execute(f"SELECT DISTINCT {key} FROM {source} WHERE child_id IN "
                               f"{in_clause(len(child_ids))}", child_ids).fetchall()
            found[table] = sorted(r[key] for r in rows)
        return found

    def lines(self, cur: Cursor, child_id: str) -> list[dict[str, Any]]:
        rows = cur.execute(f"SELECT entry FROM {self.timeline} WHERE child_id=? "
                           "ORDER BY position DESC", (child_id,)).fetchall()
        return [json.loads(r["entry"]) for r in rows]
