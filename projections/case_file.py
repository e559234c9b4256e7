"""The child's file folded from its events: shared by the archive, the registry and as-of reads."""

from typing import Any

from domain.child import Child
from domain.incident import Incident
from domain.personal import scrub
from domain.values import event_data

# The facts a complete file (建档) must hold; completeness is the share present.
REQUIRED_FACTS = ("name", "sex", "birth_date", "id_number", "school", "grade", "class_name",
                  "township", "village", "left_behind_type", "guardian.name", "guardian.phone",
                  "guardian.address", "parents", "parents.phone", "paired_helper")


# The events that change a file; every other event (visits, feedback, exams: most of a
# history) leaves the very same dict, unchanged and not copied.
FILE_EVENTS = (Child.Registered, Child.GuardianReplaced, Child.ParentsReplaced,
               Child.EnrollmentChanged, Child.HelperPaired, Child.HelperUnpaired,
               Child.StatusChanged, Child.MergedInto, Child.Erased, Child.Merged)
_changes_file: dict[type, bool] = {}  # by event class: isinstance of the ten, asked once


def changes_file(event: Any) -> bool:
    """Whether fold may change a file for this event (isinstance over ten classes took
    0.9 µs, and fold is asked three times an event in a rebuild)."""
    kind = type(event)
    found = _changes_file.get(kind)
    if found is None:
        found = _changes_file[kind] = issubclass(kind, FILE_EVENTS)
    return found


def fold(file: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """Apply one Child event to the plain-dict file; other events leave it as it was (the
    same object: callers never change a file in place)."""
    if not changes_file(event):
        return file
    if isinstance(event, Child.Registered):
        return {"child_id": str(event.originator_id), **event.profile, "guardian": event.guardian,
                "parents": event.parents, "pairings": {}, "status": "active",
                "registered_at": event.recorded_at.isoformat()}
    if file is None:
        return file
    file = dict(file)
    if isinstance(event, Child.GuardianReplaced):
        file["guardian"] = event.guardian
    elif isinstance(event, Child.ParentsReplaced):
        file["parents"] = event.parents
    elif isinstance(event, Child.EnrollmentChanged):
        file.update(school=event.school, grade=event.grade, class_name=event.class_name)
    elif isinstance(event, Child.HelperPaired):
        file["pairings"] = {**file["pairings"], event.helper_id: event.since}
    elif isinstance(event, Child.HelperUnpaired):
        file["pairings"] = {k: v for k, v in file["pairings"].items() if k != event.helper_id}
    elif isinstance(event, Child.StatusChanged):
        file["status"] = event.status
    elif isinstance(event, Child.MergedInto):
        file.update(status="merged", merged_into=event.survivor_id)
    elif isinstance(event, Child.Erased):
        file = {**scrub(file), "status": "erased"}  # what a rebuild decodes, too
    elif isinstance(event, Child.Merged):
        # The files whose histories this one now shows (the archive reads their timelines).
        file["absorbed"] = [*file.get("absorbed", []), *event.absorbed_ids]
    return file


def completeness(file: dict[str, Any]) -> dict[str, Any]:
    """The share of required facts present, and which are missing."""
    present = {
        "guardian.name": bool(file["guardian"].get("name")),
        "guardian.phone": bool(file["guardian"].get("phone")),
        "guardian.address": bool(file["guardian"].get("address")),
        "parents": bool(file["parents"]) or file.get("left_behind_type") == "other",
        "parents.phone": any(p.get("phone") for p in file["parents"]),
        "paired_helper": bool(file["pairings"]),
    }
    missing = [f for f in REQUIRED_FACTS if not present.get(f, bool(file.get(f)))]
    share = round((len(REQUIRED_FACTS) - len(missing)) / len(REQUIRED_FACTS), 2)
    return {"ratio": share, "missing": missing}


def timeline_entry(position: int | None, event: Any) -> dict[str, Any]:
    """One line of the timeline, in the shape README's API table gives."""
    about_incident = isinstance(event, Incident.Event)
    entry = {
        "position": position,
        "version": event.originator_version,
        # Incident steps are named as such beside the child's own facts.
        "type": ("Incident" if about_incident else "") + type(event).__name__,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "actor": event.actor_id,
        "agency": event.agency,
        "data": event_data(event),
    }
    if about_incident:
        entry["incident_id"] = str(event.originator_id)
    return entry
