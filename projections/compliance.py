"""Compliance per month (docs/DOMAIN.md §6 "Compliance"): who was visited, whose
parents were given feedback, which incidents are open; the figures are read with the registry.

The view keeps facts, not figures: one row per child, month (in Asia/Shanghai) and kind of
contact, and one row per incident. The dashboard counts them in SQL over the registry's
active files. A merge moves the absorbed file's contacts and incidents to the survivor.
"""

import json
from typing import Any
from zoneinfo import ZoneInfo

from domain.child import Child
from domain.incident import Incident
from projections import case_file
from projections.batching import apply_in_runs
from projections.view import Cursor

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The dashboard's figures, in the order of docs/DOMAIN.md §6; each is a share of the registered
# files.
FIGURES = ("registered", "complete_files", "paired", "visited", "parent_feedback",
           "open_incidents", "overdue_actions")
# Figures where the children listed are those lacking it; for the rest, those having it.
LACKING = {"complete_files", "paired", "visited", "parent_feedback"}


def month_of(moment: Any) -> str:
    """2026-06: the calendar month in Asia/Shanghai, where the children live."""
    return str(moment.astimezone(SHANGHAI).strftime("%Y-%m"))


class ComplianceView:
    """Tables compliance_contacts (child, month, kind) and compliance_incidents."""

    name = "compliance"

    def __init__(self, table: Any) -> None:
        self.contacts = table("compliance_contacts")
        self.incidents = table("compliance_incidents")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.contacts} (child_id TEXT NOT NULL, "
                    "month TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (child_id, month, "
                    "kind))")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.incidents} (incident_id TEXT PRIMARY "
                    "KEY, child_id TEXT NOT NULL, open INTEGER NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS compliance_incidents_child ON "
                    f"{self.incidents} (child_id, open)")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.contacts}")
        cur.execute(f"DELETE FROM {self.incidents}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py)."""
        apply_in_runs(self.apply, cur, events)

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, (Child.VisitRecorded, Child.ParentFeedbackGiven)):
            kind = "visit" if isinstance(event, Child.VisitRecorded) else "feedback"
            cur.execute(f"INSERT INTO {self.contacts} VALUES (?,?,?) ON CONFLICT DO NOTHING",
                        (str(event.originator_id), month_of(event.occurred_at), kind))
        elif isinstance(event, Child.Merged):
            self._move(cur, event.absorbed_id, str(event.originator_id))
        elif isinstance(event, Incident.Reported):
            cur.execute(f"INSERT INTO {self.incidents} VALUES (?,?,1)",
                        (str(event.originator_id), event.child_id))
        elif isinstance(event, Incident.Resolved):
            cur.execute(f"UPDATE {self.incidents} SET open=0 WHERE incident_id=?",
                        (str(event.originator_id),))

    def _move(self, cur: Cursor, absorbed: str, survivor: str) -> None:
        """The survivor is credited with the absorbed file's contacts and owns its incidents."""
        cur.execute(f"INSERT INTO {self.contacts} SELECT ?, month, kind FROM {self.contacts} "
                    "WHERE child_id=? ON CONFLICT DO NOTHING", (survivor, absorbed))
        cur.execute(f"UPDATE {self.incidents} SET child_id=? WHERE child_id=?",
                    (survivor, absorbed))

    # --- reads --------------------------------------------------------------------------

    def flags_sql(self, registry: str, pairings: str, actions: tuple[str, str] | None) -> str:
        """One row per active file in scope, with a 0/1 column per figure. Parameters: month,
        month, today (when actions are known), then the scope's."""
        def has(query: str) -> str:
            return f"CASE WHEN EXISTS ({query}) THEN 1 ELSE 0 END"

        contact = (f"SELECT 1 FROM {self.contacts} m WHERE m.child_id = r.child_id AND "
                   "m.month = ? AND m.kind = ")
        overdue = "0"
        if actions is not None:
            overdue = has(f"SELECT 1 FROM {actions[0]} ac JOIN {actions[1]} a ON a.action_id ="
                          " ac.action_id WHERE ac.child_id = r.child_id AND a.completed_at IS "
                          "NULL AND a.due < ?")
        return (
            "SELECT r.child_id, r.name, r.school, r.class_name, r.village, r.file, 1 AS "
            "registered, CASE WHEN r.completeness >= 1 THEN 1 ELSE 0 END AS complete_files, "
            + has(f"SELECT 1 FROM {pairings} p WHERE p.child_id = r.child_id AND p.until IS "
                  "NULL") + " AS paired, "
            + has(contact + "'visit'") + " AS visited, "
            + has(contact + "'feedback'") + " AS parent_feedback, "
            + has(f"SELECT 1 FROM {self.incidents} i WHERE i.child_id = r.child_id AND "
                  "i.open = 1") + " AS open_incidents, "
            + overdue + f" AS overdue_actions FROM {registry} r")

    def dashboard(self, cur: Cursor, flags_sql: str, params: list[Any],
                  where: tuple[str, list[Any]]) -> dict[str, Any]:
        """The figures (counted in SQL) and the children behind each shortfall."""
        scoped = f"{flags_sql} WHERE {where[0]}"
        args = [*params, *where[1]]
        sums = ", ".join(f"COALESCE(SUM({f}), 0) AS {f}" for f in FIGURES)
        counts = cur.execute(f"SELECT {sums} FROM ({scoped}) f", args).fetchone() or {}
        short = " OR ".join(f"{f} = {0 if f in LACKING else 1}" for f in FIGURES[1:])
        rows = cur.execute(f"SELECT * FROM ({scoped}) f WHERE {short} ORDER BY school, "
                           "class_name, name, child_id", args).fetchall()
        total = int(counts.get("registered") or 0)
        return {f: {"count": int(counts.get(f) or 0), "total": total,
                    "percent": round(100 * int(counts.get(f) or 0) / total, 1) if total else None,
                    "shortfall": [] if f == "registered" else [
                        _child(r, f) for r in rows if r[f] == (0 if f in LACKING else 1)]}
                for f in FIGURES}


def _child(row: dict[str, Any], figure: str) -> dict[str, Any]:
    shown = {k: row[k] for k in ("child_id", "name", "school", "class_name", "village")}
    if figure == "complete_files":
        shown["missing"] = case_file.completeness(json.loads(row["file"]))["missing"]
    return shown
