"""The cross-agency review of one child (个案会商): timeline, risk flags and open actions.

Two sources give the same shape. Now: the archive's timeline and the actions view. As of a
moment: the events themselves, keeping those recorded by then (as GET /children/{id}?as_of=
does), so a review shows exactly what the agencies knew when something happened.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import risk
from domain.child import Child
from domain.conference import Action, CaseConference
from projections import actions as action_rows
from projections import case_file


@dataclass
class Known:
    """What was known of a child: the folded file, the timeline (newest first), the actions."""

    file: dict[str, Any]
    timeline: list[dict[str, Any]]
    actions: list[dict[str, Any]] = field(default_factory=list)


def known_now(archived: dict[str, Any], conference_lines: list[dict[str, Any]],
              actions: list[dict[str, Any]]) -> Known:
    """Merge the archive's timeline with the conference lines, in the store's order."""
    timeline = sorted([*archived["timeline"], *conference_lines],
                      key=lambda e: e["position"], reverse=True)
    return Known(archived["file"], timeline, actions)


# From the views, what concerns a list of files: {"incidents": {incident id: child id},
# "conferences": [ids], "actions": [ids]}. Which child these concern never changes.
Related = Callable[[list[str]], dict[str, Any]]


def known_as_of(events_of: Callable[[UUID], Iterable[Any]], child_id: UUID, related_of: Related,
                as_of: datetime) -> Known | None:
    """Fold the events recorded up to `as_of`; None when the child was not yet registered.

    A file shows the files merged into it by then (their lines carry `from_child_id`, as in
    the archive); conferences and actions count when they name one of those files.
    """
    own = _recorded(events_of(child_id), as_of, Child.Event)
    file = None
    for event in own:
        file = case_file.fold(file, event)
    if file is None:
        return None
    files = [str(child_id), *file.get("absorbed", [])]
    known = [(files[0], e) for e in own]
    for absorbed in files[1:]:
        known += [(absorbed, e) for e in _recorded(events_of(UUID(absorbed)), as_of, Child.Event)]
    related = related_of(files)
    for incident_id, owner in related["incidents"].items():
        known += [(owner, e) for e in _recorded(events_of(UUID(incident_id)), as_of)]
    for aggregate_id in sorted({*related["conferences"], *related["actions"]}):
        events = _recorded(events_of(UUID(aggregate_id)), as_of)
        if events and set(events[0].child_ids) & set(files):
            known += [(files[0], e) for e in events]
    known.sort(key=lambda pair: pair[1].recorded_at, reverse=True)
    timeline = [_entry(e, owner, files[0]) for owner, e in known
                if not isinstance(e, Action.Assigned)]  # the conference's line shows it
    return Known(file, timeline, _fold_actions([e for _, e in known]))


def _recorded(events: Iterable[Any], as_of: datetime, kind: type[Any] = object) -> list[Any]:
    found: list[Any] = [e for e in events if isinstance(e, kind)]
    return [e for e in found if e.recorded_at <= as_of]


def _entry(event: Any, owner: str, child_id: str) -> dict[str, Any]:
    if isinstance(event, (CaseConference.Event, Action.Event)):
        return action_rows.timeline_entry(None, event)
    entry = case_file.timeline_entry(None, event)
    return entry if owner == child_id else {**entry, "from_child_id": owner}


def _fold_actions(known_newest_first: list[Any]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any] | None] = {}
    for event in reversed(known_newest_first):
        if isinstance(event, Action.Event):
            key = str(event.originator_id)
            rows[key] = action_rows.fold_action(rows.get(key), event)
    return sorted((r for r in rows.values() if r is not None),
                  key=lambda a: (a["due"], a["action_id"]))


def _at(entry: dict[str, Any], key: str = "occurred_at") -> datetime:
    return datetime.fromisoformat(entry[key])


def facts_of(known: Known) -> risk.Facts:
    """The facts the risk rules read, from the timeline and the actions."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in known.timeline:
        by_type.setdefault(entry["type"], []).append(entry)
    return risk.Facts(
        registered_at=datetime.fromisoformat(known.file["registered_at"]),
        active=known.file.get("status") == "active",
        visits=tuple(_at(e) for e in by_type.get("VisitRecorded", [])),
        parent_feedback=tuple(_at(e) for e in by_type.get("ParentFeedbackGiven", [])),
        exams=tuple(risk.Exam(e["data"]["school_year"], e["data"]["semester"],
                              e["data"]["class_rank"], _at(e, "recorded_at"))
                    for e in by_type.get("ExamResultRecorded", [])),
        incidents=tuple(_at(e) for e in by_type.get("IncidentReported", [])),
        counselling=tuple(risk.Counselling(_at(e), e["data"]["risk_level"])
                          for e in by_type.get("CounsellingRecorded", [])),
        open_actions=tuple(risk.OpenAction(a["action_id"], a["description"],
                                           date.fromisoformat(a["due"]))
                           for a in known.actions if a["completed_at"] is None))


def open_actions(known: Known, now: datetime) -> list[dict[str, Any]]:
    """The actions not completed at `now`, by due date, each saying whether it is overdue."""
    return [{**a, "overdue": risk.is_overdue(date.fromisoformat(a["due"]), now)}
            for a in known.actions if a["completed_at"] is None]
