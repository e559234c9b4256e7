"""The registry (台帐): one row per child, filtered by place, school, class, status, name."""

import json
from functools import lru_cache
from typing import Any

from pypinyin import Style, lazy_pinyin

from domain.child import Child
from projections import case_file
from projections.view import Cursor, in_clause, like_literal, to_json
from services import jurisdiction

FILTERS = ("township", "village", "school", "class_name", "status")
COLUMNS = ("name", "sex", "birth_date", "school", "grade", "class_name", "township", "village",
           "status", "left_behind_type")


@lru_cache(maxsize=65536)  # pinyin is slow; a rebuild meets each name many times
def name_pinyin(name: str) -> str:
    """张小明 -> 'zhangxiaoming zxm': full pinyin and initials, for searching by name."""
    syllables = lazy_pinyin(name, errors="ignore")
    initials = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    return f"{''.join(syllables)} {''.join(initials)}".lower()


class RegistryView:
    """Table registry_children; the folded file is kept so each event updates one row."""

    name = "registry"

    def __init__(self, table: Any) -> None:
        self.children = table("registry_children")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.children} (child_id TEXT PRIMARY KEY, "
                    "position BIGINT NOT NULL, name TEXT, pinyin TEXT, sex TEXT, birth_date TEXT,"
                    " school TEXT, grade TEXT, class_name TEXT, township TEXT, village TEXT, "
                    "status TEXT, left_behind_type TEXT, completeness REAL, file TEXT NOT NULL)")
        # Pages walk the registry in registration order, from a cursor position.
        cur.execute(f"CREATE INDEX IF NOT EXISTS registry_position ON {self.children} "
                    "(position)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS registry_place ON {self.children} "
                    "(township, village, school, class_name)")
        # The emergency lookup once probed this for each candidate's place; its keys carry
        # the place now (projections/contact_chain.py), so a store that has it drops it.
        schema = self.children.rpartition(".")[0]
        cur.execute(f"DROP INDEX IF EXISTS {schema + '.' if schema else ''}registry_reach")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.children}")

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        self.apply_batch(cur, [(position, event)])

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """Fold the batch in memory, then write each changed child's row once."""
        mine = [(pos, ev) for pos, ev in events if isinstance(ev, Child.Event)]
        if not mine:
            return
        ids = sorted({str(ev.originator_id) for _, ev in mine})
        rows = cur.execute(f"SELECT child_id, position, file FROM {self.children} WHERE "
                           f"child_id IN {in_clause(len(ids))}", ids).fetchall()
        files = {r["child_id"]: (r["position"], json.loads(r["file"])) for r in rows}
        changed: set[str] = set()
        for pos, event in mine:
            child_id = str(event.originator_id)
            registered_at, current = files.get(child_id, (pos, None))
            folded = case_file.fold(current, event)
            if folded is not None and folded is not current and folded != current:
                files[child_id] = (registered_at, folded)
                changed.add(child_id)
        cur.executemany(self._upsert, [self._row(cid, *files[cid]) for cid in sorted(changed)])

    @property
    def _upsert(self) -> str:
        return (f"INSERT INTO {self.children} (child_id, position, pinyin, completeness, file, "
                f"{', '.join(COLUMNS)}) VALUES (?,?,?,?,?,{','.join('?' * len(COLUMNS))}) "
                "ON CONFLICT (child_id) DO UPDATE SET pinyin=excluded.pinyin, "
                "completeness=excluded.completeness, file=excluded.file, "
                + ", ".join(f"{c}=excluded.{c}" for c in COLUMNS))

    @staticmethod
    def _row(child_id: str, position: int, file: dict[str, Any]) -> tuple[Any, ...]:
        erased = file.get("status") == "erased"
        return (child_id, position, "" if erased else name_pinyin(file["name"]),
                case_file.completeness(file)["ratio"], to_json(file),
                *[file[c] for c in COLUMNS])

    # --- reads --------------------------------------------------------------------------

    def place(self, cur: Cursor, child_id: str) -> dict[str, Any] | None:
        """Where the child is (township, village, school, class, paired helpers): what
        jurisdiction is decided on. None for an unknown child."""
        row = cur.execute(f"SELECT file FROM {self.children} WHERE child_id=?",
                          (child_id,)).fetchone()
        return jurisdiction.place_of(json.loads(row["file"])) if row else None

    def page(self, cur: Cursor, filters: dict[str, str], q: str | None, after: int,
             limit: int, reach: tuple[str, list[Any]] = ("1=1", [])) -> list[dict[str, Any]]:
        """Children in registration order after the cursor position, within reach (a
        clause of services/jurisdiction.reach_clause)."""
        where, params = ["position > ?", f"({reach[0]})"], [after, *reach[1]]
        for key in FILTERS:
            if filters.get(key):
                where.append(f"{key} = ?")
                params.append(filters[key])
        if q:
            # ESCAPE on both stores: a % or _ typed in the search box matches itself.
            where.append("(name LIKE ? ESCAPE '\\' OR pinyin LIKE ? ESCAPE '\\')")
            params += [f"%{like_literal(q)}%", f"%{like_literal(q.lower().replace(' ', ''))}%"]
        rows = cur.execute(
            f"SELECT child_id, position, completeness, {', '.join(COLUMNS)} FROM {self.children}"
            f" WHERE {' AND '.join(where)} ORDER BY position LIMIT ?", (*params, limit)).fetchall()
        return rows
