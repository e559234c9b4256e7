"""The User aggregate: a person who signs in, with one agency, one role, one jurisdiction."""

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ConflictingState
from domain.recorded import RecordedEvent, meta


def user_id_for(username: str) -> UUID:
    """Deterministic id: the store's primary key refuses a second user of the same name."""
    return uuid5(NAMESPACE_URL, f"qianshou:user:{username.lower()}")


class User(Aggregate):
    """A sign-in account. The password hash is kept; the password never is."""

    class Event(RecordedEvent):
        pass

    class Created(Aggregate.Created, Event):
        username: str
        password_hash: str
        user_agency: str
        role: str
        jurisdiction: dict[str, Any]

    def __init__(self, username: str, password_hash: str, user_agency: str, role: str,
                 jurisdiction: dict[str, Any], **_: Any) -> None:
        self.username = username
        self.password_hash = password_hash
        self.user_agency = user_agency
        self.role = role
        self.jurisdiction = dict(jurisdiction)
        self.disabled = False

    @classmethod
    def create(cls, username: str, password_hash: str, agency: str, role: str,
               jurisdiction: dict[str, Any]) -> "User":
        return cls._create(cls.Created, id=user_id_for(username), **meta(None),
                           username=username, password_hash=password_hash,
                           user_agency=agency, role=role, jurisdiction=jurisdiction)

    class RoleChanged(Event):
        role: str

        def apply(self, user: "User") -> None:
            user.role = self.role

    def change_role(self, role: str) -> None:
        self.trigger_event(self.RoleChanged, **meta(None), role=role)

    class JurisdictionChanged(Event):
        jurisdiction: dict[str, Any]

        def apply(self, user: "User") -> None:
            user.jurisdiction = dict(self.jurisdiction)

    def change_jurisdiction(self, jurisdiction: dict[str, Any]) -> None:
        self.trigger_event(self.JurisdictionChanged, **meta(None), jurisdiction=jurisdiction)

    class Disabled(Event):
        reason: str

        def apply(self, user: "User") -> None:
            user.disabled = True

    def disable(self, reason: str) -> None:
        if self.disabled:
            raise ConflictingState("the user is already disabled")
        self.trigger_event(self.Disabled, **meta(None), reason=reason)
