"""The one table of who may do what. Every endpoint asks here; none decides on its own.

Three parts: PERMISSIONS (action -> roles), ROUTES (each HTTP route -> its action, and which
path parameter names the child whose file it reads), and the field rules at the end. Where
a child is concerned the jurisdiction rule of services/jurisdiction.py applies on top: reads
outside it are 404 (not even the file's existence is revealed), writes are 403.
"""

from dataclasses import dataclass

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
    # Auditors read figures (grants, assessments), not case files.
    "child.read": CARERS,
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
    # Access control (issue 3): who read a child's file, and the break-glass reads to review.
    "access.audit": {"admin", "township_supervisor"},
    # Duplicates (issue 7): only an administrator merges one child's file into another.
    "child.merge": {"admin"},
    # Erasure (issue 3): only an administrator, with a reason, after the case is closed.
    "child.erase": {"admin"},
    "dashboard.read": STAFF | {"auditor"},
    # Case review (issue 7): every carer of the child reads the review and completes the
    # actions assigned to them; agency staff hold the conferences.
    "review.read": CARERS,
    "conference.hold": STAFF,
    "action.complete": CARERS,
    "worklist.read": CARERS,
}



@dataclass(frozen=True)
class Rule:
    """What a route needs: an action of PERMISSIONS (or PUBLIC), and for a read of one
    child's file, the path parameter holding the child's id."""

    action: str
    child_param: str | None = None
    break_glass: bool = False  # may be read outside the jurisdiction, with a reason


PUBLIC = "public"  # no sign-in: health, metrics, the token endpoint itself
SIGNED_IN = "signed_in"  # any valid token: e.g. a page or call about oneself

ROUTES: dict[tuple[str, str], Rule] = {
    ("POST", "/auth/token"): Rule(PUBLIC),
    ("POST", "/auth/logout"): Rule(PUBLIC),  # the route itself ends the token it is sent
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/metrics"): Rule(PUBLIC),
    ("POST", "/users"): Rule("user.manage"),
    ("GET", "/users"): Rule("user.manage"),
    ("POST", "/users/{username}/disable"): Rule("user.manage"),
    ("POST", "/users/{username}/role"): Rule("user.manage"),
    ("POST", "/users/{username}/jurisdiction"): Rule("user.manage"),
    ("POST", "/children"): Rule("child.register"),
    ("GET", "/children"): Rule("child.read"),
    ("GET", "/children/{child_id}"): Rule("child.read", "child_id"),
    ("POST", "/children/{child_id}/guardian"): Rule("child.update_family"),
    ("POST", "/children/{child_id}/parents"): Rule("child.update_family"),
    ("POST", "/children/{child_id}/enrollment"): Rule("child.enrol"),
    ("POST", "/children/{child_id}/pairings"): Rule("child.pair"),
    ("POST", "/children/{child_id}/pairings/{helper_id}/end"): Rule("child.pair"),
    ("POST", "/children/{child_id}/visits"): Rule("child.visit"),
    ("POST", "/children/{child_id}/counselling-sessions"): Rule("child.counsel"),
    ("POST", "/children/{child_id}/parent-feedback"): Rule("child.parent_feedback"),
    ("POST", "/children/{child_id}/exam-results"): Rule("child.exam_result"),
    ("POST", "/children/{child_id}/conduct-violations"): Rule("child.violation"),
    ("POST", "/children/{child_id}/honours"): Rule("child.honour"),
    ("POST", "/children/{child_id}/status"): Rule("child.status"),
    ("POST", "/children/{child_id}/erasure"): Rule("child.erase"),
    ("POST", "/helpers"): Rule("helper.register"),
    ("GET", "/helpers/{helper_id}"): Rule("helper.read"),
    ("GET", "/children/{child_id}/contact-chain"): Rule("emergency.lookup", "child_id",
                                                            break_glass=True),
    ("GET", "/emergency/lookup"): Rule("emergency.lookup"),
    ("POST", "/incidents"): Rule("incident.report"),
    ("POST", "/incidents/{incident_id}/contact-attempts"): Rule("incident.report"),
    ("POST", "/incidents/{incident_id}/escalations"): Rule("incident.report"),
    ("POST", "/incidents/{incident_id}/resolution"): Rule("incident.report"),
    ("GET", "/incidents"): Rule("incident.read"),
    ("POST", "/programmes"): Rule("grant.programme"),
    ("POST", "/grants"): Rule("grant.approve"),
    ("POST", "/grants/{grant_id}/disbursement"): Rule("grant.disburse"),
    ("POST", "/grants/{grant_id}/revocation"): Rule("grant.revoke"),
    ("GET", "/audit/grants"): Rule("audit.read"),
    ("GET", "/audit/grants/anomalies"): Rule("audit.read"),
    ("GET", "/audit/grants/export.xlsx"): Rule("audit.read"),
    ("GET", "/audit/ledger"): Rule("audit.read"),
    ("GET", "/audit/ledger/verify"): Rule("audit.read"),
    ("GET", "/audit/access"): Rule("access.audit"),
    ("GET", "/audit/break-glass"): Rule("access.audit"),
    ("GET", "/children/duplicates"): Rule("child.read"),
    ("POST", "/children/{child_id}/merge"): Rule("child.merge"),
    ("GET", "/dashboards/compliance"): Rule("dashboard.read"),
    ("GET", "/dashboards/compliance.xlsx"): Rule("dashboard.read"),
    ("GET", "/assessments/{school_year}"): Rule("assessment.read"),
    ("GET", "/assessments/{school_year}/helpers/{helper_id}"): Rule("assessment.read"),
    ("POST", "/assessments/{school_year}/publication"): Rule("assessment.publish"),
    ("GET", "/assessments/{school_year}/export.xlsx"): Rule("assessment.read"),
    ("GET", "/reviews/children/{child_id}"): Rule("review.read", "child_id"),
    ("POST", "/case-conferences"): Rule("conference.hold"),
    ("POST", "/actions/{action_id}/completion"): Rule("action.complete"),
    ("GET", "/helpers/{helper_id}/worklist"): Rule("worklist.read"),
}

# The pages under /ui (issue 9, infra/web/pages): each the action of the API call it mirrors.
ROUTES.update({
    ("GET", "/ui"): Rule(PUBLIC),
    ("GET", "/ui/login"): Rule(PUBLIC),
    ("POST", "/ui/login"): Rule(PUBLIC),
    ("POST", "/ui/logout"): Rule(PUBLIC),
    ("GET", "/ui/emergency"): Rule("emergency.lookup"),
    ("POST", "/ui/incidents"): Rule("incident.report"),
    ("GET", "/ui/incidents/{incident_id}"): Rule("incident.report"),
    ("POST", "/ui/incidents/{incident_id}/contact-attempts"): Rule("incident.report"),
    ("POST", "/ui/incidents/{incident_id}/escalations"): Rule("incident.report"),
    ("POST", "/ui/incidents/{incident_id}/resolution"): Rule("incident.report"),
    # Break-glass from the page: the lookup's own reason check and flagged access log.
    ("POST", "/ui/emergency/break-glass"): Rule("emergency.lookup"),
    ("GET", "/ui/dashboards/compliance"): Rule("dashboard.read"),
    ("GET", "/ui/dashboards/compliance.xlsx"): Rule("dashboard.read"),
    ("GET", "/ui/children"): Rule("child.read"),
    ("GET", "/ui/children/export.xlsx"): Rule("child.read"),
    ("GET", "/ui/children/{child_id}"): Rule("child.read", "child_id"),
    ("GET", "/ui/children/{child_id}/print"): Rule("child.read", "child_id"),
    ("GET", "/ui/children/{child_id}/card"): Rule("child.read", "child_id"),
    ("POST", "/ui/children/{child_id}/visits"): Rule("child.visit"),
    ("POST", "/ui/children/{child_id}/parent-feedback"): Rule("child.parent_feedback"),
    ("POST", "/ui/children/{child_id}/counselling-sessions"): Rule("child.counsel"),
    ("GET", "/ui/import"): Rule("child.register"),
    ("GET", "/ui/import/template.xlsx"): Rule("child.register"),
    ("POST", "/ui/import"): Rule("child.register"),
    ("GET", "/ui/assessments"): Rule("assessment.read"),
    ("GET", "/ui/assessments/{school_year}/export.xlsx"): Rule("assessment.read"),
    ("GET", "/ui/audit/grants"): Rule("audit.read"),
    ("GET", "/ui/audit/grants/export.xlsx"): Rule("audit.read"),
})


# Counselling notes: counsellors and the township supervisor only (docs/DOMAIN.md §1).
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
