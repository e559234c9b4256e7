"""Which recorded facts are a child's personal data, and what an erased value looks like.

PIPL (docs/DOMAIN.md §3 "Erasure"): the personal fields of a child's events are
sealed with a key of that child's, so that destroying the key erases them everywhere the
history is kept. What stays clear is what counts, totals, jurisdiction and the assessment
need: the child's place (township, village, school, class), sex, birth date, the kinds and
times of events, grant amounts. A path names a field of the event's state; "a.b" is the
key b of the dict in field a. A field holding a dict or list is sealed in every string
inside it, so its shape (which keys, how many parents) survives an erasure.
"""

from typing import Any

from domain.child import Child
from domain.grant import Grant
from domain.incident import Incident

ERASED = "〔已删除〕"  # what an erased value reads as, in the API, the pages and the views

PROFILE = ("profile.name", "profile.id_number")
PERSONAL_FIELDS: dict[type, tuple[str, ...]] = {
    Child.Registered: (*PROFILE, "guardian", "parents"),
    Child.GuardianReplaced: ("guardian",),
    Child.ParentsReplaced: ("parents",),
    Child.VisitRecorded: ("findings", "contacts_confirmed"),  # phones confirmed
    Child.CounsellingRecorded: ("notes",),
    Child.ParentFeedbackGiven: ("summary",),
    Child.ConductViolationRecorded: ("description",),
    Incident.Reported: ("location", "description"),
    Incident.ContactAttempted: ("name", "phone", "note"),
    Incident.Escalated: ("note",),
    Incident.Resolved: ("note",),
    Grant.Approved: ("description",),
    Grant.Revoked: ("reason",),
}
# A snapshot of a child holds the aggregate's attributes under "state".
SNAPSHOT_FIELDS: dict[type, tuple[str, ...]] = {
    Child: ("state.profile.name", "state.profile.id_number", "state.guardian", "state.parents"),
}

# Keys under which a view's JSON copy of a file or a timeline entry holds personal data;
# erasing a child replaces every string beneath them (views/scrub below).
PERSONAL_KEYS = frozenset({"name", "id_number", "guardian", "parents", "findings", "notes",
                           "summary", "description", "location", "note", "phone", "address",
                           "reason"})


def scrub(value: Any, erase: bool = False) -> Any:
    """A copy of a view's JSON value with every string under a personal key erased."""
    if isinstance(value, dict):
        return {k: scrub(v, erase or k in PERSONAL_KEYS) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, erase) for v in value]
    if isinstance(value, str) and erase and value:
        return ERASED
    return value
