"""The user list for administrators: who has an account, of which agency, role and place."""

import json
from typing import Any

from domain.user import User
from projections.batching import apply_in_runs
from projections.view import Cursor


class UsersView:
    """Table users_list: one row per account; no password hash is ever copied here."""

    name = "users"

    def __init__(self, table: Any) -> None:
        self.users = table("users_list")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.users} (username TEXT PRIMARY KEY, "
                    "user_id TEXT NOT NULL UNIQUE, agency TEXT NOT NULL, role TEXT NOT NULL, "
                    "jurisdiction TEXT NOT NULL, "
                    "disabled INTEGER NOT NULL, created_at TEXT NOT NULL)")

    def reset(self, cur: Cursor) -> None:
        cur.execute(f"DELETE FROM {self.users}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py)."""
        apply_in_runs(self.apply, cur, events)

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, User.Created):
            cur.execute(f"INSERT INTO {self.users} VALUES (?,?,?,?,?,0,?)",
                        (event.username, str(event.originator_id), event.user_agency, event.role,
                         json.dumps(event.jurisdiction, ensure_ascii=False),
                         event.recorded_at.isoformat()))
            return
        if not isinstance(event, User.Event):
            return
        user_id = str(event.originator_id)
        if isinstance(event, User.RoleChanged):
            cur.execute(f"UPDATE {self.users} SET role=? WHERE user_id=?", (event.role, user_id))
        elif isinstance(event, User.JurisdictionChanged):
            cur.execute(f"UPDATE {self.users} SET jurisdiction=? WHERE user_id=?",
                        (json.dumps(event.jurisdiction, ensure_ascii=False), user_id))
        elif isinstance(event, User.Disabled):
            cur.execute(f"UPDATE {self.users} SET disabled=1 WHERE user_id=?", (user_id,))

    def page(self, cur: Cursor, after: str, limit: int) -> list[dict[str, Any]]:
        rows = cur.execute(f"SELECT username, agency, role, jurisdiction, disabled, created_at "
                           f"FROM {self.users} WHERE username > ? ORDER BY username LIMIT ?",
                           (after, limit)).fetchall()
        for row in rows:
            row["jurisdiction"] = json.loads(row["jurisdiction"])
            row["disabled"] = bool(row["disabled"])
        return rows
