"""The generated matrix: every role x every route x a child inside / outside the jurisdiction.

The expected status is derived from the one table (services/permissions.py) by the rule the
issue states, not copied from the code's answers: a role without the action gets 403; with
it, a read of a child outside the jurisdiction is 404 and a write to one is 403; inside, the
call gets through (2xx, or the domain's own 4xx for the body sent, never 401/403/404).
A route added without a rule fails test_every_route_has_a_rule.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.jurisdiction import EVERYWHERE
from services.permissions import PERMISSIONS, PUBLIC, ROUTES, Rule
from tests.conftest import Api, child_body, register

ROLES = ["admin", "township_supervisor", "child_director", "grid_worker", "principal",
         "class_teacher", "counsellor", "volunteer", "auditor"]
PASSWORD = "matrix-pass-1"
INSIDE = {"township": "白沙关镇", "village": "白沙关村", "school": "白沙关小学",
          "class_name": "六(2)班"}
OUTSIDE = {"township": "龙场镇", "village": "龙场村", "school": "龙场小学",
           "class_name": "三(1)班"}
NOW = datetime.now(timezone.utc) - timedelta(minutes=1)


def test_every_route_has_a_rule(client: Any) -> None:
    from tests.access.test_reach_sweep import app_routes
    routes = app_routes(client.app)
    assert len(routes) >= 60  # the app's routes were found at all
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes without a rule in services/permissions.ROUTES: {missing}"
    unknown = sorted(k for k, rule in ROUTES.items()
                     if rule.action not in PERMISSIONS and rule.action != PUBLIC)
    assert not unknown, f"rules naming no action of PERMISSIONS: {unknown}"


def _bodies(helper_id: str) -> dict[str, Any]:
    """A valid body per child write, so that inside and outside differ only by place."""
    at = NOW.isoformat()
    return {
        "/children/{child_id}/guardian": child_body()["guardian"],
        "/children/{child_id}/parents": {"parents": child_body()["parents"]},
        "/children/{child_id}/enrollment": {"school": "{school}", "grade": "六年级",
                                            "class_name": "{class_name}"},
        "/children/{child_id}/pairings": {"helper_id": helper_id, "since": "2026-01-01"},
        "/children/{child_id}/visits": {"occurred_at": at, "kind": "home", "findings": "好",
                                        "needs_followup": False},
        "/children/{child_id}/counselling-sessions": {"occurred_at": at, "topic": "想家",
                                                      "risk_level": "low", "notes": "记录"},
        "/children/{child_id}/parent-feedback": {"occurred_at": at, "channel": "phone",
                                                 "summary": "说了近况"},
        "/children/{child_id}/exam-results": {"school_year": 2025, "semester": 1,
                                              "total_score": 250, "class_rank": 3,
                                              "class_size": 40},
        "/children/{child_id}/conduct-violations": {"occurred_at": at, "severity": "minor",
                                                    "description": "迟到"},
        "/children/{child_id}/honours": {"school_year": 2025, "title": "merit_student"},
    }


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Two children in two townships, a helper paired with the first, a user per role."""
    helper = api.post("/helpers", {"name": "刘妈妈", "agency": "womens_federation",
                                   "role": "volunteer", "phone": "13900003333",
                                   "township": INSIDE["township"]}).json()
    other = api.post("/helpers", {"name": "王老师", "agency": "school",
                                  "role": "class_teacher", "phone": "13900004444",
                                  "school": INSIDE["school"],
                                  "class_name": INSIDE["class_name"]}).json()
    inside = register(api, **INSIDE)
    outside = register(api, **OUTSIDE, id_number="522601201403059999")
    paired = api.post(f"/children/{inside['id']}/pairings",
                      {"helper_id": helper["id"], "since": "2026-01-01"})
    assert paired.status_code == 200, paired.text
    users = {}
    for role in ROLES:
        jurisdiction = {"helper_id": helper["id"]} if role == "volunteer" else (
            {} if role in ("admin", "auditor") else INSIDE)
        made = api.post("/users", {"username": f"u.{role}", "password": PASSWORD,
                                   "agency": "township", "role": role, **jurisdiction})
        assert made.status_code == 201, made.text
        users[role] = api.as_user(f"u.{role}", PASSWORD)
    return {"helper": helper["id"], "other_helper": other["id"], "inside": inside["id"], "outside": outside["id"],
            "users": users, "position": paired.json()["position"]}


def _expected(rule: Rule, role: str, method: str, is_child_route: bool, inside: bool,
              ) -> str:
    if role not in PERMISSIONS[rule.action]:
        return "forbidden"
    if not is_child_route or inside or role in EVERYWHERE:
        return "through"
    return "hidden" if method == "GET" else "forbidden"


def _call(user: Api, method: str, path: str, body: Any, position: int) -> Any:
    if path.startswith("/ui"):  # pages read the same token from their session cookie
        token = user.headers["Authorization"].removeprefix("Bearer ")
        return user.client.get(path, params={"min_position": position},
                               cookies={"qianshou_session": token}, follow_redirects=False)
    if method == "GET":
        return user.get(path, min_position=position)
    return user.post(path, body)


def _check(outcome: str, status: int, is_child_route: bool) -> bool:
    """Through: not refused. Off a child's file a 404 is the resource's own (an unknown
    username, no assessment yet), not a refusal; on a child's file it would hide it."""
    refusals = (401, 403, 404) if is_child_route else (401, 403)
    return {"forbidden": status == 403, "hidden": status == 404,
            "through": status not in refusals and status < 500}[outcome]


def test_role_by_route_by_jurisdiction(world: dict[str, Any]) -> None:
    bodies = _bodies(world["other_helper"])
    failures, checked = [], 0
    for (method, template), rule in sorted(ROUTES.items()):
        if rule.action == PUBLIC or (method == "POST" and template.startswith("/ui")):
            continue  # page forms carry a CSRF token; tests/browser drives them
        is_child_route = "{child_id}" in template
        places = [("inside", True), ("outside", False)] if is_child_route else [("-", True)]
        for role in ROLES:
            for place_name, inside in places:
                child = world["inside"] if inside else world["outside"]
                place = INSIDE if inside else OUTSIDE
                path = (template.replace("{child_id}", child)
                        .replace("{helper_id}", world["helper"])
                        .replace("{username}", "u.nobody")
                        .replace("{school_year}", "2025")
                        .replace("{grant_id}", child).replace("{incident_id}", child))
                body = bodies.get(template, {})
                if isinstance(body, dict):
                    body = {k: (v.format(**place) if isinstance(v, str) else v)
                            for k, v in body.items()}
                if method == "POST" and is_child_route and template not in bodies:
                    continue  # a write without a sample body cannot show 403 vs 2xx
                outcome = _expected(rule, role, method, is_child_route, inside)
                status = _call(world["users"][role], method, path, body,
                               world["position"]).status_code
                checked += 1
                if not _check(outcome, status, is_child_route):
                    failures.append(f"{role:20} {method} {template} [{place_name}]: "
                                    f"expected {outcome}, got {status}")
    print(f"access matrix: {checked} calls checked, {len(failures)} wrong")
    assert not failures, "\n".join(failures)
