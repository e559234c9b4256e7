"""Case-conference commands (docs/DOMAIN.md §6 "Conferences"): shape rules at the boundary."""

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from services.commands import FREE_TEXT, Agency, Command, Text

ActionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=500), FREE_TEXT]
Decision = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=2000), FREE_TEXT]


def _distinct(values: list[UUID], what: str) -> list[UUID]:
    if len(set(values)) != len(values):
        raise ValueError(f"names the same {what} twice")
    return values


class Attendee(Command):
    helper_id: UUID


class ConferenceAction(Command):
    """What, which agency, who, by when. `child_id` narrows it to one of the conference's
    children; without it the action concerns all of them."""

    description: ActionText
    agency: Agency
    helper_id: UUID | None = None
    child_id: UUID | None = None
    due: date


class HoldConference(Command):
    id: UUID | None = None
    held_at: AwareDatetime
    child_ids: list[UUID] = Field(min_length=1, max_length=30)
    attendees: list[Attendee] = Field(default_factory=list, max_length=50)
    decisions: list[Decision] = Field(default_factory=list, max_length=50)
    actions: list[ConferenceAction] = Field(default_factory=list, max_length=50)

    @field_validator("child_ids")
    @classmethod
    def _children_distinct(cls, value: list[UUID]) -> list[UUID]:
        return _distinct(value, "child")

    @field_validator("attendees")
    @classmethod
    def _attendees_distinct(cls, value: list[Attendee]) -> list[Attendee]:
        _distinct([a.helper_id for a in value], "helper")
        return value


class CompleteAction(Command):
    note: Text = ""
