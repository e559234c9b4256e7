"""Follow-ups: when each child was last visited and when their parents last had feedback,
for the helper's worklist (走访 and 每月反馈 due this month)."""

from datetime import UTC
from typing import Any

from domain.child import Child
from projections.view import Cursor, in_clause

KINDS = {Child.VisitRecorded: "last_visit_at", Child.ParentFeedbackGiven: "last_feedback_at"}


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two UTC ISO times, either of which may be missing."""
    return max(a, b) if a and b else a or b


class FollowUpsView:
    """Table followups_children: the latest visit and feedback per child (UTC ISO text, so
    they compare as text), read with the directory's pairings and the registry."""

    name = "followups"

    def __init__(self, table: Any) -> None:
        self.children = table("followups_children")
        self.pairings = table("directory_pairings")
        self.registry = table("registry_children")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.children} (child_id TEXT PRIMARY KEY, "
                    "last_visit_at TEXT, last_feedback_at TEXT)")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.children}")

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        self.apply_batch(cur, [(position, event)])

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """Keep the latest time of each kind; a visit recorded late for an earlier day does
        not move it back. A merge credits the surviving file with the absorbed file's."""
        mine = [ev for _, ev in events if type(ev) in KINDS or isinstance(ev, Child.Merged)]
        if not mine:
            return
        ids = sorted({str(ev.originator_id) for ev in mine}
                     | {ev.absorbed_id for ev in mine if isinstance(ev, Child.Merged)})
        rows = cur.execute(f"SELECT * FROM {self.children} WHERE child_id IN "
                           f"{in_clause(len(ids))}", ids).fetchall()
        latest: dict[str, dict[str, str | None]] = {
            i: {"last_visit_at": None, "last_feedback_at": None} for i in ids}
        latest.update({r["child_id"]: r for r in rows})
        for event in mine:
            row = latest[str(event.originator_id)]
            if isinstance(event, Child.Merged):
                for column in KINDS.values():
                    row[column] = _later(row[column], latest[event.absorbed_id][column])
            else:
                column = KINDS[type(event)]
                row[column] = _later(row[column], event.occurred_at.astimezone(UTC).isoformat())
        cur.executemany(f"INSERT INTO {self.children} VALUES (?,?,?) ON CONFLICT (child_id) DO "
                        "UPDATE SET last_visit_at=excluded.last_visit_at, "
                        "last_feedback_at=excluded.last_feedback_at",
                        [(i, latest[i]["last_visit_at"], latest[i]["last_feedback_at"])
                         for i in ids])

    def paired_with(self, cur: Cursor, helper_id: str) -> list[dict[str, Any]]:
        """The active children paired with the helper now, with their latest follow-ups."""
        rows: list[dict[str, Any]] = cur.execute(
            f"SELECT p.child_id, r.name, r.school, r.class_name, r.village, "
            f"f.last_visit_at, f.last_feedback_at FROM {self.pairings} p "
            f"JOIN {self.registry} r ON r.child_id = p.child_id "
            f"LEFT JOIN {self.children} f ON f.child_id = p.child_id "
            "WHERE p.helper_id=? AND p.until IS NULL AND r.status='active' "
            "ORDER BY r.name, p.child_id", (helper_id,)).fetchall()
        return rows
