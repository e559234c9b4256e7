"""The Children and Helpers paths of README's API table over HTTP, on SQLite and on PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, child_body, register

NOW = datetime.now(UTC)
WHEN_OK = (NOW - timedelta(days=1)).isoformat()


def visit(**over: Any) -> dict[str, Any]:
    body = {"occurred_at": (NOW - timedelta(hours=1)).isoformat(), "kind": "home",
            "findings": "奶奶身体不好，孩子学习认真", "needs_followup": True,
            "contacts_confirmed": ["13800001111"]}
    body.update(over)
    return body


def helper_body(**over: Any) -> dict[str, Any]:
    body = {"name": "刘妈妈", "agency": "womens_federation", "role": "volunteer",
            "phone": "13912345678", "township": "白沙关镇", "village": "白沙关村"}
    body.update(over)
    return body


def test_register_and_read_the_file_with_chinese_text(api: Api) -> None:
    created = register(api)
    assert created["position"] >= 1
    file = api.get(f"/children/{created['id']}", min_position=created["position"]).json()
    assert file["profile"]["name"] == "张小明"
    assert file["profile"]["guardian"]["address"] == "白沙关村三组"
    assert file["timeline"][0]["type"] == "Registered"
    entry = file["timeline"][0]
    assert entry["actor"] == "admin" and entry["agency"] == "township"
    assert entry["occurred_at"] and entry["recorded_at"]
    assert file["completeness"]["ratio"] < 1 and "paired_helper" in file["completeness"]["missing"]


def test_every_command_is_recorded_on_the_timeline_newest_first(api: Api) -> None:
    child = register(api)
    helper = api.post("/helpers", helper_body()).json()
    cid, past = child["id"], (NOW - timedelta(days=1)).isoformat()
    commands = [
        ("guardian", {"name": "张爷爷", "relation": "祖父", "phone": "13800003333"}),
        ("parents", {"parents": [{"name": "李芳", "relation": "母亲", "phone": "13700004444",
                                  "work_city": "深圳"}]}),
        ("enrollment", {"school": "白沙关中学", "grade": "初一", "class_name": "初一(3)班"}),
        ("pairings", {"helper_id": helper["id"], "since": "2025-09-01"}),
        ("visits", visit()),
        ("counselling-sessions", {"occurred_at": past, "topic": "想念父母", "risk_level": "high",
                                  "notes": "孩子夜里常哭"}),
        ("parent-feedback", {"occurred_at": past, "channel": "wechat", "summary": "本月表现良好"}),
        ("exam-results", {"school_year": 2025, "semester": 1, "total_score": 512.5,
                          "class_rank": 12, "class_size": 45}),
        ("conduct-violations", {"occurred_at": past, "severity": "minor", "description": "迟到"}),
        ("honours", {"school_year": 2025, "title": "merit_student"}),
        (f"pairings/{helper['id']}/end", {"until": "2026-01-10", "reason": "志愿者调动"}),
        ("status", {"status": "no_longer_left_behind", "reason": "父母返乡"}),
    ]
    last = 0
    for path, body in commands:
        response = api.post(f"/children/{cid}/{path}", body)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["position"] > last
        last = response.json()["position"]
    file = api.get(f"/children/{cid}", min_position=last).json()
    types = [e["type"] for e in file["timeline"]]
    assert types == ["StatusChanged", "HelperUnpaired", "HonourAwarded",
                     "ConductViolationRecorded", "ExamResultRecorded", "ParentFeedbackGiven",
                     "CounsellingRecorded", "VisitRecorded", "HelperPaired", "EnrollmentChanged",
                     "ParentsReplaced", "GuardianReplaced", "Registered"]
    profile = file["profile"]
    assert profile["guardian"]["name"] == "张爷爷" and profile["class_name"] == "初一(3)班"
    assert profile["status"] == "no_longer_left_behind" and profile["pairings"] == {}
    exam = next(e for e in file["timeline"] if e["type"] == "ExamResultRecorded")
    assert exam["data"]["class_name"] == "初一(3)班"


@pytest.mark.parametrize("path,body,field", [
    ("visits", visit(kind="walk"), "kind"),
    ("visits", {k: v for k, v in visit().items() if k != "findings"}, "findings"),
    ("visits", visit(occurred_at="2026-02-30T10:00:00+08:00"), "occurred_at"),
    ("visits", visit(occurred_at=(NOW + timedelta(days=2)).isoformat()), "occurred_at"),
    ("visits", visit(occurred_at="2010-01-01T10:00:00+08:00"), "occurred_at"),
    ("visits", visit(occurred_at="2026-01-01T10:00:00"), "occurred_at"),
    ("visits", visit(findings="字" * 4001), "findings"),
    ("visits", visit(contacts_confirmed=["12345"]), "contacts_confirmed.0"),
    ("exam-results", {"school_year": 2025, "semester": 3, "total_score": 1, "class_rank": 1,
                      "class_size": 40}, "semester"),
    ("exam-results", {"school_year": 2025, "semester": 1, "total_score": 1, "class_rank": 41,
                      "class_size": 40}, "class_rank"),
    ("guardian", {"name": "张爷爷", "relation": "祖父", "phone": "not-a-phone"}, "phone"),
    ("status", {"status": "gone", "reason": "x"}, "status"),
    ("visits", visit(unexpected="x"), "unexpected"),
    ("parents", {"parents": [{"name": "李芳", "relation": "母亲", "phone": "123"}]},
     "parents.0.phone"),
    ("enrollment", {"school": "白沙关小学", "grade": "六年级"}, "class_name"),
    ("pairings", {"helper_id": "not-a-uuid", "since": "2025-09-01"}, "helper_id"),
    ("counselling-sessions", {"occurred_at": WHEN_OK, "topic": "x", "risk_level": "extreme"},
     "risk_level"),
    ("parent-feedback", {"occurred_at": WHEN_OK, "channel": "pigeon", "summary": "x"}, "channel"),
    ("honours", {"school_year": 1999, "title": "merit_student"}, "school_year"),
    ("conduct-violations", {"occurred_at": WHEN_OK, "severity": "grave", "description": "x"},
     "severity"),
])
def test_bad_input_is_a_422_naming_the_field(api: Api, path: str, body: dict[str, Any],
                                             field: str) -> None:
    child = register(api)
    response = api.post(f"/children/{child['id']}/{path}", body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


@pytest.mark.parametrize("over,field", [
    ({"birth_date": "2014-02-30"}, "birth_date"), ({"sex": "x"}, "sex"),
    ({"name": ""}, "name"), ({"name": "张" * 51}, "name"),
    ({"id_number": "12345"}, "id_number"), ({"birth_date": "2099-01-01"}, "birth_date"),
])
def test_bad_registration_is_a_422_and_records_nothing(api: Api, over: dict[str, Any],
                                                       field: str) -> None:
    response = api.post("/children", child_body(**over))
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    head = api.client.get("/readyz").json()["position"]  # the store's last event
    assert api.get("/children", min_position=head).json()["items"] == []


@pytest.mark.parametrize("over,field", [({"role": "janitor"}, "role"),
                                        ({"agency": "police"}, "agency"),
                                        ({"phone": "110"}, "phone"), ({"name": ""}, "name")])
def test_bad_helper_is_a_422_naming_the_field(api: Api, over: dict[str, Any], field: str) -> None:
    response = api.post("/helpers", helper_body(**over))
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


def test_without_a_token_is_401_and_unknown_ids_are_404(api: Api) -> None:
    assert api.client.get("/children").status_code == 401
    assert api.client.post("/children", json=child_body()).status_code == 401
    bad = {"Authorization": "Bearer not.a.token"}
    assert api.client.get("/children", headers=bad).status_code == 401
    unknown = "00000000-0000-4000-8000-000000000000"
    assert api.get(f"/children/{unknown}").status_code == 404
    assert api.post(f"/children/{unknown}/visits", visit()).status_code == 404
    assert api.get(f"/helpers/{unknown}").status_code == 404
    assert api.get("/children/not-a-uuid").status_code == 422


def test_idempotent_replay_answers_the_same_and_records_once(api: Api) -> None:
    child = register(api)
    first = api.post(f"/children/{child['id']}/visits", visit(), **{"Idempotency-Key": "k-1"})
    again = api.post(f"/children/{child['id']}/visits", visit(), **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = api.post(f"/children/{child['id']}/visits", visit(findings="另一次"),
                     **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    file = api.get(f"/children/{child['id']}", min_position=first.json()["position"]).json()
    assert [e["type"] for e in file["timeline"]].count("VisitRecorded") == 1


def test_idempotent_registration_creates_one_child(api: Api) -> None:
    first = api.post("/children", child_body(), **{"Idempotency-Key": "reg-1"})
    again = api.post("/children", child_body(), **{"Idempotency-Key": "reg-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    items = api.get("/children", min_position=first.json()["position"]).json()["items"]
    assert len(items) == 1


def test_registry_filters_and_pages(api: Api) -> None:
    register(api, name="张小明", class_name="六(1)班")
    register(api, name="张晓明", class_name="六(2)班", village="石门村")
    last = register(api, name="章小敏", class_name="六(2)班")
    everyone = api.get("/children", min_position=last["position"]).json()["items"]
    assert len(everyone) == 3
    names = [i["name"] for i in api.get("/children", class_name="六(2)班").json()["items"]]
    assert sorted(names) == ["张晓明", "章小敏"]
    assert [i["name"] for i in api.get("/children", village="石门村").json()["items"]] == ["张晓明"]
    assert {i["name"] for i in api.get("/children", q="小").json()["items"]} == {"张小明", "章小敏"}
    assert [i["name"] for i in api.get("/children", q="zxm").json()["items"]] == ["张小明",
                                                                                   "张晓明",
                                                                                   "章小敏"]
    page = api.get("/children", limit=2).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api.get("/children", limit=2, cursor=page["next_cursor"]).json()
    assert [i["name"] for i in rest["items"]] == ["章小敏"] and rest["next_cursor"] is None
    assert api.get("/children", limit=501).status_code == 422


def test_as_of_shows_the_file_as_it_was_known(api: Api) -> None:
    child = register(api)
    replaced = api.post(f"/children/{child['id']}/guardian",
                        {"name": "张爷爷", "relation": "祖父", "phone": "13800003333"})
    file = api.get(f"/children/{child['id']}", min_position=replaced.json()["position"]).json()
    registered_at = file["timeline"][-1]["recorded_at"]
    then = api.get(f"/children/{child['id']}", as_of=registered_at).json()
    assert then["profile"]["guardian"]["name"] == "张奶奶"
    assert [e["type"] for e in then["timeline"]] == ["Registered"]
    now = api.get(f"/children/{child['id']}", as_of=datetime.now(UTC).isoformat()).json()
    assert now["profile"]["guardian"]["name"] == "张爷爷"
    before = api.get(f"/children/{child['id']}", as_of="2000-01-01T00:00:00+00:00")
    assert before.status_code == 404


def test_helper_shows_the_children_paired_with_them(api: Api) -> None:
    helper = api.post("/helpers", helper_body()).json()
    child = register(api)
    paired = api.post(f"/children/{child['id']}/pairings",
                      {"helper_id": helper["id"], "since": "2025-09-01"})
    again = api.post(f"/children/{child['id']}/pairings",
                     {"helper_id": helper["id"], "since": "2025-10-01"})
    assert again.status_code == 409
    shown = api.get(f"/helpers/{helper['id']}", min_position=paired.json()["position"]).json()
    assert shown["name"] == "刘妈妈"
    assert [(c["child_id"], c["name"]) for c in shown["children"]] == [(child["id"], "张小明")]
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = api.post(f"/children/{child['id']}/pairings",
                       {"helper_id": unknown, "since": "2025-09-01"})
    assert missing.status_code == 404


def test_closed_case_refuses_facts_but_not_a_status_change(api: Api) -> None:
    child = register(api)
    api.post(f"/children/{child['id']}/status", {"status": "closed", "reason": "转学"})
    refused = api.post(f"/children/{child['id']}/visits", visit())
    assert refused.status_code == 409
    reopened = api.post(f"/children/{child['id']}/status", {"status": "active", "reason": "回来"})
    assert reopened.status_code == 200


def test_roles_volunteer_cannot_register_and_sees_masked_data(api: Api) -> None:
    helper = api.post("/helpers", helper_body()).json()
    made = api.post("/users", {"username": "liu.mama", "password": "a-long-password",
                               "agency": "womens_federation", "role": "volunteer",
                               "helper_id": helper["id"]})
    assert made.status_code == 201, made.text
    volunteer = api.as_user("liu.mama", "a-long-password")
    assert volunteer.post("/children", child_body()).status_code == 403
    child = register(api)
    # A volunteer reaches only the children paired with them (services/jurisdiction.py).
    assert api.post(f"/children/{child['id']}/pairings",
                    {"helper_id": helper["id"], "since": "2026-01-01"}).status_code == 200
    counselled = api.post(f"/children/{child['id']}/counselling-sessions", {
        "occurred_at": NOW.isoformat(), "topic": "想家", "risk_level": "low", "notes": "秘密内容"})
    seen = volunteer.get(f"/children/{child['id']}",
                         min_position=counselled.json()["position"]).json()
    assert "CounsellingRecorded" in [e["type"] for e in seen["timeline"]]
    text = str(seen)
    assert "秘密内容" not in text and "522601201403051228" not in text
    assert seen["profile"]["id_number"] == "5226**********1228"
    assert "秘密内容" not in str(api.get(f"/children/{child['id']}").json())  # admin: no notes
    assert "522601201403051228" in str(api.get(f"/children/{child['id']}").json())
    api.post("/users", {"username": "chen.xinli", "password": "a-long-password",
                        "agency": "school", "role": "counsellor", "school": "白沙关小学"})
    counsellor = api.as_user("chen.xinli", "a-long-password")
    assert "秘密内容" in str(counsellor.get(f"/children/{child['id']}").json())


def test_disabled_user_tokens_stop_working(api: Api) -> None:
    api.post("/users", {"username": "teacher.li", "password": "a-long-password",
                        "agency": "school", "role": "class_teacher", "school": "白沙关小学",
                        "class_name": "六(2)班"})
    teacher = api.as_user("teacher.li", "a-long-password")
    assert teacher.get("/children").status_code == 200
    assert teacher.get("/users").status_code == 403  # administrators only
    disabled = api.post("/users/teacher.li/disable")
    assert disabled.status_code == 200
    listed = api.get("/users", min_position=disabled.json()["position"]).json()["items"]
    assert [(u["username"], u["disabled"]) for u in listed] == [("admin", False),
                                                                ("teacher.li", True)]
    assert "password" not in str(listed)
    import time
    time.sleep(1.1)
    assert teacher.get("/children").status_code == 401
    assert api.client.post("/auth/token", data={"username": "teacher.li",
                                                "password": "a-long-password"}).status_code == 401


def test_user_rules(api: Api) -> None:
    short = api.post("/users", {"username": "x.y", "password": "short", "agency": "school",
                                "role": "principal", "school": "白沙关小学"})
    assert short.status_code == 422
    teacher = api.post("/users", {"username": "t.one", "password": "a-long-password",
                                  "agency": "school", "role": "class_teacher"})
    assert teacher.status_code == 422 and teacher.json()["errors"][0]["field"] == "school"
    assert api.client.post("/auth/token", data={"username": "admin",
                                                "password": "wrong"}).status_code == 401


def test_a_remembered_token_still_expires(services: Any) -> None:
    """TokenService remembers a verified token (the signature is not checked on every
    request) only until the token's own expiry."""
    from datetime import timedelta

    from domain.actor import SYSTEM
    from services import commands as c
    from services.auth import AuthError, TokenService
    services.handlers.create_user(c.CreateUser(username="nurse.wu", password="a-long-password",
                                               agency="township", role="admin"), SYSTEM, None)
    tokens = TokenService(services.app, services.tokens.secret, timedelta(seconds=1),
                          services.tokens.sessions)
    token = tokens.login("nurse.wu", "a-long-password")
    assert tokens.actor(token).username == "nurse.wu"
    assert tokens.actor(token).username == "nurse.wu"  # the remembered path
    import time
    time.sleep(2.1)  # exp is in whole seconds
    with pytest.raises(AuthError):
        tokens.actor(token)
