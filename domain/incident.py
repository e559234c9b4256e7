"""The Incident aggregate (突发事件): reported, contacts attempted, escalated, resolved."""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import ConflictingState
from domain.recorded import RecordedEvent, meta
from domain.values import check_occurred_at, utcnow

# Abuse and violence must be reported to police (强制报告).
MANDATORY_REPORT = ("abuse",)


class Incident(Aggregate):
    """One emergency about one child; every step is a fact of who did what, and when."""

    class Event(RecordedEvent):
        pass

    class Reported(Aggregate.Created, Event):
        child_id: str
        category: str
        severity: str
        location: str
        description: str

    def __init__(self, child_id: str, category: str, severity: str, location: str,
                 description: str, **_: Any) -> None:
        self.child_id = child_id
        self.category = category
        self.severity = severity
        self.location = location
        self.description = description
        self.escalated_to: list[str] = []
        self.resolved = False

    @classmethod
    def report(cls, child_id: UUID, category: str, severity: str, occurred_at: datetime,
               location: str, description: str, birth_date: date | None,
               incident_id: UUID | None = None) -> "Incident":
        """Open an incident; it cannot have happened in the future or before the child's birth."""
        check_occurred_at(occurred_at, birth_date, utcnow())
        return cls._create(cls.Reported, id=incident_id or uuid4(), **meta(occurred_at),
                           child_id=str(child_id), category=category, severity=severity,
                           location=location, description=description)

    def _open_meta(self) -> dict[str, Any]:
        """A resolved incident takes no further step."""
        if self.resolved:
            raise ConflictingState("the incident is resolved")
        return meta(None)

    class ContactAttempted(Event):
        contact_role: str
        name: str
        phone: str
        channel: str
        reached: bool
        note: str

    def attempt_contact(self, contact_role: str, name: str, phone: str, channel: str,
                        reached: bool, note: str) -> None:
        self.trigger_event(self.ContactAttempted, **self._open_meta(), contact_role=contact_role,
                           name=name, phone=phone, channel=channel, reached=reached, note=note)

    class Escalated(Event):
        to: str
        note: str

        def apply(self, incident: "Incident") -> None:
            incident.escalated_to.append(self.to)

    def escalate(self, to: str, note: str) -> None:
        self.trigger_event(self.Escalated, **self._open_meta(), to=to, note=note)

    class Resolved(Event):
        outcome: str
        note: str

        def apply(self, incident: "Incident") -> None:
            incident.resolved = True

    def resolve(self, outcome: str, note: str) -> None:
        self.trigger_event(self.Resolved, **self._open_meta(), outcome=outcome, note=note)


REPORT_WITHIN_HOURS = 24


def is_overdue(category: str, reported_at: datetime, police_at: datetime | None,
               now: datetime) -> bool:
    """Abuse with no escalation to police within 24 hours of the report is overdue."""
    if category not in MANDATORY_REPORT:
        return False
    deadline = reported_at.timestamp() + REPORT_WITHIN_HOURS * 3600
    if police_at is not None:
        return police_at.timestamp() > deadline
    return now.timestamp() > deadline
