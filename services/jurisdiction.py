"""Which children a user reaches: their township, village, school or class, or their pairings.

docs/DOMAIN.md §1 "Roles and what they reach": each user sees only the children within their
jurisdiction. One rule, asked in two forms: `reaches` for one child's place (reads and writes
of a file), `reach_clause` for lists, as SQL over the place columns every child-listing view
keeps.
"""

from collections.abc import Mapping
from typing import Any

from domain.actor import Actor
from domain.errors import Forbidden
from services.permissions import PERMISSIONS

PLACE_FIELDS = ("township", "village", "school", "class_name")
# Roles that reach every child in the store: the county's administrators and, when no
# township is named for them, auditors (who read figures, not files: see permissions).
EVERYWHERE = {"admin"}


def place_of(file: Mapping[str, Any]) -> dict[str, Any]:
    """The facts jurisdiction is decided on, from a folded file or a Child's profile."""
    return {**{f: file.get(f) for f in PLACE_FIELDS},
            "pairings": list(file.get("pairings") or ())}


def _bounds(actor: Actor) -> dict[str, Any]:
    return {f: actor.jurisdiction[f] for f in PLACE_FIELDS if actor.jurisdiction.get(f)}


def reaches(actor: Actor, place: Mapping[str, Any]) -> bool:
    """True when the child at this place is within the actor's jurisdiction."""
    if actor.role in EVERYWHERE:
        return True
    if actor.role == "volunteer":
        helper_id = actor.jurisdiction.get("helper_id")
        return bool(helper_id) and str(helper_id) in {str(h) for h in place.get("pairings", ())}
    bounds = _bounds(actor)
    if not bounds:
        # An auditor without a township audits the whole county; anyone else with no
        # jurisdiction on record reaches nobody rather than everybody.
        return actor.role == "auditor"
    return all(place.get(f) == v for f, v in bounds.items())


def reach_clause(actor: Actor, pairings_table: str, child_column: str = "child_id",
                 ) -> tuple[str, list[Any]]:
    """The same rule as SQL: a WHERE fragment over the place columns and its parameters."""
    if actor.role in EVERYWHERE:
        return "1=1", []
    if actor.role == "volunteer":
        return (f"{child_column} IN (SELECT child_id FROM {pairings_table} "
                "WHERE helper_id = ? AND until IS NULL)", [str(actor.jurisdiction.get("helper_id"))])
    bounds = _bounds(actor)
    if not bounds:
        return ("1=1", []) if actor.role == "auditor" else ("1=0", [])
    return " AND ".join(f"{f} = ?" for f in bounds), list(bounds.values())


def reaches_helper(actor: Actor, helper_id: str, details: Mapping[str, Any],
                   reaches_a_child: bool) -> bool:
    """True when a helper is within the actor's reach: posted within the actor's bounds (a
    teacher of the principal's school), paired with a child the actor reaches, or, for a
    volunteer, themselves. What a helper page shows is then cut to the children reached."""
    if actor.role in EVERYWHERE or reaches_a_child:
        return True
    if actor.role == "volunteer":
        return str(actor.jurisdiction.get("helper_id") or "") == str(helper_id)
    bounds = _bounds(actor)
    if not bounds:
        return actor.role == "auditor"
    return all(details.get(f) == v for f, v in bounds.items())


def sees_files(actor: Actor) -> bool:
    """Whether a child's name and family may reach this actor at all. Auditors read figures,
    not files (services/permissions): in a list, a dashboard or an export they get the
    child's id and place, never a name."""
    return actor.role in PERMISSIONS["child.read"]


def require_reach(actor: Actor, file: Mapping[str, Any]) -> None:
    """For writes: 403 when the child's file is outside the actor's jurisdiction."""
    if not reaches(actor, place_of(file)):
        raise Forbidden("this child is outside your jurisdiction")
