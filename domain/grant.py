"""Relief programmes and their grants (救助/资助), with a slot that makes a grant unique.

A grant is approved by its creator and disbursed by another user (segregation of duties:
the domain refuses approver = disburser; the audit still flags it, since imported history
may hold it). One grant per programme, child and period is enforced by the store: the
GrantSlot's id is a uuid5 of that key, saved in the same save as the grant.
"""

import re
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import current_actor
from domain.errors import ConflictingState, InvalidFact
from domain.recorded import RecordedEvent, meta
from domain.values import check_occurred_at, utcnow

PERIOD_KINDS = ("once", "monthly", "term", "yearly")
GRANT_KINDS = ("cash", "transfer", "in_kind")
# The shape of a period for each kind: 2026-06, 2026-T1, 2026; "once" names its day or event.
PERIOD_PATTERNS = {
    "once": r"^\S.{0,39}$",
    "monthly": r"^\d{4}-(0[1-9]|1[0-2])$",
    "term": r"^\d{4}-T[12]$",
    "yearly": r"^\d{4}$",
}


def programme_id_for(code: str) -> UUID:
    """Deterministic id: the store's primary key refuses a second programme of one code."""
    return uuid5(NAMESPACE_URL, f"qianshou:programme:{code.lower()}")


def slot_id_for(programme: str, child_id: UUID | str, period: str) -> UUID:
    """The one slot a programme has for a child in a period."""
    return uuid5(NAMESPACE_URL, f"qianshou:grant-slot:{programme.lower()}:{child_id}:{period}")


class Programme(Aggregate):
    """A relief programme: who funds it, the cap per child per period, how periods run."""

    class Event(RecordedEvent):
        pass

    class Created(Aggregate.Created, Event):
        code: str
        name: str
        funding_agency: str
        cap_fen: int
        period_kind: str

    def __init__(self, code: str, name: str, funding_agency: str, cap_fen: int,
                 period_kind: str, **_: Any) -> None:
        self.code = code
        self.name = name
        self.funding_agency = funding_agency
        self.cap_fen = cap_fen
        self.period_kind = period_kind

    @classmethod
    def create(cls, code: str, name: str, funding_agency: str, cap_fen: int,
               period_kind: str) -> "Programme":
        """Open a programme; its code is its identity."""
        if period_kind not in PERIOD_KINDS:
            raise InvalidFact("period_kind", f"must be one of {', '.join(PERIOD_KINDS)}")
        if cap_fen <= 0:
            raise InvalidFact("cap_fen", "must be a positive number of fen")
        return cls._create(cls.Created, id=programme_id_for(code), **meta(None), code=code,
                           name=name, funding_agency=funding_agency, cap_fen=cap_fen,
                           period_kind=period_kind)

    def check_period(self, period: str) -> None:
        """A period must have the shape of the programme's period kind."""
        if not re.match(PERIOD_PATTERNS[self.period_kind], period):
            raise InvalidFact("period", f"does not fit a {self.period_kind} programme")


class Grant(Aggregate):
    """One grant to one child: approved, then disbursed or revoked."""

    class Event(RecordedEvent):
        pass

    class Approved(Aggregate.Created, Event):
        child_id: str
        programme: str
        amount_fen: int
        period: str
        kind: str
        description: str

    def __init__(self, child_id: str, programme: str, amount_fen: int, period: str, kind: str,
                 description: str, actor_id: str, **_: Any) -> None:
        self.child_id = child_id
        self.programme = programme
        self.amount_fen = amount_fen
        self.period = period
        self.kind = kind
        self.description = description
        self.approver = actor_id
        self.disbursed_by: str | None = None
        self.revoked = False

    @classmethod
    def approve(cls, grant_id: UUID, programme: Programme, child_id: UUID, amount_fen: int,
                period: str, kind: str, description: str) -> "Grant":
        """The caller approves: amount within the cap, period of the programme's kind."""
        if kind not in GRANT_KINDS:
            raise InvalidFact("kind", f"must be one of {', '.join(GRANT_KINDS)}")
        if amount_fen <= 0:
            raise InvalidFact("amount_fen", "must be a positive number of fen")
        if amount_fen > programme.cap_fen:
            raise InvalidFact("amount_fen", f"is above the programme's cap of "
                                            f"{programme.cap_fen} fen")
        programme.check_period(period)
        if kind == "in_kind" and not description:
            raise InvalidFact("description", "must say what goods were given")
        return cls._create(cls.Approved, id=grant_id, **meta(None), child_id=str(child_id),
                           programme=programme.code, amount_fen=amount_fen, period=period,
                           kind=kind, description=description)

    @property
    def slot_id(self) -> UUID:
        return slot_id_for(self.programme, self.child_id, self.period)

    class Disbursed(Event):
        method: str
        reference: str

        def apply(self, grant: "Grant") -> None:
            grant.disbursed_by = self.actor_id

    def disburse(self, occurred_at: datetime, method: str, reference: str) -> None:
        """Another user pays it out, once, unless it was revoked."""
        if self.revoked:
            raise ConflictingState("the grant was revoked")
        if self.disbursed_by is not None:
            raise ConflictingState("the grant was already disbursed")
        if current_actor.get().username == self.approver:
            raise ConflictingState("the approver of a grant may not also disburse it")
        check_occurred_at(occurred_at, None, utcnow())
        self.trigger_event(self.Disbursed, **meta(occurred_at), method=method,
                           reference=reference)

    class Revoked(Event):
        reason: str

        def apply(self, grant: "Grant") -> None:
            grant.revoked = True

    def revoke(self, reason: str) -> None:
        """Only an unpaid grant may be revoked; money paid out needs a recovery instead."""
        if self.revoked:
            raise ConflictingState("the grant was already revoked")
        if self.disbursed_by is not None:
            raise ConflictingState("a disbursed grant cannot be revoked")
        self.trigger_event(self.Revoked, **meta(None), reason=reason)


class GrantSlot(Aggregate):
    """The index aggregate of one programme + child + period: holds at most one grant."""

    class Event(RecordedEvent):
        pass

    class Opened(Aggregate.Created, Event):
        grant_id: str

    def __init__(self, grant_id: str, **_: Any) -> None:
        self.grant_id: str | None = grant_id

    @classmethod
    def take_new(cls, grant: Grant) -> "GrantSlot":
        """The first grant of this key: a second writer of the same id is refused by the store."""
        return cls._create(cls.Opened, id=grant.slot_id, **meta(None), grant_id=str(grant.id))

    def _refuse_if_held(self) -> None:
        if self.grant_id is not None:
            raise ConflictingState(f"this programme already has grant {self.grant_id} for the "
                                   "child in this period")

    class Taken(Event):
        grant_id: str

        def apply(self, slot: "GrantSlot") -> None:
            slot.grant_id = self.grant_id

    def take(self, grant: Grant) -> None:
        """A freed slot takes a new grant."""
        self._refuse_if_held()
        self.trigger_event(self.Taken, **meta(None), grant_id=str(grant.id))

    class Released(Event):
        grant_id: str

        def apply(self, slot: "GrantSlot") -> None:
            slot.grant_id = None

    def release(self, grant: Grant) -> None:
        """A revoked grant frees its slot."""
        if self.grant_id == str(grant.id):
            self.trigger_event(self.Released, **meta(None), grant_id=str(grant.id))
