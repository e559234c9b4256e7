"""The case file over HTTP: docs/DOMAIN.md §3."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime

from domain.actor import Actor
from domain.child import Child
from domain.errors import NotFound
from infra.services import Services
from infra.web.authorize import Purpose
from infra.web.dependencies import (ActorDep, CaughtUp, IdemDep, ServicesDep,
                                   position_query)
from infra.web.disclosure import disclose_entry, disclose_file
from infra.web.reach import record_shown
from infra.web.read_answer import read_answer
from projections import case_file
from services import commands as c
from services.application import Answer
from services.jurisdiction import reach_clause
from services.permissions import require

router = APIRouter(prefix="/children", tags=["children"])
# What a line of the registry shows of a child, for the access log.
LISTED = ("name", "place")


def answer(result: Answer) -> JSONResponse:
    return JSONResponse(result.as_json(), status_code=result.status_code)


@router.post("", status_code=201)
def register_child(cmd: c.RegisterChild, s: ServicesDep, actor: ActorDep,
                   idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.register_child(cmd, actor, idem))


@router.get("", dependencies=[CaughtUp])
def registry(request: Request, s: ServicesDep, actor: ActorDep,
             township: str | None = None, village: str | None = None,
             school: str | None = None, class_name: str | None = None,
             status: str | None = None,
             q: Annotated[str | None, Query(max_length=50)] = None,
             limit: Annotated[int, Query(ge=1, le=500)] = 50,
             cursor: Annotated[int, position_query()] = 0) -> Response:
    found = registry_page(s, actor, township, village, school, class_name, status, q, limit,
                          cursor)
    record_shown(s, actor, request, [row["child_id"] for row in found["items"]], LISTED)
    return read_answer(found)


def registry_page(s: Services, actor: Actor, township: str | None, village: str | None,
                  school: str | None, class_name: str | None, status: str | None,
                  q: str | None, limit: int, cursor: int) -> dict[str, Any]:
    """A page of the registry (台帐) in the actor's jurisdiction; the pages use it too."""
    require(actor, "child.read")
    filters = {"township": township, "village": village, "school": school,
               "class_name": class_name, "status": status}
    with s.db.reading() as cur:
        rows = s.registry.page(cur, {k: v for k, v in filters.items() if v}, q, cursor, limit,
                               reach_clause(actor, s.directory.pairings))
    next_cursor = str(rows[-1]["position"]) if len(rows) == limit else None
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/{child_id}", dependencies=[CaughtUp])
def archive(child_id: UUID, s: ServicesDep, actor: ActorDep,
            as_of: AwareDatetime | None = None, purpose: Purpose = None) -> Response:
    return read_answer(archive_file(child_id, s, actor, as_of))


def archive_file(child_id: UUID, s: Services, actor: Actor,
                 as_of: datetime | None) -> dict[str, Any]:
    """The child's file as this actor may see it (now, or as known at as_of)."""
    require(actor, "child.read")
    found = _as_of(s, child_id, as_of) if as_of else _current(s, child_id)
    file = found["file"]
    return {"id": str(child_id), "as_of": as_of.isoformat() if as_of else None,
            "profile": disclose_file(file, actor),
            "timeline": [disclose_entry(e, actor) for e in found["timeline"]],
            "completeness": case_file.completeness(file)}


def _current(s: Any, child_id: UUID) -> dict[str, Any]:
    with s.db.reading() as cur:
        found = s.archive.get(cur, str(child_id))
    if found is None:
        raise NotFound("child not found")
    return found  # type: ignore[no-any-return]


def _as_of(s: Any, child_id: UUID, as_of: datetime) -> dict[str, Any]:
    """The file as it was known then: only events recorded up to that moment."""
    file, known = None, []
    for event in s.app.events.get(child_id):
        if isinstance(event, Child.Event) and event.recorded_at <= as_of:
            file = case_file.fold(file, event)
            known.append(event)
    if file is None:
        raise NotFound("child not found, or not yet registered at that time")
    with s.db.reading() as cur:
        incident_ids = s.archive.incident_ids(cur, str(child_id))
    for incident_id in incident_ids:
        known += [e for e in s.app.events.get(UUID(incident_id)) if e.recorded_at <= as_of]
    known.sort(key=lambda e: e.recorded_at, reverse=True)
    return {"file": file, "timeline": [case_file.timeline_entry(None, e) for e in known]}


@router.post("/{child_id}/guardian")
def replace_guardian(child_id: UUID, cmd: c.Guardian, s: ServicesDep, actor: ActorDep,
                     idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.update_family",
        lambda ch: ch.replace_guardian(cmd.model_dump(mode="json")), actor, idem))


@router.post("/{child_id}/parents")
def replace_parents(child_id: UUID, cmd: c.ReplaceParents, s: ServicesDep, actor: ActorDep,
                    idem: IdemDep) -> JSONResponse:
    parents = [p.model_dump(mode="json") for p in cmd.parents]
    return answer(s.handlers.change_child(
        child_id, "child.update_family", lambda ch: ch.replace_parents(parents), actor, idem))


@router.post("/{child_id}/enrollment")
def change_enrollment(child_id: UUID, cmd: c.ChangeEnrollment, s: ServicesDep, actor: ActorDep,
                      idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.enrol",
        lambda ch: ch.change_enrollment(cmd.school, cmd.grade, cmd.class_name), actor, idem))


@router.post("/{child_id}/pairings")
def pair_helper(child_id: UUID, cmd: c.PairHelper, s: ServicesDep, actor: ActorDep,
                idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.pair_helper(child_id, cmd, actor, idem))


@router.post("/{child_id}/pairings/{helper_id}/end")
def end_pairing(child_id: UUID, helper_id: UUID, cmd: c.EndPairing, s: ServicesDep,
                actor: ActorDep, idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.pair",
        lambda ch: ch.end_pairing(str(helper_id), cmd.until, cmd.reason), actor, idem))


@router.post("/{child_id}/visits")
def record_visit(child_id: UUID, cmd: c.RecordVisit, s: ServicesDep, actor: ActorDep,
                 idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.visit",
        lambda ch: ch.record_visit(cmd.occurred_at, cmd.kind, cmd.findings, cmd.needs_followup,
                                   cmd.contacts_confirmed, cmd.child_seen), actor, idem))


@router.post("/{child_id}/counselling-sessions")
def record_counselling(child_id: UUID, cmd: c.RecordCounselling, s: ServicesDep,
                       actor: ActorDep, idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.counsel",
        lambda ch: ch.record_counselling(cmd.occurred_at, cmd.topic, cmd.risk_level, cmd.notes),
        actor, idem))


@router.post("/{child_id}/parent-feedback")
def record_parent_feedback(child_id: UUID, cmd: c.RecordParentFeedback, s: ServicesDep,
                           actor: ActorDep, idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.parent_feedback",
        lambda ch: ch.record_parent_feedback(cmd.occurred_at, cmd.channel, cmd.summary),
        actor, idem))


@router.post("/{child_id}/exam-results")
def record_exam_result(child_id: UUID, cmd: c.RecordExamResult, s: ServicesDep,
                       actor: ActorDep, idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.exam_result",
        lambda ch: ch.record_exam_result(cmd.school_year, cmd.semester, cmd.total_score,
                                         cmd.class_rank, cmd.class_size), actor, idem))


@router.post("/{child_id}/conduct-violations")
def record_violation(child_id: UUID, cmd: c.RecordViolation, s: ServicesDep, actor: ActorDep,
                     idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.violation",
        lambda ch: ch.record_violation(cmd.occurred_at, cmd.severity, cmd.description),
        actor, idem))


@router.post("/{child_id}/honours")
def award_honour(child_id: UUID, cmd: c.AwardHonour, s: ServicesDep, actor: ActorDep,
                 idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.honour", lambda ch: ch.award_honour(cmd.school_year, cmd.title),
        actor, idem))


@router.post("/{child_id}/status")
def change_status(child_id: UUID, cmd: c.ChangeStatus, s: ServicesDep, actor: ActorDep,
                  idem: IdemDep) -> JSONResponse:
    return answer(s.handlers.change_child(
        child_id, "child.status", lambda ch: ch.change_status(cmd.status, cmd.reason),
        actor, idem))


@router.post("/{child_id}/erasure")
def erase_child(child_id: UUID, cmd: c.EraseChild, s: ServicesDep, actor: ActorDep,
                idem: IdemDep) -> JSONResponse:
    """Crypto-shredding: the child's keys are destroyed; the file reads 〔已删除〕 after."""
    return answer(s.handlers.erase_child(child_id, cmd, actor, idem))
