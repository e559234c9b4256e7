"""Shared vocabulary of the case file: agencies, roles, statuses and time rules."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.errors import InvalidFact

AGENCIES = ("school", "womens_federation", "youth_league", "township", "community")
HELPER_ROLES = (
    "class_teacher", "volunteer", "counsellor", "grid_worker",
    "child_director", "township_supervisor", "principal",
)
USER_ROLES = ("admin", "auditor", *HELPER_ROLES)
LEFT_BEHIND_TYPES = ("both_parents_away", "one_parent_away", "single_parent", "other")
STATUSES = ("active", "no_longer_left_behind", "transferred", "aged_out", "closed")
VISIT_KINDS = ("home", "school", "phone")
RISK_LEVELS = ("low", "medium", "high")
SEVERITIES = ("minor", "serious")

# A phone's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)


def utcnow() -> datetime:
    """The server's clock, timezone-aware UTC."""
    return datetime.now(UTC)


def check_occurred_at(occurred_at: datetime, birth_date: date | None, now: datetime) -> None:
    """A fact cannot happen in the future, nor before the child was born."""
    if occurred_at.tzinfo is None:
        raise InvalidFact("occurred_at", "must carry a UTC offset, e.g. 2026-05-01T09:00:00+08:00")
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidFact("occurred_at", "is in the future")
    if birth_date is not None and occurred_at.date() < birth_date:
        raise InvalidFact("occurred_at", "is before the child's birth date")


_NOT_DATA = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic",
                       "actor_id", "agency", "occurred_at", "recorded_at"})


def event_data(event: Any) -> dict[str, Any]:
    """The facts an event holds, without the store's bookkeeping and the meta fields."""
    return {k: v for k, v in event.__dict__.items() if k not in _NOT_DATA}
