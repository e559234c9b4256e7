"""Incident commands (docs/DOMAIN.md §4 "Incidents"): report, contact, escalate, resolve."""

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, StringConstraints

from domain.actor import Actor
from domain.child import Child
from domain.errors import ConflictingState
from domain.incident import Incident
from services.application import Answer, Qianshou
from services.commands import Command, Name, Short, Text
from services.idempotency import IdempotencyRequest
from services.jurisdiction import require_reach
from services.permissions import require

Category = Literal["injury", "severe_illness", "missing", "drowning", "abuse", "bullying",
                   "psychological_crisis", "living_alone", "other"]
ContactRole = Literal["police_110", "ambulance_120", "guardian", "parent", "class_teacher",
                      "paired_helper", "child_director", "grid_worker", "township_supervisor",
                      "other"]
# 110 and 120 are not mobile numbers but are dialled in an emergency.
CallablePhone = Annotated[str, StringConstraints(
    strip_whitespace=True, pattern=r"^(110|119|120|1\d{10}|0\d{2,3}-?\d{7,8})$")]


class ReportIncident(Command):
    id: UUID | None = None
    child_id: UUID
    category: Category
    severity: Literal["low", "medium", "high", "critical"]
    occurred_at: AwareDatetime
    location: Short
    description: Text = ""


class RecordContactAttempt(Command):
    contact_role: ContactRole
    name: Name | None = None
    phone: CallablePhone
    channel: Literal["phone", "sms", "wechat", "in_person", "other"] = "phone"
    reached: bool
    note: Text = ""


class Escalate(Command):
    to: Literal["school", "township", "police", "hospital", "civil_affairs"]
    note: Text = ""


class Resolve(Command):
    outcome: Short
    note: Text = ""


class IncidentHandlers:
    """The use cases of an emergency, bound to one application."""

    def __init__(self, app: Qianshou) -> None:
        self.app = app

    def report(self, cmd: ReportIncident, actor: Actor,
               idem: IdempotencyRequest | None) -> Answer:
        require(actor, "incident.report")
        incident_id = cmd.id or uuid4()

        def decide() -> tuple[list[Incident], int, dict[str, Any]]:
            if self.app.exists(incident_id):
                raise ConflictingState(f"an incident with id {incident_id} already exists")
            child = self.app.load(cmd.child_id, Child, "child")
            require_reach(actor, child.place)
            incident = Incident.report(cmd.child_id, cmd.category, cmd.severity,
                                       cmd.occurred_at, cmd.location, cmd.description,
                                       child.birth_date, incident_id)
            return [incident], 201, {"id": str(incident_id), "child_id": str(cmd.child_id),
                                     "category": cmd.category, "status": "open"}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=incident_id)

    def change(self, incident_id: UUID, step: Callable[[Incident], None], actor: Actor,
               idem: IdempotencyRequest | None) -> Answer:
        """Every later step: load the incident fresh, apply one step, save."""
        require(actor, "incident.report")

        def decide() -> tuple[list[Incident], int, dict[str, Any]]:
            incident = self.app.load(incident_id, Incident, "incident")
            require_reach(actor, self.app.load(UUID(incident.child_id), Child, "child").place)
            step(incident)
            return [incident], 200, {"id": str(incident_id), "version": incident.version,
                                     "status": "resolved" if incident.resolved else "open"}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=incident_id)

    def attempt_contact(self, incident_id: UUID, cmd: RecordContactAttempt, actor: Actor,
                        idem: IdempotencyRequest | None) -> Answer:
        return self.change(incident_id, lambda i: i.attempt_contact(
            cmd.contact_role, cmd.name or "", cmd.phone, cmd.channel, cmd.reached, cmd.note),
            actor, idem)

    def escalate(self, incident_id: UUID, cmd: Escalate, actor: Actor,
                 idem: IdempotencyRequest | None) -> Answer:
        return self.change(incident_id, lambda i: i.escalate(cmd.to, cmd.note), actor, idem)

    def resolve(self, incident_id: UUID, cmd: Resolve, actor: Actor,
                idem: IdempotencyRequest | None) -> Answer:
        return self.change(incident_id, lambda i: i.resolve(cmd.outcome, cmd.note), actor, idem)
