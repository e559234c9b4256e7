"""One file per ID number: the claim that makes a national ID number name one child.

Two agencies registering the same child is the commonest error of a shared registry. The
claim's id is a uuid5 of the normalised ID number and it is saved in the same save as the
child's Registered event, so the store's primary key refuses the second writer even when
both register at the same instant (as domain/grant.py's GrantSlot does for grants). The
claim's events hold the child's id only, never the ID number.
"""

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ConflictingState
from domain.recorded import RecordedEvent, meta


def normalise_id_number(id_number: str) -> str:
    """The form the claim is keyed on: no spaces, the check character X in upper case."""
    return "".join(id_number.split()).upper()


def claim_id_for(id_number: str) -> UUID:
    """The one claim an ID number can have."""
    return uuid5(NAMESPACE_URL, f"qianshou:id-number:{normalise_id_number(id_number)}")


class DuplicateChild(ConflictingState):
    """409: the ID number is already on file; the answer names the existing child."""

    def __init__(self, existing_child_id: str) -> None:
        super().__init__(f"a child with this ID number is already registered: "
                         f"{existing_child_id}")
        self.details = {"existing_child_id": existing_child_id}


class IdNumberClaim(Aggregate):
    """The index aggregate of one ID number: which child's file holds it."""

    class Event(RecordedEvent):
        pass

    class Claimed(Aggregate.Created, Event):
        child_id: str

    def __init__(self, child_id: str, **_: Any) -> None:
        self.child_id = child_id

    @classmethod
    def claim(cls, id_number: str, child_id: UUID) -> "IdNumberClaim":
        """The first file with this ID number; a second claim of the same id is refused by
        the store (IntegrityError), and the command is decided again, then refused."""
        return cls._create(cls.Claimed, id=claim_id_for(id_number), **meta(None),
                           child_id=str(child_id))

    def refuse(self) -> None:
        raise DuplicateChild(self.child_id)

    class PassedOn(Event):
        child_id: str

        def apply(self, claim: "IdNumberClaim") -> None:
            claim.child_id = self.child_id

    def pass_to(self, survivor_id: UUID) -> None:
        """A merge hands the ID number to the surviving file, so a later registration of
        that number names the file that is still open."""
        self.trigger_event(self.PassedOn, **meta(None), child_id=str(survivor_id))
