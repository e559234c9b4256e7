"""Likely duplicate files (疑似重复档案): two agencies registering one child without an ID number.

A pair is listed when the two open files share the birth date, the name in characters or in
full pinyin (张小明 and 张晓明 are both zhangxiaoming), and the guardian's phone or the village;
and when at most one of them has an ID number (two different ID numbers are two children, and
the same ID number twice is refused at registration). The pairs are found by one self-join
over this view's table, on an index of the birth date.
"""

from functools import lru_cache
from typing import Any

from pypinyin import lazy_pinyin

from domain.child import Child
from domain.personal import ERASED
from projections.batching import apply_in_runs
from projections.view import Cursor

MATCH = ("(a.name = b.name OR a.pinyin = b.pinyin) AND (a.guardian_phone = b.guardian_phone OR "
         "(a.township = b.township AND a.village = b.village))")
SHOWN = ("child_id", "name", "birth_date", "school", "class_name", "township", "village")


@lru_cache(maxsize=65536)  # pinyin is slow; a rebuild meets each name many times
def full_pinyin(name: str) -> str:
    """张晓明 -> zhangxiaoming: characters that sound alike are one name here."""
    return "".join(lazy_pinyin(name, errors="ignore")).lower()


class DuplicatesView:
    """Table duplicates_children: the facts a match is decided on, one row per file. The ID
    number itself is not kept, only whether the file has one."""

    name = "duplicates"

    def __init__(self, table: Any) -> None:
        self.children = table("duplicates_children")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.children} (child_id TEXT PRIMARY KEY, "
                    "position BIGINT NOT NULL, name TEXT NOT NULL, pinyin TEXT NOT NULL, "
                    "birth_date TEXT NOT NULL, guardian_phone TEXT, school TEXT, "
                    "class_name TEXT, township TEXT, village TEXT, has_id_number INTEGER NOT "
                    "NULL, status TEXT NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS duplicates_birth ON {self.children} "
                    "(birth_date, position)")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.children}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py)."""
        apply_in_runs(self.apply, cur, events)

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        child_id = str(getattr(event, "originator_id", ""))
        if isinstance(event, Child.Registered):
            p = event.profile
            cur.execute(f"INSERT INTO {self.children} VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (child_id, position, p["name"], full_pinyin(p["name"]), p["birth_date"],
                         event.guardian.get("phone"), p["school"], p["class_name"],
                         p["township"], p["village"], int(bool(p.get("id_number"))), "active"))
        elif isinstance(event, Child.GuardianReplaced):
            self._set(cur, child_id, guardian_phone=event.guardian.get("phone"))
        elif isinstance(event, Child.EnrollmentChanged):
            self._set(cur, child_id, school=event.school, class_name=event.class_name)
        elif isinstance(event, Child.StatusChanged):
            self._set(cur, child_id, status=event.status)
        elif isinstance(event, Child.MergedInto):
            self._set(cur, child_id, status="merged")

    def erase(self, cur: Cursor, child_id: str) -> None:
        """Crypto-shredding (issue 3): no name or phone left to match on."""
        self._set(cur, child_id, name=ERASED, pinyin="", guardian_phone=None, status="erased")

    def _set(self, cur: Cursor, child_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{column}=?" for column in values)
        cur.execute(f"UPDATE {self.children} SET {assignments} WHERE child_id=?",
                    (*values.values(), child_id))

    # --- reads --------------------------------------------------------------------------

    def pairs(self, cur: Cursor, after: tuple[int, int], limit: int,
              reach: tuple[str, list[Any]] = ("1=1", [])) -> list[dict[str, Any]]:
        """Likely duplicate pairs within reach (both files), earlier file first, in
        registration order after the cursor (the two files' positions)."""
        t, shown = self.children, ", ".join(f"a.{c} AS a_{c}, b.{c} AS b_{c}" for c in SHOWN)
        within = f"(SELECT child_id FROM {t} WHERE {reach[0]})"
        rows = cur.execute(
            f"SELECT {shown}, a.position AS a_position, b.position AS b_position, "
            "a.name = b.name AS same_name, a.guardian_phone = b.guardian_phone AS same_phone, "
            "(a.township = b.township AND a.village = b.village) AS same_village "
            f"FROM {t} a JOIN {t} b ON b.birth_date = a.birth_date AND b.position > a.position "
            f"WHERE a.status NOT IN ('merged', 'erased') AND b.status NOT IN ('merged', 'erased') "
            f"AND {MATCH} "
            "AND a.has_id_number + b.has_id_number < 2 "
            "AND (a.position > ? OR (a.position = ? AND b.position > ?)) "
            f"AND a.child_id IN {within} AND b.child_id IN {within} "
            "ORDER BY a.position, b.position LIMIT ?",
            (after[0], after[0], after[1], *reach[1], *reach[1], limit)).fetchall()
        return [_pair(r) for r in rows]


def _pair(row: dict[str, Any]) -> dict[str, Any]:
    reasons = ["same_name" if row["same_name"] else "same_pinyin", "same_birth_date"]
    if row["same_phone"]:
        reasons.append("same_guardian_phone")
    if row["same_village"]:
        reasons.append("same_village")
    return {"children": [{c: row[f"{side}_{c}"] for c in SHOWN} for side in ("a", "b")],
            "reasons": reasons, "cursor": f"{row['a_position']}.{row['b_position']}"}

