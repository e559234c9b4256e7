"""Bare eventsourcing: a minimal aggregate whose events carry the project's payload."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from bench import payload
from bench.stores import bare_env


def _meta(occurred_at: datetime | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"actor_id": "system", "agency": "township", "occurred_at": occurred_at or now,
            "recorded_at": now}


class BareChild(Aggregate):
    """The Child's events without its rules: same fields, no checks."""

    class Event(Aggregate.Event):
        actor_id: str
        agency: str
        occurred_at: datetime
        recorded_at: datetime

    class Registered(Aggregate.Created, Event):
        profile: dict[str, Any]
        guardian: dict[str, Any]
        parents: list[dict[str, Any]]

    def __init__(self, profile: dict[str, Any], guardian: dict[str, Any],
                 parents: list[dict[str, Any]], **_: Any) -> None:
        self.profile, self.guardian, self.parents = profile, guardian, parents

    class VisitRecorded(Event):
        kind: str
        findings: str
        needs_followup: bool
        contacts_confirmed: list[str]

    @classmethod
    def register(cls, child_id: UUID, n: int) -> "BareChild":
        profile, guardian, parents = payload.registration_parts(n)
        return cls._create(cls.Registered, id=child_id, **_meta(), profile=profile,
                           guardian=guardian, parents=parents)

    def record_visit(self, body: dict[str, Any]) -> None:
        self.trigger_event(self.VisitRecorded,
                           **_meta(datetime.fromisoformat(body["occurred_at"])),
                           kind=body["kind"], findings=body["findings"],
                           needs_followup=body["needs_followup"],
                           contacts_confirmed=body["contacts_confirmed"])


class BareApp(Application):
    name = "BareBench"


class BareWorkload:
    """Register = create and save; visit = get, trigger, save: one save per command."""

    name = "bare"

    def __init__(self, url: str) -> None:
        self.app = BareApp(env=bare_env(url))

    def register(self, n: int) -> None:
        self.app.save(BareChild.register(payload.child_id(n), n))

    def visit(self, n: int, k: int) -> None:
        child: BareChild = self.app.repository.get(payload.child_id(n))
        child.record_visit(payload.visit_body(k))
        self.app.save(child)

    def close(self) -> None:
        self.app.close()
