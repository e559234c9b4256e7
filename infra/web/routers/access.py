"""The read audit over HTTP: who read a child's file, and the break-glass reads to review."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from domain.errors import NotFound
from infra.web.dependencies import ActorDep, ServicesDep, position_query
from services.jurisdiction import reach_clause, reaches
from services.permissions import require

router = APIRouter(prefix="/audit", tags=["audit"])
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[int, position_query()]


def _page(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {"items": rows, "next_cursor": str(rows[-1]["id"]) if len(rows) == limit else None}


@router.get("/access")
def access(child_id: UUID, s: ServicesDep, actor: ActorDep, limit: Limit = 50,
           cursor: Cursor = 0) -> dict[str, Any]:
    """Every read of the child's file: who, role, agency, when, what, which fields, why."""
    require(actor, "access.audit")
    with s.db.reading() as cur:
        place = s.registry.place(cur, str(child_id))
    if place is None or not reaches(actor, place):
        raise NotFound("child not found")
    return _page(s.access.for_child(str(child_id), cursor, limit), limit)


@router.get("/break-glass")
def break_glass(s: ServicesDep, actor: ActorDep, limit: Limit = 50,
                cursor: Cursor = 0) -> dict[str, Any]:
    """Emergency reads outside a reader's jurisdiction, of children in the caller's."""
    require(actor, "access.audit")
    rows = s.access.break_glass(cursor, limit, s.registry.children,
                                reach_clause(actor, s.directory.pairings, "r.child_id"))
    return _page(rows, limit)
