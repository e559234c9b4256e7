"""Grant use cases: open a programme, approve, disburse and revoke grants."""

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from domain.actor import Actor
from domain.child import Child
from domain.errors import ConflictingState
from domain.grant import Grant, GrantSlot, Programme, programme_id_for
from services.application import Answer, Qianshou
from services.commands import Command, Reason, Short, Text
from services.idempotency import IdempotencyRequest
from services.jurisdiction import require_reach
from services.permissions import require

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{2,40}$")]
# Who funds a programme: the five agencies, and civil affairs (民政, 低保) and education (助学金).
FundingAgency = Literal["school", "womens_federation", "youth_league", "township", "community",
                        "civil_affairs", "education"]
# Up to 1,000,000 yuan: a typo of extra zeros is refused at the door.
Fen = Annotated[int, Field(gt=0, le=100_000_000)]


class CreateProgramme(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "ZXJ-2025", "name": "助学金", "funding_agency": "education", "cap_fen": 100000,
        "period_kind": "term"}]})

    code: Code
    name: Short
    funding_agency: FundingAgency
    cap_fen: Fen
    period_kind: Literal["once", "monthly", "term", "yearly"]


class ApproveGrant(Command):
    id: UUID | None = None
    child_id: UUID
    programme: Code
    amount_fen: Fen
    period: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    kind: Literal["cash", "transfer", "in_kind"]
    description: Text = ""


class DisburseGrant(Command):
    occurred_at: AwareDatetime
    method: Literal["cash", "transfer", "in_kind"]
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class RevokeGrant(Command):
    reason: Reason


Decided = tuple[list[Aggregate], int, dict[str, Any]]


class GrantHandlers:
    """The grant use cases, bound to one application."""

    def __init__(self, app: Qianshou) -> None:
        self.app = app

    def create_programme(self, cmd: CreateProgramme, actor: Actor,
                         idem: IdempotencyRequest | None) -> Answer:
        require(actor, "grant.programme")
        programme_id = programme_id_for(cmd.code)

        def decide() -> Decided:
            if self.app.exists(programme_id):
                raise ConflictingState(f"programme {cmd.code} already exists")
            programme = Programme.create(cmd.code, cmd.name, cmd.funding_agency, cmd.cap_fen,
                                         cmd.period_kind)
            return [programme], 201, {"id": str(programme_id), "code": cmd.code}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=programme_id)

    def approve(self, cmd: ApproveGrant, actor: Actor, idem: IdempotencyRequest | None) -> Answer:
        """The grant and its slot are saved together: a second approval of the key gets 409."""
        require(actor, "grant.approve")
        grant_id = cmd.id or uuid4()  # chosen once, so a re-decide after a race keeps it

        def decide() -> Decided:
            if self.app.exists(grant_id):
                raise ConflictingState(f"a grant with id {grant_id} already exists")
            programme = self.app.load(programme_id_for(cmd.programme), Programme, "programme")
            require_reach(actor, self.app.load(cmd.child_id, Child, "child").place)
            grant = Grant.approve(grant_id, programme, cmd.child_id, cmd.amount_fen, cmd.period,
                                  cmd.kind, cmd.description)
            if self.app.exists(grant.slot_id):
                slot = self.app.load(grant.slot_id, GrantSlot, "grant slot")
                slot.take(grant)
            else:
                slot = GrantSlot.take_new(grant)
            return [slot, grant], 201, {"id": str(grant_id), "slot_id": str(slot.id)}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=grant_id)

    def disburse(self, grant_id: UUID, cmd: DisburseGrant, actor: Actor,
                 idem: IdempotencyRequest | None) -> Answer:
        """The caller pays it out; the domain refuses the grant's own approver."""
        require(actor, "grant.disburse")

        def change(grant: Grant) -> list[Aggregate]:
            grant.disburse(cmd.occurred_at, cmd.method, cmd.reference)
            return [grant]

        return self._change(grant_id, actor, idem, change)

    def revoke(self, grant_id: UUID, cmd: RevokeGrant, actor: Actor,
               idem: IdempotencyRequest | None) -> Answer:
        """Revoking frees the slot in the same save, so a new grant may take it."""
        require(actor, "grant.revoke")

        def change(grant: Grant) -> list[Aggregate]:
            grant.revoke(cmd.reason)
            slot = self.app.load(grant.slot_id, GrantSlot, "grant slot")
            slot.release(grant)
            return [grant, slot]

        return self._change(grant_id, actor, idem, change)

    def _change(self, grant_id: UUID, actor: Actor, idem: IdempotencyRequest | None,
                change: Callable[[Grant], list[Aggregate]]) -> Answer:
        """Load the grant fresh, apply one change, save what it touched."""

        def decide() -> Decided:
            grant = self.app.load(grant_id, Grant, "grant")
            require_reach(actor, self.app.load(UUID(grant.child_id), Child, "child").place)
            changed = change(grant)
            return changed, 200, {"id": str(grant_id), "version": grant.version}

        return self.app.execute(decide, actor=actor, idem=idem, lock_key=grant_id)
