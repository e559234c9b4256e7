"""Answers about many children: cut to the caller's reach, and each personal read logged.

Issue 19 (findings 4 and 5): a list, a dashboard, an export or a helper's page named
children outside the caller's jurisdiction, and showed names with no record of the read. Every
such answer now keeps only the children the caller reaches (services/jurisdiction, the rule
that guards GET /children/{id}), shows names only to those who read files (sees_files), and
records each child whose personal data it shows in the access log, under the route read, as
the gate (infra/web/authorize) records a read of one file.
"""

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from domain.actor import Actor
from domain.errors import NotFound
from infra.services import Services
from infra.web.authorize import disclosed_fields
from projections.view import Cursor, in_clause
from services.jurisdiction import reach_clause, reaches, reaches_helper

# SQLite allows 32,766 parameters a statement; a chunk leaves room for the reach's own.
CHUNK = 500


def within_sql(s: Services, actor: Actor, column: str) -> tuple[str, list[Any]]:
    """A WHERE fragment keeping the rows whose `column` names a child in reach: for views
    that keep no place columns of their own (grants)."""
    clause, params = reach_clause(actor, s.directory.pairings)
    if clause == "1=1":
        return clause, params
    return f"{column} IN (SELECT child_id FROM {s.registry.children} WHERE {clause})", params


def within(s: Services, actor: Actor, cur: Cursor) -> set[str] | None:
    """Every child id in reach; None when that is every child (nothing to cut)."""
    clause, params = reach_clause(actor, s.directory.pairings)
    if clause == "1=1":
        return None
    rows = cur.execute(f"SELECT child_id FROM {s.registry.children} WHERE {clause}",
                       params).fetchall()
    return {r["child_id"] for r in rows}


def reached(s: Services, actor: Actor, cur: Cursor, child_ids: Iterable[str]) -> set[str]:
    """Which of these children are in reach: for a few ids, where within() would read the
    whole jurisdiction."""
    ids = sorted(set(child_ids))
    clause, params = reach_clause(actor, s.directory.pairings)
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        rows = cur.execute(f"SELECT child_id FROM {s.registry.children} WHERE child_id IN "
                           f"{in_clause(len(part))} AND ({clause})", [*part, *params]).fetchall()
        found |= {r["child_id"] for r in rows}
    return found


def helper_in_reach(s: Services, actor: Actor, helper_id: str) -> tuple[dict[str, Any], set[str]]:
    """The helper's directory entry and which of their children are in reach; 404, as for a
    file outside reach, when the helper is not within it (jurisdiction.reaches_helper)."""
    with s.db.reading() as cur:
        found = s.directory.get(cur, helper_id)
        if found is None:
            raise NotFound("helper not found")
        mine = reached(s, actor, cur, [c["child_id"] for c in found["children"]])
    if not reaches_helper(actor, helper_id, found, bool(mine)):
        raise NotFound("helper not found")
    return found, mine


def helpers_reached(s: Services, actor: Actor, cur: Cursor, helper_ids: Iterable[str],
                    ) -> set[str]:
    """Which of these helpers are in reach (a conference's attendees)."""
    found = set()
    for helper_id in set(helper_ids):
        helper = s.directory.get(cur, helper_id)
        if helper is None:
            continue
        mine = reached(s, actor, cur, [c["child_id"] for c in helper["children"]])
        if reaches_helper(actor, helper_id, helper, bool(mine)):
            found.add(helper_id)
    return found


def record_shown(s: Services, actor: Actor, request: Request, child_ids: Iterable[str],
                 fields: tuple[str, ...]) -> None:
    """The read of these children's personal data, in the access log under the route."""
    route = request.scope.get("route")
    what = f"{request.method} {getattr(route, 'path', request.url.path)}"
    s.access.record(actor, list(dict.fromkeys(child_ids)), what, fields)


def file_in_reach(s: Services, actor: Actor, request: Request, child_id: str) -> None:
    """For a page showing a child's file past the gate's GET (a refused form shown again
    with the file): 404 outside reach, and the read logged, as the gate does for a GET."""
    with s.db.reading() as cur:
        place = s.registry.place(cur, child_id)
    if place is None or not reaches(actor, place):
        raise NotFound("child not found")
    record_shown(s, actor, request, [child_id], disclosed_fields(actor))
