"""The signed-in sessions, in the store's own database, so that every process sees a logout.

One row per token that sign-in gave out (its `jti` claim), deleted when the user signs out
or is disabled, or once the token has expired anyway. A token is good only while its row is
there: every request reads the row by its primary key (services/auth.TokenService), so a
logout on one process ends the token on every other one at once, with no cache to go stale.

Like the access log, the table lives beside the views but is not a view: it is not derived
from events, so a projection rebuild never touches it.
"""

import time

from infra.viewdb import ViewDB


class SessionTable:
    """services/auth.Sessions on the store's database (SQLite file or PostgreSQL schema)."""

    def __init__(self, db: ViewDB) -> None:
        self.db = db
        self.table = db.table("auth_sessions")

    def create_table(self) -> None:
        with self.db.transaction() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (jti TEXT PRIMARY KEY, "
                        "username TEXT NOT NULL, expires_at BIGINT NOT NULL)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS auth_sessions_user ON {self.table} "
                        "(username)")
            cur.execute(f"CREATE INDEX IF NOT EXISTS auth_sessions_expiry ON {self.table} "
                        "(expires_at)")

    def open(self, jti: str, username: str, expires_at: int) -> None:
        """A new session; the expired ones go at the same time (a sign-in is rare and slow
        already, a request is not)."""
        with self.db.transaction() as cur:
            cur.execute(f"DELETE FROM {self.table} WHERE expires_at < ?", (int(time.time()),))
            cur.execute(f"INSERT INTO {self.table} (jti, username, expires_at) VALUES (?, ?, ?)",
                        (jti, username, expires_at))

    def holder(self, jti: str) -> str | None:
        """The user whose session this is, or None once it has ended."""
        with self.db.reading() as cur:
            row = cur.execute(f"SELECT username FROM {self.table} WHERE jti = ?",
                              (jti,)).fetchone()
        return str(row["username"]) if row else None

    def end(self, jti: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(f"DELETE FROM {self.table} WHERE jti = ?", (jti,))

    def end_all(self, username: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(f"DELETE FROM {self.table} WHERE username = ?", (username,))

    def count(self) -> int:
        """How many sessions are open (for tests and operators)."""
        with self.db.reading() as cur:
            row = cur.execute(f"SELECT count(*) AS n FROM {self.table}").fetchone()
        return int(row["n"]) if row else 0
