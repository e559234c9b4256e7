"""What every view offers the runner: create its tables, apply one event, start afresh."""

import json
from typing import Any, Protocol
from uuid import UUID

import orjson


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


def like_literal(text: str) -> str:
    """Text to put inside a LIKE pattern that matches only itself, for a LIKE written with
    ESCAPE '\\' (the same on SQLite, which has no default escape, and on PostgreSQL)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def iso(value: Any) -> str:
    """Times are stored as ISO text in UTC on both stores, so they sort as text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# What json.dumps(value, ensure_ascii=False, default=str) gives, without its spaces: the
# views encode about two documents an event, and the json module's encoder was a tenth of a
# rebuild's samples (py-spy). Times, dates and dataclasses still go through str().
_ORJSON_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                   | orjson.OPT_NON_STR_KEYS)
_fallback = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode


def to_json(value: Any) -> str:
    """A view's document as JSON text (UTF-8, no escapes for Chinese). A non-finite float
    would be null, not json's non-standard Infinity: no command admits one."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:  # what orjson refuses (an integer past 64 bits): as json
        return _fallback(value)


class TextUUID(UUID):
    """An aggregate id that keeps its text. The views ask for str(event.originator_id)
    about ten times an event, and UUID formats it anew each time: a twentieth of a rebuild
    (py-spy). Equal to, and hashed as, the plain UUID."""

    __slots__ = ("_text",)

    def __str__(self) -> str:
        return self._text  # type: ignore[no-any-return]

    def __reduce__(self) -> Any:
        return UUID, (self._text,)  # pickled as a plain UUID


def with_text_ids(events: list[Any]) -> list[Any]:
    """The decoded events, each originator id replaced by an equal TextUUID (one a batch
    per aggregate). The events are the runner's own copies, decoded for the views alone."""
    texts: dict[int, TextUUID] = {}
    for event in events:
        uid = event.originator_id
        text_id = texts.get(uid.int)
        if text_id is None:
            text_id = texts[uid.int] = _text_uuid(uid)
        event.__dict__["originator_id"] = text_id  # a frozen dataclass: set beneath it
    return events


def _text_uuid(uid: UUID) -> TextUUID:
    text_id = object.__new__(TextUUID)
    object.__setattr__(text_id, "int", uid.int)
    object.__setattr__(text_id, "is_safe", uid.is_safe)
    object.__setattr__(text_id, "_text", str(uid))
    return text_id
