"""Every route and page that answers a GET, for every reader role bound to a place, with one
child inside and one outside the reader's reach (issue 19, findings 4 and 5).

The routes are read from the app itself, so a new GET route is swept without a word here, or
fails test_every_read_route_is_swept when it takes a path parameter the sweep cannot fill.
For each answer (JSON, a page, or an .xlsx opened with openpyxl and read cell by cell):

(a) nothing about the outside child appears: its id (even the eight characters a page shows),
    name, family's names and phones, ID number, incident, grant, the helpers paired with it
    or teaching it, the conference actions about it only;
(b) an answer that shows a child's personal data (a name, a family name or phone, the ID
    number, an incident's place or description) wrote a record of that read, for that
    child, user and route, in the access log, as GET /children/{id} does;

and an auditor, who reads figures and not files, sees no child's personal data at all.
"""

import io
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.permissions import PERMISSIONS, PUBLIC, ROUTES
from tests.conftest import Api, child_body, register

PASSWORD = "sweep-pass-1"
INSIDE = {"township": "白沙关镇", "village": "白沙关村", "school": "白沙关小学",
          "class_name": "六(2)班"}
OUTSIDE = {"township": "龙场镇", "village": "龙场村", "school": "龙场小学",
           "class_name": "三(1)班"}
# Each role bound to a place with the fields its role needs (services/handlers
# JURISDICTION_NEEDS); the auditor bound to a township, as the example.
BOUND = {"township_supervisor": ("township",), "child_director": ("township", "village"),
         "grid_worker": ("township", "village"), "principal": ("school",),
         "class_teacher": ("school", "class_name"), "counsellor": ("school",),
         "auditor": ("township",)}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOW = datetime.now(timezone.utc) - timedelta(minutes=5)
# Due today in China: on the worklist (due by the month's end), not before the conference.
DUE = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
SCHOOL_YEAR = 2025

# What each child is called and who its family is: unique strings, to find in any answer.
# (Not the names of the import template's example row, which a page hands out to anyone.)
PEOPLE = {
    "inside": {"name": "陈思远", "guardian": ("陈奶奶", "13800001122"),
               "parent": ("陈建国", "13700002233"), "id_number": "522601201403051236",
               "location": "白沙关河边小路", "description": "放学路上摔伤了腿"},
    "outside": {"name": "陈思红", "guardian": ("韩爷爷", "13800008888"),
                "parent": ("韩大海", "13700009999"), "id_number": "522601201405067777",
                "location": "龙场水库大坝", "description": "深夜独自在水库边"},
}
HELPERS = {
    "inside": {"volunteer": ("刘妈妈", "13900003333"), "teacher": ("王老师", "13900004444"),
               "action": "给孩子家送棉被"},
    "outside": {"volunteer": ("赵远方", "13900005555"), "teacher": ("孙老师", "13900006666"),
                "action": "去水库边那家看看"},
}
# Path parameters the sweep knows how to fill; a new one fails the completeness test.
SIDED = {"child_id", "helper_id", "incident_id"}
FIXED = {"school_year": str(SCHOOL_YEAR)}
# Query parameters a route needs to answer with content (the lookup's search words, the
# audit's child); "{child_id}" takes the side's child.
QUERIES = {
    "/emergency/lookup": {"q": "陈思"},
    "/ui/emergency": {"q": "陈思"},
    "/audit/access": {"child_id": "{child_id}"},
    "/ui/assessments": {"year": str(SCHOOL_YEAR)},
}


def _person(side: str, place: dict[str, str]) -> dict[str, Any]:
    p = PEOPLE[side]
    return child_body(name=p["name"], id_number=p["id_number"], **place,
                      guardian={"name": p["guardian"][0], "relation": "祖父母",
                                "phone": p["guardian"][1], "age": 67, "health": "好",
                                "address": f"{place['village']}三组"},
                      parents=[{"name": p["parent"][0], "relation": "父亲",
                                "phone": p["parent"][1], "work_city": "广州"}])


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def _helper(api: Api, side: str, place: dict[str, str], kind: str) -> str:
    name, phone = HELPERS[side][kind]
    body = ({"agency": "womens_federation", "role": "volunteer", "township": place["township"]}
            if kind == "volunteer" else
            {"agency": "school", "role": "class_teacher", "school": place["school"],
             "class_name": place["class_name"]})
    return str(_ok(api.post("/helpers", {"name": name, "phone": phone, **body}))["id"])


def _side(api: Api, side: str, place: dict[str, str]) -> dict[str, Any]:
    """One child with its helpers, exams, an incident, a grant and a conference action."""
    child = _ok(api.post("/children", _person(side, place)))["id"]
    volunteer = _helper(api, side, place, "volunteer")
    teacher = _helper(api, side, place, "teacher")
    _ok(api.post(f"/children/{child}/pairings", {"helper_id": volunteer, "since": "2026-01-01"}))
    for semester, rank in ((1, 9), (2, 1)):
        _ok(api.post(f"/children/{child}/exam-results", {
            "school_year": SCHOOL_YEAR, "semester": semester, "total_score": 250,
            "class_rank": rank, "class_size": 40}))
    incident = _ok(api.post("/incidents", {
        "child_id": child, "category": "injury", "severity": "high",
        "occurred_at": NOW.isoformat(), "location": PEOPLE[side]["location"],
        "description": PEOPLE[side]["description"]}))["id"]
    grant = _ok(api.post("/grants", {"child_id": child, "programme": "XZ", "amount_fen": 90000,
                                     "period": "2026-09", "kind": "cash"}))["id"]
    conference = _ok(api.post("/case-conferences", {
        "held_at": NOW.isoformat(), "child_ids": [child], "attendees": [{"helper_id": volunteer}],
        "decisions": ["每周走访一次"],
        "actions": [{"description": HELPERS[side]["action"], "agency": "womens_federation",
                     "helper_id": volunteer, "due": DUE}]}))
    return {"child_id": child, "helper_id": volunteer, "teacher_id": teacher,
            "incident_id": incident, "grant_id": grant, "action_ids": conference["action_ids"],
            "position": conference["position"]}


@pytest.fixture
def sweep_world(api: Api) -> dict[str, Any]:
    _ok(api.post("/programmes", {"code": "XZ", "name": "助学金", "funding_agency": "township",
                                 "cap_fen": 100000, "period_kind": "monthly"}))
    inside, outside = _side(api, "inside", INSIDE), _side(api, "outside", OUTSIDE)
    # One conference about both children, with an action about the outside child only,
    # assigned to the inside child's volunteer: the inside reader sees the conference, never
    # the outside child's id or that action.
    joint = _ok(api.post("/case-conferences", {
        "held_at": NOW.isoformat(), "child_ids": [inside["child_id"], outside["child_id"]],
        "attendees": [{"helper_id": inside["helper_id"]}, {"helper_id": outside["helper_id"]}],
        "decisions": ["两校联合家访"],
        "actions": [{"description": "只为外校孩子办的事", "agency": "school",
                     "helper_id": inside["helper_id"], "child_id": outside["child_id"],
                     "due": DUE}]}))
    users = {}
    for role, fields in BOUND.items():
        users[role] = _user(api, f"s.{role}", role, {f: INSIDE[f] for f in fields})
    users["volunteer"] = _user(api, "s.volunteer", "volunteer",
                               {"helper_id": inside["helper_id"]})
    users["county_auditor"] = _user(api, "s.county_auditor", "auditor", {})
    users["admin"] = api
    return {"inside": inside, "outside": outside, "users": users, "position": joint["position"],
            "joint_action": joint["action_ids"][0]}


def _user(api: Api, username: str, role: str, jurisdiction: dict[str, str]) -> Api:
    _ok(api.post("/users", {"username": username, "password": PASSWORD, "agency": "township",
                            "role": role, **jurisdiction}))
    return api.as_user(username, PASSWORD)


# --- what an answer says ------------------------------------------------------------------


# What a reader in reach must still find (the cut must not empty the answer): the inside
# child's name, for those who read files; the inside grant, for every auditor of grants.
MUST_SHOW = {
    "/children": "name", "/children/{child_id}": "name", "/ui/children": "name",
    "/ui/children/export.xlsx": "name", "/ui/children/{child_id}": "name",
    "/helpers/{helper_id}": "name", "/helpers/{helper_id}/worklist": "name",
    "/dashboards/compliance": "name", "/dashboards/compliance.xlsx": "name",
    "/ui/dashboards/compliance": "name", "/assessments/{school_year}/export.xlsx": "name",
    "/ui/assessments": "name", "/emergency/lookup": "name", "/ui/emergency": "name",
    "/ui/incidents/{incident_id}": "name", "/reviews/children/{child_id}": "name",
    "/audit/grants/export.xlsx": "grant_id", "/assessments/{school_year}": "child_id",
}


def must_show(world: dict[str, Any], role: str, template: str) -> str | None:
    """The inside marker this role must find in the route's answer, if any."""
    rule, kind = ROUTES.get(("GET", template)), MUST_SHOW.get(template)
    actual = "auditor" if role == "county_auditor" else role
    if rule is None or kind is None or actual not in PERMISSIONS[rule.action]:
        return None
    if kind == "name":
        return PEOPLE["inside"]["name"] if actual in PERMISSIONS["child.read"] else None
    return str(world["inside"][kind])


def personal(side: str) -> list[str]:
    """The child's personal data as it may appear in an answer."""
    p = PEOPLE[side]
    return [p["name"], *p["guardian"], *p["parent"], p["id_number"], p["location"],
            p["description"]]


def about(world: dict[str, Any], side: str) -> list[str]:
    """Everything that names the child or what concerns it alone."""
    ids = world[side]
    h = HELPERS[side]
    found = [*personal(side), ids["child_id"], ids["child_id"][:8], ids["helper_id"],
             ids["teacher_id"], ids["incident_id"], ids["grant_id"], *ids["action_ids"],
             *h["volunteer"], *h["teacher"], h["action"]]
    if side == "outside":
        found += [world["joint_action"], "只为外校孩子办的事"]
    return found


def text_of(response: Any) -> str:
    """The answer as text: an .xlsx cell by cell, anything else as sent."""
    if response.headers.get("content-type", "").startswith(XLSX):
        book = load_workbook(io.BytesIO(response.content), read_only=True)
        return "\n".join(str(cell) for sheet in book.worksheets
                         for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return str(response.text)


# --- the routes -----------------------------------------------------------------------------


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, those of included routers too (FastAPI
    includes them lazily: app.routes alone holds only their wrappers)."""
    return {(method, r.path) for r in iter_route_contexts(app.routes)
            if isinstance(r.original_route, APIRoute) for method in r.methods or ()}


def read_routes(app: Any) -> list[str]:
    """Every GET route and page that needs a sign-in."""
    found = []
    for method, path in app_routes(app):
        rule = ROUTES.get((method, path))
        if method == "GET" and (rule is None or rule.action != PUBLIC):
            found.append(path)
    return sorted(found)


def params_of(template: str) -> set[str]:
    return {part[1:-1] for part in template.split("/") if part.startswith("{")}


def test_every_read_route_is_swept(client: Any) -> None:
    assert len(read_routes(client.app)) >= 30  # the app's routes were found at all
    unknown = {t: params_of(t) - SIDED - set(FIXED) for t in read_routes(client.app)}
    assert not {t: p for t, p in unknown.items() if p}, (
        "GET routes whose path parameters the sweep cannot fill; add a sample: "
        f"{ {t: p for t, p in unknown.items() if p} }")


def calls(world: dict[str, Any], template: str) -> list[tuple[str, str, dict[str, str]]]:
    """(side, path, query) for the route: with the inside and with the outside ids when it
    takes a child, helper or incident (in its path or its query), else once."""
    query = QUERIES.get(template, {})
    sided = params_of(template) & SIDED or any("{" in v for v in query.values())
    found = []
    for side in (("inside", "outside") if sided else ("-",)):
        ids = world["inside" if side == "-" else side]
        path = template
        for name in params_of(template):
            path = path.replace("{" + name + "}", FIXED.get(name) or ids[name])
        found.append((side, path, {k: v.format(**ids) for k, v in query.items()}))
    return found


def get(user: Api, path: str, query: dict[str, str], position: int) -> Any:
    params = {**query, "min_position": str(position)}
    if path.startswith("/ui"):  # pages read the same token from their session cookie
        token = user.headers["Authorization"].removeprefix("Bearer ")
        return user.client.get(path, params=params, cookies={"qianshou_session": token},
                               follow_redirects=False)
    return user.get(path, **params)


def reads_logged(services: Any, child_id: str, username: str, what: str) -> int:
    services.access.flush()
    with services.db.reading() as cur:
        row = cur.execute(f"SELECT COUNT(*) AS n FROM {services.access.table} WHERE "
                          "child_id=? AND username=? AND what=?",
                          (child_id, username, what)).fetchone()
    return int(row["n"])


def sweep(world: dict[str, Any], services: Any, role: str, app: Any) -> list[str]:
    """Every read route as this role: what (a) and (b) find wrong."""
    user, wrong = world["users"], []
    username = "admin" if role == "admin" else f"s.{role}"
    for template in read_routes(app):
        for side, path, query in calls(world, template):
            before = {s: reads_logged(services, world[s]["child_id"], username,
                                      f"GET {template}") for s in ("inside", "outside")}
            response = get(user[role], path, query, world["position"])
            where = f"{role} GET {path} [{side}] {response.status_code}"
            if response.status_code >= 500:
                wrong.append(f"{where}: server error")
                continue
            # A page links to its own address (the language switch): what the reader sent.
            text = text_of(response).replace(path, "")
            expected = must_show(world, role, template)
            if side != "outside" and expected and expected not in text:
                wrong.append(f"{where}: the inside child's {expected} is missing")
            if role not in ("admin", "county_auditor"):
                leaked = [m for m in about(world, "outside") if m in text]
                if leaked:
                    wrong.append(f"{where}: shows the outside child: {leaked}")
            for s in ("inside", "outside"):
                shown = [m for m in personal(s) if m in text]
                if shown and role.endswith("auditor"):
                    wrong.append(f"{where}: an auditor reads {s} personal data {shown}")
                if shown and reads_logged(services, world[s]["child_id"], username,
                                          f"GET {template}") <= before[s]:
                    wrong.append(f"{where}: shows {s} personal data {shown} without an "
                                 "access-log record")
    return wrong


@pytest.mark.parametrize("role", [*BOUND, "volunteer", "county_auditor", "admin"])
def test_no_answer_reaches_beyond_the_reader_and_every_personal_read_is_logged(
        sweep_world: dict[str, Any], client: Any, role: str) -> None:
    wrong = sweep(sweep_world, client.app.state.services, role, client.app)
    assert not wrong, "\n".join(wrong)


# --- the forms: a refused form shows its page again -----------------------------------------

# Forms that are not about one child's page: sign-in and out, the import (the reader's own
# sheet), and break-glass, which shows children outside reach on purpose (flagged reads,
# tests/access/test_jurisdiction.py).
NOT_A_CHILDS_FORM = {"/ui/login", "/ui/logout", "/ui/import", "/ui/emergency/break-glass"}


def form_routes(app: Any) -> list[str]:
    return sorted(path for method, path in app_routes(app)
                  if method == "POST" and path.startswith("/ui") and path not in NOT_A_CHILDS_FORM)


def csrf_of(user: Api) -> tuple[str, str]:
    """The session token and the CSRF value a page hands its forms."""
    token = user.headers["Authorization"].removeprefix("Bearer ")
    page = user.client.get("/ui/emergency", cookies={"qianshou_session": token})
    marker = 'name="csrf" value="'
    assert marker in page.text, page.text[:300]
    return token, page.text.split(marker, 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("role", [*BOUND, "volunteer"])
def test_a_refused_form_shows_nothing_beyond_reach_and_logs_what_it_shows(
        sweep_world: dict[str, Any], client: Any, role: str) -> None:
    """An empty form is refused (422) and its page shown again, with the file or the
    incident it belongs to: for a child outside reach that page must not come back, and a
    page that does come back is a read like any other."""
    user, services, wrong = sweep_world["users"][role], client.app.state.services, []
    token, csrf = csrf_of(user)
    routes = form_routes(client.app)
    assert len(routes) >= 5, routes
    for template in routes:
        for side, path, _ in calls(sweep_world, template):
            before = reads_logged(services, sweep_world["inside"]["child_id"], f"s.{role}",
                                  f"POST {template}")
            response = user.client.post(path, data={"csrf": csrf},
                                        cookies={"qianshou_session": token},
                                        follow_redirects=False)
            where = f"{role} POST {path} [{side}] {response.status_code}"
            text = text_of(response).replace(path, "")
            leaked = [m for m in about(sweep_world, "outside") if m in text]
            if response.status_code >= 500 or leaked:
                wrong.append(f"{where}: {leaked or 'server error'}")
            shown = [m for m in personal("inside") if m in text]
            if shown and reads_logged(services, sweep_world["inside"]["child_id"],
                                      f"s.{role}", f"POST {template}") <= before:
                wrong.append(f"{where}: shows {shown} without an access-log record")
    assert not wrong, "\n".join(wrong)
