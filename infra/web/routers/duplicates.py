"""Duplicate files over HTTP: the likely duplicates, and the merge of one file into another.

Included before the children router, so that /children/duplicates is not read as a child id.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from domain.errors import InvalidFact
from infra.web.dependencies import MAX_POSITION, ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.reach import record_shown
from infra.web.routers.children import answer
from projections.duplicates import DuplicatesView
from services import commands as c
from services.jurisdiction import reach_clause
from services.permissions import require

router = APIRouter(prefix="/children", tags=["duplicates"])


def parse_cursor(cursor: str | None) -> tuple[int, int]:
    """The cursor of a page is the positions of the last pair's two files: `12.40`."""
    if not cursor:
        return (0, 0)
    first, _, second = cursor.partition(".")
    if not (first.isdigit() and second.isdigit()) or max(int(first), int(second)) > MAX_POSITION:
        raise InvalidFact("cursor", "must be the next_cursor of the previous page")
    return (int(first), int(second))


@router.get("/duplicates", dependencies=[CaughtUp])
def likely_duplicates(request: Request, s: ServicesDep, actor: ActorDep,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50,
                      cursor: Annotated[str | None, Query(max_length=40)] = None,
                      ) -> dict[str, Any]:
    """疑似重复档案: pairs of open files that may be one child, with the reasons."""
    require(actor, "child.read")
    view: DuplicatesView = s.views["duplicates"]
    with s.db.reading() as cur:
        pairs = view.pairs(cur, parse_cursor(cursor), limit,
                           reach_clause(actor, s.directory.pairings))
    record_shown(s, actor, request, [c["child_id"] for p in pairs for c in p["children"]],
                 ("name", "place"))
    next_cursor = pairs[-1]["cursor"] if len(pairs) == limit else None
    return {"items": [{k: v for k, v in p.items() if k != "cursor"} for p in pairs],
            "next_cursor": next_cursor}


@router.post("/{child_id}/merge")
def merge_child(child_id: UUID, cmd: c.MergeChild, s: ServicesDep,
                actor: ActorDep, idem: IdemDep) -> JSONResponse:
    """合并: the file in the path is merged into `into` (admins only)."""
    return answer(s.handlers.merge_child(child_id, cmd, actor, idem))
