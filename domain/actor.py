"""Who is acting. Set once per request by the web layer, read when an event is made."""

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """The signed-in user on whose behalf a command runs."""

    user_id: str
    username: str
    agency: str
    role: str
    # Where the user works: township, village, school, class_name, or helper_id (volunteers).
    jurisdiction: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


SYSTEM = Actor(user_id="system", username="system", agency="township", role="admin")

current_actor: ContextVar[Actor] = ContextVar("current_actor", default=SYSTEM)
