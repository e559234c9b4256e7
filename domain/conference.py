"""Case conferences (座谈会/个案会商) and the actions they assign.

A conference is one fact: held on a date about some children, with its attendees, decisions
and actions. Each action is its own small aggregate, so that completing it is a load by id;
its id is derived from the conference's id and its place in the list (uuid5), so deciding a
conference again after a conflict assigns the same ids, and both are saved together.
"""

from datetime import UTC, date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ConflictingState, InvalidFact
from domain.recorded import RecordedEvent, meta
from domain.risk import local_date
from domain.values import CLOCK_SKEW, utcnow

# The programme's files start this century; older dates are typing errors.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def action_id_for(conference_id: UUID, index: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"qianshou:case-conference:{conference_id}:action:{index}")


class CaseConference(Aggregate):
    """A meeting of the agencies about one or more children; recorded once, never changed."""

    class Event(RecordedEvent):
        pass

    class Held(Aggregate.Created, Event):
        child_ids: list[str]
        attendees: list[dict[str, Any]]  # helper_id, agency, role
        decisions: list[str]
        actions: list[dict[str, Any]]  # action_id, description, agency, helper_id, child_ids, due

    def __init__(self, child_ids: list[str], attendees: list[dict[str, Any]],
                 decisions: list[str], actions: list[dict[str, Any]], **_: Any) -> None:
        self.child_ids = list(child_ids)
        self.attendees = [dict(a) for a in attendees]
        self.decisions = list(decisions)
        self.actions = [dict(a) for a in actions]

    @classmethod
    def hold(cls, conference_id: UUID, held_at: datetime, child_ids: list[str],
             attendees: list[dict[str, Any]], decisions: list[str],
             actions: list[dict[str, Any]]) -> tuple["CaseConference", list["Action"]]:
        """Record a conference that has taken place, and its actions, due on or after it.

        The conference and its actions share one recorded_at: they became known together,
        so a review as of that moment shows both.
        """
        if held_at.tzinfo is None:
            raise InvalidFact("held_at", "must carry a UTC offset, e.g. 2026-05-01T09:00:00+08:00")
        if held_at > utcnow() + CLOCK_SKEW:
            raise InvalidFact("held_at", "is in the future: record a conference once held")
        if held_at < EARLIEST:
            raise InvalidFact("held_at", f"is before {EARLIEST.date()}: no file is that old")
        for index, action in enumerate(actions):
            if date.fromisoformat(action["due"]) < local_date(held_at):
                raise InvalidFact(f"actions.{index}.due", "is before the conference was held")
        stamp = meta(held_at)
        conference = cls._create(cls.Held, id=conference_id, **stamp, child_ids=child_ids,
                                 attendees=attendees, decisions=decisions, actions=actions)
        return conference, [Action.assign(conference_id, stamp, a) for a in actions]


class Action(Aggregate):
    """What a conference asked of an agency or helper, by when; open until completed."""

    class Event(RecordedEvent):
        pass

    class Assigned(Aggregate.Created, Event):
        conference_id: str
        child_ids: list[str]
        description: str
        responsible_agency: str  # `agency` is the recording user's, as on every event
        helper_id: str | None
        due: str  # ISO date, in Asia/Shanghai

    def __init__(self, conference_id: str, child_ids: list[str], description: str,
                 responsible_agency: str, helper_id: str | None, due: str, **_: Any) -> None:
        self.conference_id = conference_id
        self.child_ids = list(child_ids)
        self.description = description
        self.responsible_agency = responsible_agency
        self.helper_id = helper_id
        self.due = due
        self.completed = False

    @classmethod
    def assign(cls, conference_id: UUID, stamp: dict[str, Any],
               action: dict[str, Any]) -> "Action":
        """The conference's action as its own file; `action` is one entry of Held.actions,
        `stamp` the conference's meta fields."""
        return cls._create(cls.Assigned, id=UUID(action["action_id"]), **stamp,
                           conference_id=str(conference_id), child_ids=action["child_ids"],
                           description=action["description"],
                           responsible_agency=action["agency"],
                           helper_id=action["helper_id"], due=action["due"])

    class Completed(Event):
        note: str

        def apply(self, action: "Action") -> None:
            action.completed = True

    def complete(self, note: str) -> None:
        if self.completed:
            raise ConflictingState("the action is already completed")
        self.trigger_event(self.Completed, **meta(None), note=note)
