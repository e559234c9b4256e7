"""What every view offers the runner: create its tables, apply one event, start afresh."""

from typing import Any, Protocol


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ...) -> Any: ...
    def fetchone(self) -> dict[str, Any] | None: ...
    def fetchall(self) -> list[dict[str, Any]]: ...


class View(Protocol):
    name: str

    def create_tables(self, cur: Cursor) -> None: ...
    def apply(self, cur: Cursor, position: int, event: Any) -> None: ...
    def reset(self, cur: Cursor) -> None: ...


def iso(value: Any) -> str:
    """Times are stored as ISO text in UTC on both stores, so they sort as text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
