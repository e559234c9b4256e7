"""What every view offers the runner: create its tables, apply one event, start afresh."""

from typing import Any, Protocol


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ...) -> Any: ...
    def fetchone(self) -> dict[str, Any] | None: ...
    def fetchall(self) -> list[dict[str, Any]]: ...


class View(Protocol):
    """A read model. It may also offer apply_batch(cur, [(position, event)]) to write in sets;
    the runner then calls that instead of apply, in the same transaction."""

    name: str

    def create_tables(self, cur: Cursor) -> None: ...
    def apply(self, cur: Cursor, position: int, event: Any) -> None: ...
    def reset(self, cur: Cursor) -> None: ...


def in_clause(count: int) -> str:
    """`(?,?,?)` for a list of parameters."""
    return "(" + ",".join("?" * count) + ")"


def iso(value: Any) -> str:
    """Times are stored as ISO text in UTC on both stores, so they sort as text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
