"""Case review over HTTP: docs/DOMAIN.md §6 (review, conferences, actions) and the
helper's worklist."""

from calendar import monthrange
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from domain import risk
from domain.errors import InvalidFact, NotFound
from domain.values import CLOCK_SKEW, utcnow
from infra.services import Services
from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.disclosure import disclose_entry, disclose_file
from infra.web.reach import helper_in_reach, helpers_reached, reached, record_shown
from infra.web.routers.children import answer
from projections import review as rv
from projections.actions import ActionsView
from projections.followups import FollowUpsView
from services import conference_commands as cc
from services.conference_handlers import ConferenceHandlers
from services.permissions import require

router = APIRouter(tags=["case review"])


def _actions(s: Services) -> ActionsView:
    return s.views["actions"]  # type: ignore[no-any-return]


def _followups(s: Services) -> FollowUpsView:
    return s.views["followups"]  # type: ignore[no-any-return]


@router.get("/reviews/children/{child_id}", dependencies=[CaughtUp])
def review(child_id: UUID, s: ServicesDep, actor: ActorDep,
           as_of: AwareDatetime | None = None) -> dict[str, Any]:
    """Every agency's facts on one timeline, the risk flags and the open actions, now or as
    known at `as_of` (flags are then judged at that moment)."""
    require(actor, "review.read")
    now = utcnow()
    if as_of is not None and as_of > now + CLOCK_SKEW:
        raise InvalidFact("as_of", "is in the future: nothing is known of it yet")
    known = _as_of(s, child_id, as_of) if as_of else _now(s, child_id)
    moment = as_of or now
    flags = risk.risk_flags(rv.facts_of(known), moment, risk.DEFAULT_POLICY)
    return {"child_id": str(child_id), "as_of": as_of.isoformat() if as_of else None,
            "evaluated_at": moment.isoformat(), "policy_version": risk.DEFAULT_POLICY.version,
            "profile": disclose_file(known.file, actor),
            "timeline": _within_reach(s, actor, [disclose_entry(e, actor)
                                                  for e in known.timeline]),
            "risk_flags": [f.as_json() for f in flags],
            "open_actions": rv.open_actions(known, moment)}


def _within_reach(s: Services, actor: Any, timeline: list[dict[str, Any]],
                  ) -> list[dict[str, Any]]:
    """A conference about several children is a line of each one's timeline: each reader
    sees of it only the children, actions and attendees within their reach."""
    held = [e for e in timeline if e["type"] == "CaseConferenceHeld"]
    if not held:
        return timeline
    with s.db.reading() as cur:
        children = reached(s, actor, cur, [c for e in held for c in e["data"]["child_ids"]])
        helpers = helpers_reached(s, actor, cur, [a["helper_id"] for e in held
                                                  for a in e["data"]["attendees"]])
    return [_conference_within(e, children, helpers) if e["type"] == "CaseConferenceHeld"
            else e for e in timeline]


def _conference_within(entry: dict[str, Any], children: set[str],
                       helpers: set[str]) -> dict[str, Any]:
    data = entry["data"]
    return {**entry, "data": {
        **data, "child_ids": [c for c in data["child_ids"] if c in children],
        "attendees": [a for a in data["attendees"] if a["helper_id"] in helpers],
        "actions": [{**a, "child_ids": [c for c in a["child_ids"] if c in children]}
                    for a in data["actions"] if set(a["child_ids"]) & children]}}


def _now(s: Services, child_id: UUID) -> rv.Known:
    with s.db.reading() as cur:
        archived = s.archive.get(cur, str(child_id))
        if archived is None:
            raise NotFound("child not found")
        lines = _actions(s).lines(cur, str(child_id))
        actions = _actions(s).for_child(cur, str(child_id))
    return rv.known_now(archived, lines, actions)


def _as_of(s: Services, child_id: UUID, as_of: datetime) -> rv.Known:
    def related_of(child_ids: list[str]) -> dict[str, Any]:
        with s.db.reading() as cur:
            related = _actions(s).ids_for_children(cur, child_ids)
            related["incidents"] = {i: c for c in child_ids
                                    for i in s.archive.incident_ids(cur, c)}
        return related

    known = rv.known_as_of(s.app.events.get, child_id, related_of, as_of)
    if known is None:
        raise NotFound("child not found, or not yet registered at that time")
    return known


@router.post("/case-conferences", status_code=201)
def hold_conference(cmd: cc.HoldConference, s: ServicesDep, actor: ActorDep,
                    idem: IdemDep) -> JSONResponse:
    return answer(ConferenceHandlers(s.app).hold(cmd, actor, idem))


@router.post("/actions/{action_id}/completion")
def complete_action(action_id: UUID, cmd: cc.CompleteAction, s: ServicesDep, actor: ActorDep,
                    idem: IdemDep) -> JSONResponse:
    return answer(ConferenceHandlers(s.app).complete(action_id, cmd, actor, idem))


@router.get("/helpers/{helper_id}/worklist", dependencies=[CaughtUp])
def worklist(helper_id: UUID, request: Request, s: ServicesDep,
             actor: ActorDep) -> dict[str, Any]:
    """This month's work of a helper: paired children not yet visited or whose parents have
    had no feedback this month, and the helper's open actions due by the month's end; of a
    helper within reach (404 otherwise), only the children and the actions about children
    that the caller reaches."""
    require(actor, "worklist.read")
    if actor.role == "volunteer" and actor.jurisdiction.get("helper_id") != str(helper_id):
        raise NotFound("helper not found")  # a volunteer reads their own worklist only
    helper_in_reach(s, actor, str(helper_id))
    today = risk.local_date(utcnow())
    first = today.replace(day=1)
    last = today.replace(day=monthrange(today.year, today.month)[1])
    with s.db.reading() as cur:
        paired = _followups(s).paired_with(cur, str(helper_id))
        actions = _actions(s).open_for_helper(cur, str(helper_id), last.isoformat())
        about = _actions(s).children_of(cur, [a["action_id"] for a in actions])
        mine = reached(s, actor, cur, [row["child_id"] for row in paired]
                       + [c for ids in about.values() for c in ids])
    paired = [row for row in paired if row["child_id"] in mine]
    actions = [a for a in actions if set(about[a["action_id"]]) & mine]
    children = [due for row in paired if (due := _due(row, first))]
    record_shown(s, actor, request, [row["child_id"] for row in children], ("name", "place"))
    return {"helper_id": str(helper_id), "month": first.strftime("%Y-%m"),
            "children": children,
            "actions": [{**a, "overdue": a["due"] < today.isoformat()} for a in actions]}


def _due(row: dict[str, Any], first: Any) -> dict[str, Any] | None:
    """The child with what is owed this month, or None when nothing is."""
    def owed(last_at: str | None) -> bool:
        return last_at is None or risk.local_date(datetime.fromisoformat(last_at)) < first

    visit, feedback = owed(row["last_visit_at"]), owed(row["last_feedback_at"])
    if not (visit or feedback):
        return None
    return {**row, "visit_due": visit, "feedback_due": feedback}
