"""The Helper aggregate: a person who cares for children (teacher, volunteer, staff)."""

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.recorded import RecordedEvent, meta


class Helper(Aggregate):
    """Someone of an agency who can be paired with children or called in an emergency."""

    class Event(RecordedEvent):
        pass

    class Registered(Aggregate.Created, Event):
        details: dict[str, Any]

    def __init__(self, details: dict[str, Any], **_: Any) -> None:
        self.details = dict(details)

    @classmethod
    def register(cls, details: dict[str, Any], helper_id: UUID | None = None) -> "Helper":
        return cls._create(cls.Registered, id=helper_id or uuid4(), **meta(None), details=details)

    class DetailsChanged(Event):
        details: dict[str, Any]

        def apply(self, helper: "Helper") -> None:
            helper.details.update(self.details)

    def change_details(self, details: dict[str, Any]) -> None:
        self.trigger_event(self.DetailsChanged, **meta(None), details=details)
