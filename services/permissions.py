"""The one table of who may do what. Every endpoint asks here; none decides on its own.

Issue #2 checks roles coarsely; jurisdiction scoping comes with issue #3.
"""

from domain.actor import Actor
from domain.errors import Forbidden

STAFF = {"admin", "township_supervisor", "child_director", "grid_worker", "principal",
         "class_teacher"}
CARERS = STAFF | {"counsellor", "volunteer"}
READERS = CARERS | {"auditor"}

PERMISSIONS: dict[str, set[str]] = {
    "child.register": STAFF,
    "child.update_family": STAFF,
    "child.enrol": STAFF,
    "child.pair": STAFF,
    "child.visit": CARERS,
    "child.counsel": {"counsellor", "township_supervisor", "admin"},
    "child.parent_feedback": CARERS,
    "child.exam_result": {"admin", "principal", "class_teacher"},
    "child.violation": {"admin", "principal", "class_teacher", "township_supervisor"},
    "child.honour": {"admin", "principal", "class_teacher"},
    "child.status": STAFF,
    "child.read": READERS,
    "helper.register": STAFF,
    "helper.read": READERS,
    "user.manage": {"admin"},
    # Grants (issue 6): programmes by the township; approving and paying by agency staff
    # (never the same person for one grant); the auditor reads the audit.
    "grant.programme": {"admin", "township_supervisor"},
    "grant.approve": {"admin", "township_supervisor", "child_director", "principal"},
    "grant.disburse": {"admin", "township_supervisor", "child_director", "principal",
                       "grid_worker"},
    "grant.revoke": {"admin", "township_supervisor", "child_director", "principal"},
    "audit.read": {"admin", "township_supervisor", "auditor"},
    # Emergencies (issue 4): every carer may look a child up and report; not the auditor.
    "emergency.lookup": CARERS,
    "incident.report": CARERS,
    "incident.read": CARERS,
    # Assessments (issue 5): money depends on them, so only the township publishes.
    "assessment.read": {"admin", "township_supervisor", "principal", "auditor", "class_teacher"},
    "assessment.publish": {"admin", "township_supervisor"},
}

# Counselling notes: counsellors and the township supervisor only (DOMAIN.md, privacy).
NOTES_READERS = {"counsellor", "township_supervisor"}
# The full ID number: administrators and the township supervisor.
ID_NUMBER_READERS = {"admin", "township_supervisor"}


def require(actor: Actor, action: str) -> None:
    """Raise Forbidden unless the actor's role may perform the action."""
    if actor.role not in PERMISSIONS[action]:
        raise Forbidden(f"role {actor.role} may not {action}")


def mask_id_number(id_number: str | None, actor: Actor) -> str | None:
    """5226**********1228: the first four and last four digits, for those who may not see it."""
    if not id_number or actor.role in ID_NUMBER_READERS:
        return id_number
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
