"""What every fact carries: who recorded it, for which agency, when it happened and was written."""

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.actor import current_actor
from domain.values import utcnow


class RecordedEvent(Aggregate.Event):
    """The base of every aggregate's events: the actor, the agency and both times."""

    actor_id: str
    agency: str
    occurred_at: datetime
    recorded_at: datetime


def meta(occurred_at: datetime | None) -> dict[str, Any]:
    """The meta fields of a new event, from the acting user (set by the web layer)."""
    actor = current_actor.get()
    now = utcnow()
    return {
        "actor_id": actor.username,
        "agency": actor.agency,
        "occurred_at": occurred_at or now,
        "recorded_at": now,
    }
