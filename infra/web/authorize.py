"""The one gate every API route passes: the route's rule from services/permissions.ROUTES.

Applied to every router in create_app. It checks the role for the route's action (403) and,
for a read of one child's file, the jurisdiction (404, so that a file outside it is not even
known to exist), records the read in the access log, and lets an emergency read through by
break-glass: a stated reason, flagged for the township supervisor's review. Writes are
checked for jurisdiction by the handlers, against the aggregate they load (403).
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from domain.actor import Actor
from domain.errors import InvalidFact, NotFound
from infra.web.dependencies import (ServicesDep, caught_up, current_actor, oauth2,
                                   signed_in_actor)
from services.jurisdiction import reaches
from services.permissions import NOTES_READERS, ID_NUMBER_READERS, PUBLIC, ROUTES, require

MIN_REASON = 4
MAX_TEXT = 200


def disclosed_fields(actor: Actor) -> tuple[str, ...]:
    """What a read of a file shows this actor, for the access log."""
    fields = ["profile", "family", "timeline"]
    fields.append("id_number" if actor.role in ID_NUMBER_READERS else "id_number_masked")
    if actor.role in NOTES_READERS:
        fields.append("counselling_notes")
    return tuple(fields)


# Declared on the routes that read a child's file, so that OpenAPI documents them there.
Purpose = Annotated[str | None, Query(max_length=MAX_TEXT, description=(
    "why the file is read; recorded in the access log"))]
BreakGlass = Annotated[str | None, Query(max_length=MAX_TEXT, description=(
    "emergency only: the reason to read a contact chain outside one's jurisdiction; the "
    "read is flagged for the township supervisor's review"))]


def reason_given(request: Request, name: str) -> str | None:
    """A stated purpose or break-glass reason from the query, checked for length."""
    return checked_reason(name, request.query_params.get(name))


def checked_reason(name: str, value: str | None) -> str | None:
    """A purpose or break-glass reason, however it came (query or form), checked."""
    if value is None:
        return None
    if len(value) > MAX_TEXT:
        raise InvalidFact(name, f"at most {MAX_TEXT} characters")
    if name == "break_glass" and len(value.strip()) < MIN_REASON:
        raise InvalidFact(name, f"give the reason in at least {MIN_REASON} characters")
    return value.strip()


def _rule(request: Request) -> Any:
    """The route's rule (services/permissions.ROUTES); None for a public route. A route
    without a rule fails tests/e2e/test_access_matrix.py."""
    rule = ROUTES.get((request.method, getattr(request.scope.get("route"), "path", "")))
    return None if rule is None or rule.action == PUBLIC else rule


async def authorize_api(request: Request, s: ServicesDep,
                        token: Annotated[str | None, Depends(oauth2)]) -> None:
    """authorize for the API's routers: the role check in the event loop; a read of one
    child's file (a registry read and the access log) in the thread pool."""
    rule = _rule(request)
    if rule is None:
        return
    actor = await signed_in_actor(request, s, token)
    require(actor, rule.action)
    if rule.child_param is not None:
        await run_in_threadpool(_child_read, request, s, actor, rule)


def authorize(request: Request, s: ServicesDep,
              token: Annotated[str | None, Depends(oauth2)]) -> None:
    """The same gate as one plain function, for the pages (infra/web/pages/session.py)."""
    rule = _rule(request)
    if rule is None:
        return
    actor = current_actor(request, s, token)
    require(actor, rule.action)
    if rule.child_param is not None:
        _child_read(request, s, actor, rule)


def _child_read(request: Request, s: ServicesDep, actor: Actor, rule: Any) -> None:
    """A read of one child's file: within reach (or by break-glass), and in the access log."""
    child_id = str(request.path_params[rule.child_param])
    if not _is_uuid(child_id):
        return  # the route's own validation answers 422 naming the parameter
    _wait_for_asked_position(request, s)
    with s.db.reading() as cur:
        place = s.registry.place(cur, child_id)
    if place is None:
        raise NotFound("child not found")
    purpose, glass = reason_given(request, "purpose"), False
    if not reaches(actor, place):
        reason = reason_given(request, "break_glass") if rule.break_glass else None
        if not reason:
            raise NotFound("child not found")
        purpose, glass = reason, True
    route = request.scope["route"]
    s.access.record(actor, [child_id], f"{request.method} {route.path}",
                    disclosed_fields(actor), purpose, glass)


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _wait_for_asked_position(request: Request, s: ServicesDep) -> None:
    """Read-your-writes before the jurisdiction check too: a file registered a moment ago
    must not look unknown because the registry has not reached it yet."""
    asked = request.query_params.get("min_position", "")
    if asked.isdigit():
        caught_up(s, int(asked))
